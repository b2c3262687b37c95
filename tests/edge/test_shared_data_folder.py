"""One data folder, several processes at once (issue 17): `run`, capturing camera loops, `enqueue` and `status`.

Real processes throughout: a writer paused in the middle of storing a frame while another process opens the
folder, a writer SIGKILLed mid-write, and a crowd of capturing processes beside a `status` loop and a
consumer marking events sent, on a fresh folder with a spool small enough to prune all the time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from edge.capture import capture
from edge.device import DeviceState
from edge.outbox import Outbox
from edge.spool import Spool, SpoolFull
from edge.tempfolder import TempFolder
from tests.edge.fakes import event

ROOT = Path(__file__).resolve().parents[2]

# Stores one frame, pausing after its bytes are written to the temporary file and before they are fsynced and
# renamed into place: says "writing", waits for a line on stdin, then finishes and prints the sha256.
PAUSED_WRITER = """
import os, sys
from edge.spool import Spool
real_fsync, paused = os.fsync, []
def fsync(fd):
    if not paused:
        paused.append(True)
        print("writing", flush=True)
        sys.stdin.readline()
    real_fsync(fd)
os.fsync = fsync
spool = Spool(sys.argv[1], budget_bytes=10**6, needed=set)
print(spool.put(b"\\xff\\xd8\\xff" + b"a frame still being written" * 100), flush=True)
"""


def start_paused_writer(spool_dir: Path) -> subprocess.Popen[str]:
    writer = subprocess.Popen([sys.executable, "-c", PAUSED_WRITER, str(spool_dir)], cwd=ROOT,  # noqa: S603
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    line = writer.stdout.readline()  # returns "" at once if the writer dies before pausing
    assert line == "writing\n", (line, writer.stderr.read() if writer.stderr else "")
    return writer


def files_of(pid: int, folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f"{pid}."))


def loupe_edge_status(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", "status", "--data-dir", str(data_dir)],  # noqa: S603
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_a_frame_being_written_survives_another_process_opening_the_folder(tmp_path):
    data_dir = tmp_path / "device"
    writer = start_paused_writer(data_dir / "spool")
    temps = data_dir / "spool" / ".tmp"
    mid_write = files_of(writer.pid, temps)
    assert len(mid_write) == 2 and f"{writer.pid}.lock" in mid_write  # its lock and its half-stored frame

    status = loupe_edge_status(data_dir)  # opens the same spool (and sweeps it) while the writer is paused
    assert status.returncode == 0, status.stderr
    assert files_of(writer.pid, temps) == mid_write

    out, err = writer.communicate("\n", timeout=60)
    assert writer.returncode == 0, err  # the rename into place found its file: the capture succeeded
    sha = out.split()[-1]
    assert (data_dir / "spool" / sha).read_bytes() == b"\xff\xd8\xff" + b"a frame still being written" * 100


def test_a_killed_writers_temporary_files_are_removed_by_the_next_opener(tmp_path):
    data_dir = tmp_path / "device"
    writer = start_paused_writer(data_dir / "spool")
    temps = data_dir / "spool" / ".tmp"
    assert len(files_of(writer.pid, temps)) == 2
    os.kill(writer.pid, signal.SIGKILL)  # a power cut in the middle of the write
    writer.communicate(timeout=60)

    status = loupe_edge_status(data_dir)
    assert status.returncode == 0, status.stderr
    assert files_of(writer.pid, temps) == []  # its half-written frame and its stale lock file are gone
    assert [p for p in (data_dir / "spool").iterdir() if len(p.name) == 64] == []  # nothing under a hash name


def test_a_live_pid_is_no_proof_only_a_held_lock_is(tmp_path):
    """pids are reused: files named after a running process whose lock nobody holds were left by a dead one."""
    spool_dir = tmp_path / "spool"
    temps = spool_dir / ".tmp"
    temps.mkdir(parents=True)
    (temps / "1.7.deadbeef").write_bytes(b"half")  # pid 1 is alive (init), but holds no lock here
    (temps / "1.lock").touch()
    Spool(spool_dir, budget_bytes=1000, needed=set)
    assert files_of(1, temps) == []


def test_one_process_may_open_its_folder_many_times_and_keeps_its_own_files(tmp_path):
    first = TempFolder(tmp_path)
    mine = first.path("frame")
    mine.write_bytes(b"half")
    assert TempFolder(tmp_path).sweep() == 0 and mine.exists()  # a second open in this process: same lock


def test_a_writer_whose_folder_was_emptied_under_it_locks_again_before_its_next_file(tmp_path):
    temps = TempFolder(tmp_path / "tmp")
    for leftover in (tmp_path / "tmp").iterdir():
        leftover.unlink()  # someone cleaned the folder by hand, our lock file included
    temps.path("frame").write_bytes(b"half")
    assert (tmp_path / "tmp" / f"{os.getpid()}.lock").is_file()


# A camera loop's capture (edge.capture.capture), paused between storing the frame and queueing its event.
PAUSED_CAPTURE = """
import sys
from edge.device import DeviceState
state = DeviceState.open(sys.argv[1], budget_bytes=1500)
with state.spool.lock:
    sha = state.spool.put(b"\\xff\\xd8\\xff" + bytes(997))
    print("stored", flush=True)
    sys.stdin.readline()
    state.outbox.enqueue({"id": "cam-1", "type": "prediction", "captured_at": "2026-12-01T10:00:00Z",
                          "camera": "door-1", "detections": [], "asset": sha})
