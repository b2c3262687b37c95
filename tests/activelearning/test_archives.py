"""The archive writers: zip and tar files that the standard readers (Python's, Info-ZIP's unzip, GNU tar)
accept, byte-identical on every run, and in memory that does not grow with the number of members."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from activelearning.datasets import archives

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def tool(name: str) -> str:
    """A reader other than Python's; CI installs it (.ci/run), so a missing one fails rather than skips."""
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed"
    return path


def write(kind: str, path: Path, *, labels: int) -> None:
    with path.open("wb") as out:
        archive = archives.ArchiveWriter(kind, out, spool_dir=path.parent)
        for i in range(labels):
            archive.add_bytes(f"labels/train/{i:06d}.txt", f"0 0.5 0.5 0.1 0.{i}\n".encode())
        archive.add_file("images/train/a.jpg", io.BytesIO(JPEG), len(JPEG))
        with archive.open_member("annotations/instances_train.json") as member:
            for i in range(2000):
                member.write(b'{"id": %d, "category_id": 1}\n' % i)
        archive.add_bytes("names/caf\u00e9.txt", b"person\n")
        archive.close()
        assert archive.members == labels + 3


def check_zip(path: Path, *, labels: int) -> None:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every CRC checks
        names = archive.namelist()
        assert len(names) == labels + 3
        assert archive.read("labels/train/000007.txt") == b"0 0.5 0.5 0.1 0.7\n"
        assert archive.read("images/train/a.jpg") == JPEG
        assert archive.getinfo("images/train/a.jpg").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("labels/train/000007.txt").compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("annotations/instances_train.json").count(b"\n") == 2000
        assert archive.read("names/caf\u00e9.txt") == b"person\n"
        info = archive.getinfo("labels/train/000007.txt")
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
    tested = subprocess.run([tool("unzip"), "-tq", str(path)], capture_output=True, text=True, check=False)  # noqa: S603
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout


def test_a_zip_of_more_than_65535_members_uses_zip64_end_records_and_reads_everywhere(tmp_path):
    path = tmp_path / "many.zip"
    write("zip", path, labels=70_000)
    assert b"PK\x06\x06" in path.read_bytes()[-200:]  # the zip64 end record: the count overflows 16 bits
    check_zip(path, labels=70_000)


def test_a_small_zip_has_classic_records_only(tmp_path):
    path = tmp_path / "small.zip"
    write("zip", path, labels=10)
    assert b"PK\x06\x06" not in path.read_bytes()
    check_zip(path, labels=10)


def test_members_and_offsets_past_the_32_bit_limits_get_zip64_fields(tmp_path, monkeypatch):
    """The same code path a 5 GB export takes, with the limits lowered so the test writes kilobytes."""
    monkeypatch.setattr(archives, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(archives, "ZIP64_COUNT_LIMIT", 5)
    path = tmp_path / "zip64.zip"
    write("zip", path, labels=40)
    with zipfile.ZipFile(path) as archive:  # Python reads the real sizes and offsets from the zip64 fields
        assert archive.getinfo("images/train/a.jpg").file_size == len(JPEG)
        assert archive.getinfo("names/caf\u00e9.txt").header_offset > 1000
    check_zip(path, labels=40)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_the_same_members_give_the_same_bytes(tmp_path, kind):
    write(kind, tmp_path / "a", labels=300)
    write(kind, tmp_path / "b", labels=300)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_a_tar_reads_in_python_and_gnu_tar_with_fixed_owner_and_time(tmp_path):
    path = tmp_path / "out.tar"
    write("tar", path, labels=50)
    assert path.stat().st_size % tarfile.RECORDSIZE == 0
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        assert len(members) == 53
        assert {(m.uid, m.gid, m.mtime, m.mode) for m in members} == {(0, 0, archives.FIXED_MTIME, 0o644)}
        assert archive.extractfile("images/train/a.jpg").read() == JPEG  # type: ignore[union-attr]
        assert archive.extractfile("annotations/instances_train.json").read().count(b"\n") == 2000  # type: ignore[union-attr]
    listed = subprocess.run([tool("tar"), "-tvf", str(path)], capture_output=True, text=True,  # noqa: S603
                            check=True).stdout
    assert "labels/train/000049.txt" in listed and "names/caf\u00e9.txt" in listed


def test_a_tar_member_shorter_than_its_declared_size_is_an_error_not_a_corrupt_archive(tmp_path):
    with (tmp_path / "x.tar").open("wb") as out:
        archive = archives.ArchiveWriter("tar", out)
        with pytest.raises(ValueError, match="short"):
            archive.add_file("a.jpg", io.BytesIO(b"abc"), 10)


def test_memory_does_not_grow_with_the_number_of_members(tmp_path):
    """`zipfile` keeps a ZipInfo per member (~500 bytes); the central directory here is spooled to disk."""
    def peak(members: int) -> int:
        with (tmp_path / f"{members}.zip").open("wb") as out:
            archive = archives.ArchiveWriter("zip", out, spool_dir=tmp_path)
            tracemalloc.start()
            for i in range(members):
                archive.add_bytes(f"labels/{i:06d}.txt", b"0 0.5 0.5 0.1 0.1\n")
            archive.close()
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return top

    # Both central directories pass the 1 MiB copy chunk that close() reads them back in.
    small, large = peak(20_000), peak(60_000)
    assert large < small + 256 * 1024, (small, large)  # zipfile: +~20 MB for the 40,000 more members
