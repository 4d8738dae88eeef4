"""Tests for litestack.identity.keys."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from litestack.common.errors import ConfigError
from litestack.identity.keys import KeyRepository

pytestmark = pytest.mark.unit

RepoFactory = Callable[..., KeyRepository]


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "fernet-keys"


@pytest.fixture
def repo_factory(key_dir: Path) -> RepoFactory:
    def make(max_active_keys: int = 3, *, setup: bool = True) -> KeyRepository:
        repo = KeyRepository(key_dir, max_active_keys=max_active_keys)
        if setup:
            repo.setup()
        return repo

    return make


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def key_files(directory: Path) -> dict[int, bytes]:
    return {int(p.name): p.read_bytes() for p in directory.iterdir() if p.name.isdigit()}


def age_directory(directory: Path) -> None:
    """Make the directory's mtime old, so the key cache trusts it without re-listing."""
    os.utime(directory, (1_000_000_000, 1_000_000_000))


# --- configuration ----------------------------------------------------------


@pytest.mark.parametrize("bad", [1, 0, -3])
def test_max_active_keys_below_two_is_rejected(key_dir: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        KeyRepository(key_dir, max_active_keys=bad)


def test_max_active_keys_must_be_an_integer(key_dir: Path) -> None:
    with pytest.raises(ValueError, match="integer"):
        KeyRepository(key_dir, max_active_keys="3")  # type: ignore[arg-type]


# --- setup ------------------------------------------------------------------


def test_setup_creates_a_staged_and_a_primary_key(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory(setup=False)
    assert not repo.exists()

    assert repo.setup() is True

    assert repo.exists()
    files = key_files(key_dir)
    assert sorted(files) == [0, 1]
    for key in files.values():
        Fernet(key)  # a valid key
    assert repo.load() == [files[1], files[0]]


def test_setup_is_idempotent(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    before = key_files(key_dir)

    assert repo.setup() is False

    assert key_files(key_dir) == before


def test_setup_creates_missing_parents(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path / "etc" / "litestack" / "keys")
    repo.setup()
    assert repo.exists()


@pytest.mark.usefixtures("permissive_umask")
def test_setup_makes_directory_0700_and_files_0600_whatever_the_umask(
    repo_factory: RepoFactory, key_dir: Path
) -> None:
    repo = repo_factory()
    repo.rotate()

    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    for path in key_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_setup_tightens_an_existing_loose_directory(key_dir: Path) -> None:
    key_dir.mkdir()
    key_dir.chmod(0o755)
    KeyRepository(key_dir).setup()
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700


# --- load -------------------------------------------------------------------


def test_load_from_missing_directory_raises_config_error(key_dir: Path) -> None:
    repo = KeyRepository(key_dir)
    with pytest.raises(ConfigError, match="does not exist"):
        repo.load()
    with pytest.raises(ConfigError):
        repo.keys()
    assert not repo.exists()


def test_load_from_empty_directory_raises_config_error(key_dir: Path) -> None:
    key_dir.mkdir()
    with pytest.raises(ConfigError, match="no keys"):
        KeyRepository(key_dir).load()


@pytest.mark.parametrize("content", [b"", b"not a key", b"c2hvcnQ="])
def test_load_rejects_an_invalid_key_file(repo_factory: RepoFactory, key_dir: Path, content: bytes) -> None:
    repo = repo_factory()
    (key_dir / "1").write_bytes(content)
    with pytest.raises(ConfigError, match="not a valid key"):
        repo.load()


def test_load_tolerates_a_trailing_newline(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    key = (key_dir / "1").read_bytes()
    (key_dir / "1").write_bytes(key + b"\n")
    assert repo.load()[0] == key


def test_load_ignores_temp_files_and_non_index_names(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    expected = repo.load()
    (key_dir / ".tmp-0-deadbeef").write_bytes(b"half a k")
    (key_dir / "01").write_bytes(b"garbage")
    (key_dir / "README").write_bytes(b"garbage")

    assert repo.load() == expected


def test_load_of_a_repository_with_only_a_staged_key_uses_it(key_dir: Path) -> None:
    key_dir.mkdir()
    key = Fernet.generate_key()
    (key_dir / "0").write_bytes(key)
    assert KeyRepository(key_dir).load() == [key]


# --- rotate -----------------------------------------------------------------


def test_rotate_promotes_the_staged_key_and_writes_a_new_one(
    repo_factory: RepoFactory, key_dir: Path
) -> None:
    repo = repo_factory()
    before = key_files(key_dir)

    assert repo.rotate() == 2

    after = key_files(key_dir)
    assert sorted(after) == [0, 1, 2]
    assert after[2] == before[0]  # the staged key is now primary
    assert after[1] == before[1]  # the old primary is a secondary
    assert after[0] not in before.values()
    # primary, secondaries newest to oldest, staged last
    assert repo.load() == [after[2], after[1], after[0]]


@pytest.mark.parametrize(
    ("max_active_keys", "rotations", "expected_indices"),
    [
        (2, 1, [0, 2]),
        (2, 3, [0, 4]),
        (3, 1, [0, 1, 2]),
        (3, 2, [0, 2, 3]),
        (3, 5, [0, 5, 6]),
        (5, 2, [0, 1, 2, 3]),
        (5, 6, [0, 4, 5, 6, 7]),
    ],
)
def test_rotate_prunes_the_oldest_secondaries(
    repo_factory: RepoFactory,
    key_dir: Path,
    max_active_keys: int,
    rotations: int,
    expected_indices: list[int],
) -> None:
    repo = repo_factory(max_active_keys)
    for _ in range(rotations):
        repo.rotate()

    assert sorted(key_files(key_dir)) == expected_indices
    assert len(repo.load()) == len(expected_indices)


def test_rotate_orders_secondaries_newest_first(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory(max_active_keys=5)
    for _ in range(3):
        repo.rotate()

    files = key_files(key_dir)
    assert repo.load() == [files[4], files[3], files[2], files[1], files[0]]


def test_rotate_removes_leftover_temp_files(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    leftover = key_dir / ".tmp-0-deadbeef"
    leftover.write_bytes(b"half a k")

    repo.rotate()

    assert not leftover.exists()


def test_rotate_finishes_an_interrupted_rotation(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    # A crash between promoting the staged key and writing its replacement.
    os.rename(key_dir / "0", key_dir / "2")
    promoted = (key_dir / "2").read_bytes()

    assert repo.rotate() == 2

    files = key_files(key_dir)
    assert sorted(files) == [0, 1, 2]
    assert files[2] == promoted
    assert repo.load()[0] == promoted


def test_rotate_refuses_a_repository_with_an_invalid_key(repo_factory: RepoFactory, key_dir: Path) -> None:
    repo = repo_factory()
    (key_dir / "0").write_bytes(b"corrupt")
    before = key_files(key_dir)

    with pytest.raises(ConfigError, match="not a valid key"):
        repo.rotate()

    assert key_files(key_dir) == before


def test_rotate_without_setup_raises_config_error(key_dir: Path) -> None:
    with pytest.raises(ConfigError):
        KeyRepository(key_dir).rotate()


# --- cached keys() ----------------------------------------------------------


def test_keys_matches_load(repo_factory: RepoFactory) -> None:
    repo = repo_factory()
    assert repo.keys() == repo.load()


def test_keys_does_not_reread_files_while_the_directory_is_unchanged(
    repo_factory: RepoFactory, key_dir: Path
) -> None:
    repo = repo_factory()
    age_directory(key_dir)
    cached = repo.keys()
    # Rewriting a file in place leaves the directory mtime alone (writers never do this).
    (key_dir / "1").write_bytes(Fernet.generate_key())

    assert repo.keys() == cached

    os.utime(key_dir)  # the directory changed
    assert repo.keys() == repo.load() != cached


def test_keys_picks_up_a_rotation_by_another_process(repo_factory: RepoFactory, key_dir: Path) -> None:
    server = repo_factory()
    before = server.keys()

    cli = KeyRepository(key_dir)
    cli.rotate()

    after = server.keys()
    assert after == cli.load()
    assert after[0] == before[-1]  # the staged key became primary


def test_keys_picks_up_a_rotation_within_one_mtime_tick(repo_factory: RepoFactory, key_dir: Path) -> None:
    """Directory mtimes are coarse: a rotation right after a load can leave the mtime unchanged."""
    server = repo_factory()
    server.keys()
    st = key_dir.stat()

    KeyRepository(key_dir).rotate()
    os.utime(key_dir, ns=(st.st_atime_ns, st.st_mtime_ns))  # as if in the same tick

    assert server.keys() == server.load()


def test_keys_picks_up_repeated_rotations_by_another_process(
    repo_factory: RepoFactory, key_dir: Path
) -> None:
    server = repo_factory()
    cli = KeyRepository(key_dir)
    for _ in range(4):
        server.keys()
        cli.rotate()
        assert server.keys() == cli.load()


def test_keys_raises_config_error_once_the_directory_is_removed(
    repo_factory: RepoFactory, key_dir: Path
) -> None:
    repo = repo_factory()
    repo.keys()
    for path in key_dir.iterdir():
        path.unlink()
    key_dir.rmdir()

    with pytest.raises(ConfigError):
        repo.keys()


def test_keys_returns_a_copy(repo_factory: RepoFactory) -> None:
    repo = repo_factory()
    repo.keys().clear()
    assert repo.keys()