print(sha, flush=True)
"""


def blocked_on_a_lock(pid: int) -> bool:
    """The kernel lists a process waiting for a file lock with `->` in /proc/locks."""
    return any(line.split()[1] == "->" and str(pid) in line.split()
               for line in Path("/proc/locks").read_text().splitlines())


def test_no_process_prunes_a_frame_another_has_stored_for_the_event_it_is_queueing(tmp_path):
    data_dir = tmp_path / "device"
    camera = subprocess.Popen([sys.executable, "-c", PAUSED_CAPTURE, str(data_dir)], cwd=ROOT,  # noqa: S603
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert camera.stdout is not None and camera.stdout.readline() == "stored\n", camera.stderr
    # The spool is full with that frame, which no event needs yet: a second capture must prune it, or wait.
    event_file, media_file = tmp_path / "event.json", tmp_path / "frame.jpg"
    event_file.write_text(json.dumps({"id": "cli-1", "type": "prediction", "captured_at": "2026-12-01T10:00:00Z",
                                      "camera": "door-1", "detections": []}))
    media_file.write_bytes(b"\xff\xd8\xff" + bytes(996) + b"x")
    other = subprocess.Popen([sys.executable, "-m", "edge.cli", "enqueue", "--data-dir", str(data_dir),  # noqa: S603
                              "--budget-mb", str(1500 / 1024**2), "--event", str(event_file),
                              "--media", str(media_file)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 60
    while not blocked_on_a_lock(other.pid):  # bounded poll: it must come to wait for the camera's capture
        assert other.poll() is None, ("the enqueue did not wait", other.communicate())
        assert time.monotonic() < deadline, "the enqueue never waited for the spool's lock"
        time.sleep(0.01)
    out, err = camera.communicate("\n", timeout=60)
    assert camera.returncode == 0, err
    sha = out.split()[-1]
    _, refused = other.communicate(timeout=60)
    assert other.returncode == 1 and "spool is full" in refused  # the frame is needed now: refused, loudly
    assert (data_dir / "spool" / sha).is_file()
    with Outbox(data_dir / "outbox.sqlite3") as outbox:
        assert outbox.pending_assets() == {sha} and outbox.counter("media_refused") == 1


# --- a crowd of processes on one fresh folder ----------------------------------------------------------

WRITERS, CAPTURES, STATUS_LOOPS = 5, 30, 40
BUDGET = 40 * 2003  # room for 40 of the 60 distinct frames below: the spool prunes all the time


def frame(k: int) -> bytes:
    return b"\xff\xd8\xff" + k.to_bytes(4, "big") * 500


def _capturing(data_dir: str, writer: int, start, results) -> None:
    """A camera loop: stores frames (some shared with other writers) and queues their events."""
    try:
        start.wait()
        state = DeviceState.open(data_dir, budget_bytes=BUDGET)
        queued, refused = [], 0
        for i in range(CAPTURES):
            try:
                if capture(outbox=state.outbox, spool=state.spool, event=event(f"w{writer}-{i}"),
                           media=frame((writer * 7 + i) % 60)):
                    queued.append(f"ev-w{writer}-{i}")
            except SpoolFull:
                refused += 1
        state.close()
        results.put(("captured", queued, refused))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0))


def _status(data_dir: str, start, results) -> None:
    """`loupe-edge status` over and over: each opening sweeps the spool's temporary files."""
    try:
        start.wait()
        for _ in range(STATUS_LOOPS):
            state = DeviceState.open(data_dir, budget_bytes=BUDGET)
            state.outbox.counts()
            state.close()
        results.put(("status", [], 0))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0))


