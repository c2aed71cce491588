"""The evidence store: atomic content-addressed writes, dedupe, read-only blobs, verify."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import time

import pytest

from fieldkit.errors import InputError, NotFoundError, StorageError
from fieldkit.photos import evidence as evidence_mod
from fieldkit.photos.evidence import EvidenceStore

DATA = b"\xff\xd8\xff" + os.urandom(5000)


@pytest.fixture
def store(tmp_path):
    return EvidenceStore(tmp_path / "evidence")


def _temp_files(store: EvidenceStore) -> list[str]:
    return os.listdir(store.tmp_dir)


def test_put_stores_under_sha256_path_read_only(store):
    sha, created = store.put(DATA)
    assert created is True
    assert sha == hashlib.sha256(DATA).hexdigest()
    path = store.path(sha)
    assert path == store.root / "objects" / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.read(sha) == DATA
    assert _temp_files(store) == []


def test_same_bytes_twice_are_stored_once(store):
    first = store.put(DATA)
    second = store.put(DATA)
    assert first == (first[0], True)
    assert second == (first[0], False)
    blobs = [p for p in (store.root / "objects").rglob("*") if p.is_file()]
    assert blobs == [store.path(first[0])]


def test_dedupe_by_link_when_the_blob_appears_after_the_exists_check(store, monkeypatch):
    """Another process wins the race: os.link raises FileExistsError and we report a dedupe."""
    sha = hashlib.sha256(DATA).hexdigest()
    store.path(sha).parent.mkdir(parents=True)
    store.path(sha).write_bytes(DATA)
    monkeypatch.setattr(type(store.path(sha)), "is_file", lambda self: False)
    assert store.put(DATA) == (sha, False)
    assert _temp_files(store) == []


def test_failure_between_temp_write_and_link_leaves_nothing(store, monkeypatch):
    def broken_link(src, dst, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(evidence_mod.os, "link", broken_link)
    with pytest.raises(StorageError, match="cannot write"):
        store.put(DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    assert not store.path(sha).exists()
    assert _temp_files(store) == []


def test_disk_full_is_a_clear_storage_error_and_leaves_no_temp(store, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evidence_mod.os, "fsync", full)
    with pytest.raises(StorageError, match="disk is full"):
        store.put(DATA)
    assert _temp_files(store) == []
    assert not store.exists(hashlib.sha256(DATA).hexdigest())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_permission_denied_is_a_storage_error(store):
    os.chmod(store.tmp_dir, 0o500)
    try:
        with pytest.raises(StorageError, match="permission denied"):
            store.put(DATA)
    finally:
        os.chmod(store.tmp_dir, 0o700)


def test_concurrent_puts_of_the_same_bytes_make_one_blob(store):
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        results.append(store.put(DATA))

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({sha for sha, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len([p for p in (store.root / "objects").rglob("*") if p.is_file()]) == 1
    assert _temp_files(store) == []


def test_verify_detects_tampering(store):
    sha, _ = store.put(DATA)
    assert store.verify(sha) is True
    path = store.path(sha)
    os.chmod(path, 0o644)
    path.write_bytes(DATA[:-1] + b"\x00")
    assert store.verify(sha) is False


def test_verify_of_a_missing_blob_is_false_and_open_raises(store):
    sha = hashlib.sha256(b"nothing").hexdigest()
    assert store.verify(sha) is False
    with pytest.raises(NotFoundError, match=sha):
        store.open(sha)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "g" * 64, "A" * 64])
def test_paths_refuse_anything_but_a_lowercase_hex_digest(store, bad):
    with pytest.raises(InputError, match="SHA-256"):
        store.path(bad)
    with pytest.raises(InputError):
        store.preview_path(bad)


def test_sweep_removes_only_stale_temp_files(tmp_path):
    store = EvidenceStore(tmp_path / "ev")
    stale = store.tmp_dir / "fk-old.tmp"
    fresh = store.tmp_dir / "fk-new.tmp"
    other = store.tmp_dir / "keep.txt"
    for p in (stale, fresh, other):
        p.write_bytes(b"x")
    old = time.time() - 2 * evidence_mod.STALE_TEMP_S
    os.utime(stale, (old, old))
    assert store.sweep_temp() == 1
    assert sorted(os.listdir(store.tmp_dir)) == ["fk-new.tmp", "keep.txt"]
    assert store.sweep_temp(max_age_s=0) == 1
    assert os.listdir(store.tmp_dir) == ["keep.txt"]


def test_opening_the_store_sweeps_leftovers(tmp_path):
    store = EvidenceStore(tmp_path / "ev")
    leftover = store.tmp_dir / "fk-crash.tmp"
    leftover.write_bytes(b"half")
    old = time.time() - 2 * evidence_mod.STALE_TEMP_S
    os.utime(leftover, (old, old))
    EvidenceStore(tmp_path / "ev")
    assert not leftover.exists()


def test_derivatives_are_replaced_atomically_and_paths_are_per_kind(store):
    sha, _ = store.put(DATA)
    assert not store.has_derivatives(sha)
    store.put_derivative(sha, "preview", b"p1")
    store.put_derivative(sha, "preview", b"p2")
    store.put_derivative(sha, "thumb", b"t")
    assert store.preview_path(sha).read_bytes() == b"p2"
    assert store.thumb_path(sha).name == f"{sha}.thumb.jpg"
    assert store.preview_path(sha).parent == store.root / "derivatives" / sha[:2] / sha[2:4]
    assert store.has_derivatives(sha)
    with pytest.raises(InputError, match="derivative kind"):
        store.derivative_path(sha, "original")
    assert _temp_files(store) == []


def test_runtime_builds_the_store_in_the_data_dir(runtime):
    assert runtime.evidence.root == runtime.settings.evidence_dir
    assert (runtime.settings.evidence_dir / "objects").is_dir()


def test_put_in_background_returns_the_result_or_raises(store, monkeypatch):
    wait = store.put_in_background(DATA)
    assert wait() == (hashlib.sha256(DATA).hexdigest(), True)
    assert store.put_in_background(DATA)() == (hashlib.sha256(DATA).hexdigest(), False)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evidence_mod.os, "fsync", full)
    other = DATA + b"more"
    wait = store.put_in_background(other)
    with pytest.raises(StorageError, match="disk is full"):
        wait()
    assert _temp_files(store) == []
    assert not store.exists(hashlib.sha256(other).hexdigest())


def test_names_from_disk_with_undecodable_bytes_keep_a_replacement_character():
    from fieldkit.photos.names import clean_name

    raw = os.fsdecode(b"\xb3\xa4\xb3\xc7.jpg")  # GBK "长城" read on a UTF-8 system
    assert clean_name(raw) == "\ufffd\ufffd\ufffd\ufffd.jpg"
    assert clean_name("/tmp/第一天/长城.jpg") == "长城.jpg"


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096, (4 << 20) + 4096 + 17])
def test_originals_are_written_byte_for_byte_whatever_their_length(store, size):
    data = os.urandom(size)
    sha, created = store.put(data)
    assert created and store.read(sha) == data and store.verify(sha)


def _supports_direct(folder) -> bool:
    try:
        fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.unlink(folder / "probe")
    return True


def _direct_flags_seen(monkeypatch) -> list[bool]:
    seen: list[bool] = []
    real = evidence_mod.fcntl.fcntl

    def spy(fd, cmd, *args):
        if cmd == evidence_mod.fcntl.F_SETFL:
            seen.append(bool(args[0] & os.O_DIRECT))
        return real(fd, cmd, *args)

    monkeypatch.setattr(evidence_mod.fcntl, "fcntl", spy)
    return seen


def test_originals_bypass_the_page_cache_and_derivatives_do_not(store, monkeypatch):
    seen = _direct_flags_seen(monkeypatch)
    data = os.urandom(3 * 4096 + 100)
    sha, _ = store.put(data)
    if not _supports_direct(store.tmp_dir):
        pytest.skip("the test directory's filesystem refuses O_DIRECT")
    assert seen == [True, False]  # on for the whole blocks, off again for the tail
    assert store.read(sha) == data
    seen.clear()
    store.put_derivative(sha, "thumb", b"\xff\xd8" + bytes(9000))
    assert seen == []


def test_a_filesystem_without_o_direct_gets_normal_writes(store, monkeypatch):
    real = evidence_mod.fcntl.fcntl

    def refuse_direct(fd, cmd, *args):
        if cmd == evidence_mod.fcntl.F_SETFL and args[0] & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, *args)

    monkeypatch.setattr(evidence_mod.fcntl, "fcntl", refuse_direct)
    data = os.urandom(10_000)
    sha, _ = store.put(data)
    assert store.read(sha) == data


def test_a_direct_write_refused_midway_goes_on_normally(store, monkeypatch):
    real_write = evidence_mod.os.write
    calls = []

    def picky(fd, buf):
        calls.append(len(buf))
        if len(calls) == 1 and evidence_mod.fcntl.fcntl(fd, evidence_mod.fcntl.F_GETFL) & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, buf)

    monkeypatch.setattr(evidence_mod.os, "write", picky)
    data = os.urandom(20_000)
    sha, _ = store.put(data)
    assert store.read(sha) == data and len(calls) >= 2
