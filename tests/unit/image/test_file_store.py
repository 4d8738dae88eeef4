"""What only the ``file`` store does: its on-disk layout, a real crash, a full disk, descriptors."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from litestack.image.drivers import StoreError, StoreFull, make_store
from litestack.image.drivers.file import FileStore, FileWriter
from tests.conftest import REPO, until

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

IMAGE = "7b0ae3f0-4c2e-4a4e-9d1b-52a3f0c1d2e3"


def file_store(directory: Path, name: str = "file1") -> FileStore:
    store = make_store("file", name, directory=directory)
    assert isinstance(store, FileStore)
    return store


def test_locations_are_glance_file_urls_of_the_final_file(tmp_path: Path) -> None:
    store = file_store(tmp_path / "file1")
    w = store.writer(IMAGE)
    w.write(b"data")
    location = w.commit()
    assert location == f"file://{tmp_path}/file1/{IMAGE}"
    assert (tmp_path / "file1" / IMAGE).read_bytes() == b"data"
    assert oct((tmp_path / "file1").stat().st_mode & 0o777) == oct(0o700)
    assert (tmp_path / "file1" / IMAGE).stat().st_mode & 0o077 == 0


def test_a_symlinked_directory_is_one_store(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    via_link = file_store(tmp_path / "link")
    w = via_link.writer(IMAGE)
    w.write(b"x")
    location = w.commit()
    assert file_store(tmp_path / "real").exists(location)


def test_the_upload_is_written_under_a_temporary_name_until_commit(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    w = store.writer(IMAGE)
    w.write(b"abc")
    [name] = os.listdir(tmp_path)
    assert name.startswith(f".tmp-{IMAGE}-")
    w.commit()
    assert os.listdir(tmp_path) == [IMAGE]


_CRASHER = textwrap.dedent("""
    import os, sys
    from litestack.image.drivers import make_store
    store = make_store("file", "file1", directory=sys.argv[1])
    w = store.writer(sys.argv[2])
    w.write(b"x" * (1 << 20))
    print("written", flush=True)
    sys.stdin.read()  # killed here, mid-upload