def _consuming(data_dir: str, start, done, results) -> None:
    """What `run` does to the outbox: take due events and mark them sent, so their media may be pruned."""
    try:
        start.wait()
        outbox = Outbox(Path(data_dir) / "outbox.sqlite3")
        spool_dir = Path(data_dir) / "spool"
        sent: list[str] = []
        lost = 0  # pending events whose media is not in the spool (pruned between a store and its enqueue)
        while True:
            finished = done.is_set()  # read before the last pass, so nothing queued before it is missed
            batch = outbox.due(20)
            lost += sum(1 for e in batch if e.asset and not (spool_dir / e.asset).is_file())
            outbox.mark_sent([e.id for e in batch])
            sent += [e.id for e in batch]
            if finished and not batch:
                break
        outbox.close()
        results.put(("consumed", sent, lost))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0))


def test_many_processes_at_once_lose_nothing_duplicate_nothing_and_never_hit_a_locked_database(tmp_path):
    data_dir = str(tmp_path / "device")  # fresh: every process also races to create the outbox and spool
    ctx = multiprocessing.get_context("spawn")  # the children import only the edge package
    start, done = ctx.Barrier(WRITERS + 2), ctx.Event()
    captured, others_said = ctx.Queue(), ctx.Queue()
    writers = [ctx.Process(target=_capturing, args=(data_dir, w, start, captured)) for w in range(WRITERS)]
    others = [ctx.Process(target=_status, args=(data_dir, start, others_said)),
              ctx.Process(target=_consuming, args=(data_dir, start, done, others_said))]
    for process in writers + others:
        process.start()
    outcomes = [captured.get(timeout=180) for _ in writers]
    done.set()  # every capture is committed: the consumer's next empty pass is its last
    outcomes += [others_said.get(timeout=60) for _ in others]
    for process in writers + others:
        process.join(timeout=60)
    assert [o[1] for o in outcomes if o[0] == "error"] == []
    assert all(p.exitcode == 0 for p in writers + others)

    queued = [i for kind, ids, _ in outcomes if kind == "captured" for i in ids]
    refused = sum(n for kind, _, n in outcomes if kind == "captured")
    ((consumed, lost),) = [(ids, n) for kind, ids, n in outcomes if kind == "consumed"]
    assert lost == 0  # no process pruned media another had stored for the event it was queueing
    assert len(queued) + refused == WRITERS * CAPTURES  # every capture either queued or refused, loudly
    assert len(set(queued)) == len(queued) and sorted(consumed) == sorted(queued)  # none lost, none twice
    with Outbox(Path(data_dir) / "outbox.sqlite3") as outbox:
        assert outbox.counts() == {"pending": 0, "sent": len(queued), "rejected": 0}
        assert outbox.counter("media_refused") == refused
    temps = Path(data_dir) / "spool" / ".tmp"
    assert [p.name for p in temps.iterdir() if not p.name.endswith(".lock")] == []  # every write committed
