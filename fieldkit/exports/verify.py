"""Verify an evidence bundle (:mod:`fieldkit.exports.bundle`) without extracting it.

Every member is read through :mod:`zipfile` by name and hashed as it streams; nothing is ever
written to disk, so ``..``, absolute names and symlinks cannot escape (they are reported as
unsafe and never read). Reported problems name the member and what is wrong with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import stat
import zipfile
from pathlib import Path

from ..errors import InputError
from .bundle import FORMAT, MANIFEST, MANIFEST_CSV, MANIFEST_HASH, PHOTO_DIR, manifest_csv
from .safety import is_safe_member

MAX_MEMBERS = 100_000
MAX_MANIFEST_BYTES = 64 << 20


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a bundle: ``kind`` is altered, missing, extra, unsafe or manifest."""

    kind: str
    member: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class BundleCheck:
    """The outcome of :func:`verify_bundle`."""

    path: Path
    manifest_sha256: str | None
    case: dict | None
    files_ok: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when every member matched the manifest and nothing was missing or extra."""
        return not self.problems


def verify_bundle(path: str | Path, *, expect_manifest_sha256: str | None = None) -> BundleCheck:
    """Check every member of the bundle at ``path`` against its manifest.

    ``expect_manifest_sha256`` (the hash printed when the bundle was made, e.g. kept in the case
    file) also catches a manifest rewritten together with ``manifest.sha256``. A file that is not
    a zip at all raises :class:`InputError`.
    """
    path = Path(path)
    problems: list[Problem] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})") from exc
    with zf:
        infos = _safe_infos(zf, problems)
        data = _read_small(zf, infos.get(MANIFEST), problems)
        if data is None:
            problems.append(Problem("manifest", MANIFEST, f"{MANIFEST} is missing or unreadable; nothing to check against"))
            return BundleCheck(path, None, None, 0, tuple(problems))
        digest = hashlib.sha256(data).hexdigest()
        _check_manifest_hash(zf, infos, digest, expect_manifest_sha256, problems)
        manifest = _parse(data, problems)
        if manifest is None:
            return BundleCheck(path, digest, None, 0, tuple(problems))
        _check_csv(zf, infos, manifest, problems)
        ok = _check_files(zf, infos, manifest["files"], problems)
    return BundleCheck(path, digest, manifest.get("case"), ok, tuple(problems))


def _safe_infos(zf: zipfile.ZipFile, problems: list[Problem]) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(f"{zf.filename}: {len(infos)} members (more than {MAX_MEMBERS}); not a bundle")
    safe: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if info.is_dir():
            continue
        if not is_safe_member(name) or stat.S_ISLNK(info.external_attr >> 16):
            problems.append(Problem("unsafe", name, f"{name!r}: unsafe member (path traversal, absolute "
                                                     "path or symlink); not read"))
        elif name in safe:
            problems.append(Problem("extra", name, f"{name}: appears more than once in the archive"))
        else:
            safe[name] = info
    return safe


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, problems: list[Problem]) -> bytes | None:
    if info is None:
        return None
    if info.file_size > MAX_MANIFEST_BYTES:
        problems.append(Problem("manifest", info.filename, f"{info.filename}: {info.file_size} bytes, too large"))
        return None
    try:
        with zf.open(info) as fh:
            return fh.read(MAX_MANIFEST_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        problems.append(Problem("manifest", info.filename, f"{info.filename}: cannot be read ({exc})"))
        return b""


def _check_manifest_hash(zf, infos, digest: str, expected: str | None, problems: list[Problem]) -> None:
    raw = _read_small(zf, infos.get(MANIFEST_HASH), problems)
    recorded = raw.decode("utf-8", "replace").split()[0].lower() if raw and raw.split() else None
    if recorded is None:
        problems.append(Problem("manifest", MANIFEST_HASH, f"{MANIFEST_HASH} is missing or empty"))
    elif recorded != digest:
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST} was edited: its SHA-256 is {digest}, "
                                                      f"{MANIFEST_HASH} records {recorded}"))
    if expected and expected.strip().lower() != digest:
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST} SHA-256 is {digest}, expected "
                                                      f"{expected.strip().lower()} (recorded when it was made)"))


def _parse(data: bytes, problems: list[Problem]) -> dict | None:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST}: not valid UTF-8 JSON ({exc})"))
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
            manifest.get("files"), list):
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST}: not a {FORMAT} manifest (format/files)"))
        return None
    bad = [i for i, f in enumerate(manifest["files"])
           if not (isinstance(f, dict) and isinstance(f.get("member"), str) and isinstance(f.get("sha256"), str))]
    if bad:
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST}: files[{bad[0]}] lacks member or sha256"))
        return None
    return manifest


def _check_csv(zf, infos, manifest: dict, problems: list[Problem]) -> None:
    raw = _read_small(zf, infos.get(MANIFEST_CSV), problems)
    if raw is None:
        problems.append(Problem("missing", MANIFEST_CSV, f"{MANIFEST_CSV} is missing"))
        return
    try:
        expected = manifest_csv(manifest)
    except (KeyError, TypeError) as exc:
        problems.append(Problem("manifest", MANIFEST, f"{MANIFEST}: a file entry lacks a field ({exc})"))
        return
    if raw != expected:
        problems.append(Problem("altered", MANIFEST_CSV, f"{MANIFEST_CSV} does not match {MANIFEST}"))


def _check_files(zf, infos, files: list[dict], problems: list[Problem]) -> int:
    listed: set[str] = set()
    ok = 0
    for f in files:
        member = f["member"]
        if member in listed:
            problems.append(Problem("manifest", member, f"{MANIFEST} lists {member} twice"))
            continue
        listed.add(member)
        info = infos.get(member)
        if not member.startswith(PHOTO_DIR) or not is_safe_member(member):
            problems.append(Problem("manifest", member, f"{MANIFEST} names an unsafe member {member!r}"))
        elif info is None:
            problems.append(Problem("missing", member, f"{member}: listed in the manifest but missing "
                                                       f"(SHA-256 {f['sha256']})"))
        else:
            why = _member_mismatch(zf, info, f)
            if why:
                problems.append(Problem("altered", member, f"{member}: ALTERED, {why}"))
            else:
                ok += 1
    for name in sorted(set(infos) - listed - {MANIFEST, MANIFEST_CSV, MANIFEST_HASH}):
        problems.append(Problem("extra", name, f"{name}: in the archive but not in the manifest"))
    return ok


def _member_mismatch(zf: zipfile.ZipFile, info: zipfile.ZipInfo, f: dict) -> str | None:
    size = f.get("size_bytes")
    digest, read = hashlib.sha256(), 0
    limit = (size if isinstance(size, int) else info.file_size) + 1
    try:
        with zf.open(info) as fh:
            while read < limit and (chunk := fh.read(min(1 << 20, limit - read))):
                digest.update(chunk)
                read += len(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"cannot be read intact ({exc})"
    if isinstance(size, int) and read != size:
        return f"{read if read < limit else 'more than ' + str(size)} bytes, manifest says {size}"
    if digest.hexdigest() != f["sha256"].lower():
        return f"SHA-256 is {digest.hexdigest()}, manifest says {f['sha256']}"
    return None