""")


def test_a_process_killed_mid_upload_leaves_only_a_temporary_file_that_is_scrubbed(tmp_path: Path) -> None:
    directory = tmp_path / "file1"
    proc = subprocess.Popen([sys.executable, "-c", _CRASHER, str(directory), IMAGE], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"written\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.stdout is not None
        proc.stdout.close()
    store = file_store(directory)  # the restarted server
    assert list(store.locations()) == []
    assert store.scrub_temporary(0) == 1
    assert os.listdir(directory) == []
    w = store.writer(IMAGE)  # a new upload of the same image works
    w.write(b"again")
    assert Path(w.commit()[len("file://"):]).read_bytes() == b"again"


def test_a_full_disk_is_store_full_and_abort_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = file_store(tmp_path)
    w = store.writer(IMAGE)
    w.write(b"first")

    def enospc(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", enospc)
    with pytest.raises(StoreFull) as info:
        w.write(b"second")
    assert str(tmp_path) not in info.value.message  # shown to users: no paths
    monkeypatch.undo()
    with pytest.raises(StoreError):
        w.write(b"third")  # part of "second" may be in the file: only abort is left
    with pytest.raises(StoreError):
        w.commit()
    w.abort()
    assert os.listdir(tmp_path) == []


def test_a_failed_rename_keeps_the_temporary_file_for_abort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = file_store(tmp_path)
    w = store.writer(IMAGE)
    w.write(b"data")

    def eio(src: str, dst: str) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "replace", eio)
    with pytest.raises(StoreError) as info:
        w.commit()
    assert not isinstance(info.value, StoreFull)
    assert str(tmp_path) not in info.value.message
    monkeypatch.undo()
    assert list(store.locations()) == []
    w.abort()
    assert os.listdir(tmp_path) == []


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_readers_and_dropped_writers_release_their_descriptors(tmp_path: Path) -> None:
    store = make_store("file", "file1", directory=tmp_path, chunk_size=10)
    w = store.writer(IMAGE)
    w.write(b"y" * 100)
    location = w.commit()
    before = _open_fds()
    chunks = store.reader(location)
    assert next(iter(chunks)) == b"y" * 10
    assert _open_fds() == before + 1
    chunks.close()  # type: ignore[attr-defined]
    assert _open_fds() == before
    assert b"".join(store.reader(location)) == b"y" * 100
    assert _open_fds() == before
    dropped = store.writer("another")
    assert _open_fds() == before + 1
    del dropped
    assert until(lambda: _open_fds() == before, 5, 0.01)


def test_scrub_spares_recent_temporary_files_of_other_processes(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = make_store("file", "file1", directory=tmp_path, clock=lambda: now[0])
    leftover = tmp_path / f".tmp-{IMAGE}-00ff00ff00ff00ff"
    leftover.write_bytes(b"partial")
    os.utime(leftover, (now[0] - 100, now[0] - 100))
    assert store.scrub_temporary(3600) == 0
    now[0] += 3600
    assert store.scrub_temporary(3600) == 1
    assert not leftover.exists()


def test_an_abort_from_another_thread_waits_for_the_write_in_progress(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = file_store(tmp_path)
    w = store.writer(IMAGE)
    in_write, release = threading.Event(), threading.Event()
    real_write = os.write

    def slow_write(fd: int, data: bytes) -> int:
        in_write.set()
        release.wait(10)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", slow_write)
    writing = threading.Thread(target=w.write, args=(b"chunk",))
    writing.start()
    assert in_write.wait(10)
    aborting = threading.Thread(target=w.abort)
    aborting.start()
    aborting.join(0.2)
    assert aborting.is_alive()  # waiting for the write, not closing the descriptor under it
    release.set()
    writing.join(10)
    aborting.join(10)
    assert not aborting.is_alive()
    assert os.listdir(tmp_path) == []


SIZES = [0, 1, 4095, 4096, 4097, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("chunk", [1000, 65_536, 1 << 20, 3 << 20])
def test_direct_io_writes_exactly_the_data_whatever_the_sizes(tmp_path: Path, size: int, chunk: int) -> None:
    store = make_store("file", "file1", directory=tmp_path, direct_io=True)
    data = os.urandom(size)
    w = store.writer(IMAGE)
    assert isinstance(w, FileWriter) and w.direct_io  # tmp_path's filesystem takes O_DIRECT
    for i in range(0, size, chunk):
        w.write(data[i:i + chunk])
    location = w.commit()
    assert (tmp_path / IMAGE).stat().st_size == size
    assert b"".join(store.reader(location)) == data


def test_direct_io_falls_back_where_the_filesystem_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def no_direct_open(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            real_open(path, flags & ~os.O_DIRECT, mode)  # tmpfs creates the file, then says EINVAL
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct_open)
    store = make_store("file", "file1", directory=tmp_path, direct_io=True)
    w = store.writer(IMAGE)
    assert isinstance(w, FileWriter) and not w.direct_io
    w.write(b"a" * 5000)
    monkeypatch.undo()
    assert b"".join(store.reader(w.commit())) == b"a" * 5000
    assert os.listdir(tmp_path) == [IMAGE]


def test_direct_io_refused_at_write_time_goes_on_through_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    real_write = os.write

    def picky_write(fd: int, data: bytes) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_write(fd, data)

    store = make_store("file", "file1", directory=tmp_path, direct_io=True)
    w = store.writer(IMAGE)
    monkeypatch.setattr(os, "write", picky_write)
    data = os.urandom(2 * (1 << 20) + 777)
    w.write(data)
    assert isinstance(w, FileWriter) and not w.direct_io
    location = w.commit()
    monkeypatch.undo()
    assert b"".join(store.reader(location)) == data
