"""Fetching an instance's software package onto the host agent's machine: download (``http(s)://``)
or read (``file://``, only under the directories the operator allows), check the size limit and
the optional sha256, unpack safely, and keep the result in a cache keyed by the sha256 of the bytes.

The cache (``ArtifactPolicy.cache_dir``):

- ``<cache_dir>/<digest>/`` is the package, **always a directory**: the content of an archive
  (``.tar.gz``, ``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz``, ``.zip``, by the URL path's suffix;
  ``FetchedArtifact.kind == "directory"``), or, for anything else (``.jar``, ``.war``, a binary),
  a directory holding that one file under its name from the URL (``kind == "file"``), so that a
  replica whose working directory is a copy of it runs ``java -jar app.jar``.
  ``artifact_path(policy, digest)`` names it. Treat it as read-only: replicas get a copy.
- ``<cache_dir>/<digest>.json`` says what it holds (kind, size, file name).
- The same bytes fetched again (same digest) are a cache hit; with ``sha256`` given an
  ``http(s)`` package already cached is not downloaded again (a ``file://`` one is always read,
  so the allowed directories and the file's presence are checked every time). The first fetch decides the form: the same bytes named ``x.zip`` once and
  ``x.bin`` once stay whichever was fetched first.
- Nothing half-written is ever under a final name: downloads and unpacking go to
  ``<cache_dir>/.partial-*`` and the finished directory is renamed into place (atomic; when two
  fetches of the same package race, the first rename wins and the other's copy is dropped).
  Leftovers of a crash are removed by a later fetch once they are a day old.

Archive entries are checked before anything is written and again while unpacking (``tarfile``'s
``data`` filter): absolute paths, ``..`` components, links pointing outside the package, entries
written through a link, and device files fail the fetch with a message naming the entry. An
archive may unpack to at most ``UNPACKED_FACTOR`` × ``max_bytes``.

Every failure is an ``ArtifactError`` whose ``message`` is what the job's task shows."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import socket
import stat
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from services.contracts.agent import ArtifactSpec, FetchedArtifact

ARTIFACT_DIRS_ENV = "OPENSTAGE_ARTIFACT_DIRS"
SCHEMES = ("http", "https", "file")
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
UNPACKED_FACTOR = 4  # an archive may unpack to at most this many times the download size limit
PARTIAL_PREFIX = ".partial-"
STALE_PARTIAL_SECONDS = 24 * 3600
CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(Exception):
    """A package that cannot be fetched or unpacked; ``message`` names the cause."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ArtifactPolicy:
    cache_dir: Path
    allowed_dirs: list[Path]  # file:// only under these (resolved, links followed)
    max_bytes: int = 512 * 1024 * 1024  # the download (or file) size limit
    timeout_seconds: float = 60.0  # the whole download must finish within this


def allowed_dirs_from(value: str | None, default: Path) -> list[Path]:
    """``OPENSTAGE_ARTIFACT_DIRS``: directories separated by ``os.pathsep``; unset or blank: ``[default]``."""
    dirs = [Path(p.strip()).expanduser() for p in (value or "").split(os.pathsep) if p.strip()]
    return dirs or [default]


def artifact_path(policy: ArtifactPolicy, digest: str) -> Path:
    """The cached package of ``digest``: always a directory (an archive's content, or the one file)."""
    if not _DIGEST.match(digest):
        raise ArtifactError(f"invalid artifact digest {digest!r}: expected 64 lowercase hex digits (sha256)")
    return policy.cache_dir / digest


async def fetch_artifact(spec: ArtifactSpec, policy: ArtifactPolicy) -> FetchedArtifact:
    """Fetch, check and unpack ``spec`` into the cache (or find it there)."""
    url = spec.url.strip()
    try:
        return await _fetch(url, spec.sha256, policy)
    except ArtifactError as exc:
        shown = _shown(url)
        if shown != url:  # messages end up in job tasks and logs: no password, no signed query
            raise ArtifactError(exc.message.replace(url, shown)) from None
        raise


def _shown(url: str) -> str:
    """The URL without its password and query (a signed URL's signature)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc, query="…" if parts.query else "", fragment="").geturl()


async def _fetch(url: str, sha256: str | None, policy: ArtifactPolicy) -> FetchedArtifact:
    expected = _expected_sha256(sha256)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}'" if scheme else "none"
        raise ArtifactError(f"cannot fetch {url}: unsupported URL scheme {shown} (supported: http://, https://, file://)")
    policy.cache_dir.mkdir(parents=True, exist_ok=True)
    if expected is not None and scheme != "file":  # a file:// URL is always read: its directory must be allowed
        hit = _cached(policy, expected)
        if hit is not None:
            return hit
    await asyncio.to_thread(_remove_stale_partials, policy.cache_dir)
    download = policy.cache_dir / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}.download"
    try:
        if scheme == "file":
            digest, size = await asyncio.to_thread(_copy_local, url, policy, download)
        else:
            digest, size = await _download(url, policy, download)
        if expected is not None and digest != expected:
            raise ArtifactError(f"checksum mismatch for {url}: expected sha256 {expected}, got {digest}")
        hit = _cached(policy, digest)
        if hit is not None:
            return hit
        return await asyncio.to_thread(_install, url, download, digest, size, policy)
    finally:
        download.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------
# reading the bytes
# ------------------------------------------------------------------------------------------------
def _expected_sha256(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    v = value.strip().lower().removeprefix("sha256:")
    if not _DIGEST.match(v):
        raise ArtifactError(f"invalid sha256 {value!r}: expected 64 hex digits")
    return v


def _too_large(url: str, policy: ArtifactPolicy) -> ArtifactError:
    return ArtifactError(f"cannot fetch {url}: the package is larger than the size limit of {_human(policy.max_bytes)}")


async def _download(url: str, policy: ArtifactPolicy, dest: Path) -> tuple[str, int]:
    import httpx  # here: the agent imports this module at start, and httpx costs it ~8 MB while idle

    h = hashlib.sha256()
    size = 0
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            async with httpx.AsyncClient(follow_redirects=True, timeout=policy.timeout_seconds) as client:
                async with client.stream("GET", url) as response:
                    if not response.is_success:
                        raise ArtifactError(f"cannot fetch {url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > policy.max_bytes:
                        raise _too_large(url, policy)
                    with dest.open("wb") as out:
                        async for chunk in response.aiter_bytes(CHUNK):
                            size += len(chunk)
                            if size > policy.max_bytes:
                                raise _too_large(url, policy)
                            h.update(chunk)
                            out.write(chunk)
    except TimeoutError:
        raise ArtifactError(f"cannot fetch {url}: not finished within {policy.timeout_seconds:g} s") from None
    except httpx.TimeoutException:
        raise ArtifactError(f"cannot fetch {url}: no answer within {policy.timeout_seconds:g} s") from None
    except httpx.ConnectError as exc:
        raise ArtifactError(f"cannot fetch {url}: {_connect_failure(url, exc)}") from None
    except httpx.HTTPError as exc:
        raise ArtifactError(f"cannot fetch {url}: {type(exc).__name__} ({_reason(exc)})") from None
    return h.hexdigest(), size


def _connect_failure(url: str, exc: BaseException) -> str:
    """What went wrong connecting, from the innermost cause (httpx says "All connection attempts failed")."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for c in chain:
        if isinstance(c, socket.gaierror):
            return f"cannot resolve host {urlsplit(url).hostname} ({c.strerror or c})"
        if isinstance(c, ConnectionRefusedError):
            return f"cannot connect to {urlsplit(url).netloc}: connection refused"
    inner = chain[-1]
    text = inner.strerror if isinstance(inner, OSError) and inner.strerror else _reason(inner)
    return f"cannot connect to {urlsplit(url).netloc} ({text})"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ArtifactError(
            f"cannot fetch {url}: a file:// URL names a path on this host (file:///path/to/package), not host {parts.netloc!r}"
        )
    raw = unquote(parts.path)
    if not raw.startswith("/"):
        raise ArtifactError(f"cannot fetch {url}: a file:// URL needs an absolute path (file:///path/to/package)")
    return Path(raw)


def _copy_local(url: str, policy: ArtifactPolicy, dest: Path) -> tuple[str, int]:
    given = _local_path(url)
    try:
        path = given.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise ArtifactError(f"cannot fetch {url}: no such file {given}") from None
    except OSError as exc:
        raise ArtifactError(f"cannot fetch {url}: {given}: {exc.strerror or exc}") from None
    allowed = [d.expanduser().resolve() for d in policy.allowed_dirs]
    if not any(path.is_relative_to(d) for d in allowed):
        shown = ", ".join(str(d) for d in allowed) or "none"
        raise ArtifactError(
            f"cannot fetch {url}: {path} is outside the allowed artifact directories ({shown}); "
            f"to allow more, set {ARTIFACT_DIRS_ENV} on the agent (directories separated by '{os.pathsep}')"
        )
    if not path.is_file():
        raise ArtifactError(f"cannot fetch {url}: {path} is not a regular file")
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as src, dest.open("wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise _too_large(url, policy)
                h.update(chunk)
                out.write(chunk)
    except PermissionError:
        raise ArtifactError(f"cannot fetch {url}: {path} is not readable by the agent") from None
    return h.hexdigest(), size


# ------------------------------------------------------------------------------------------------
# the cache
# ------------------------------------------------------------------------------------------------
def _meta_path(policy: ArtifactPolicy, digest: str) -> Path:
    return policy.cache_dir / f"{digest}.json"


def _cached(policy: ArtifactPolicy, digest: str) -> FetchedArtifact | None:
    path = artifact_path(policy, digest)
    if not path.is_dir():
        return None
    try:
        meta = json.loads(_meta_path(policy, digest).read_text())
        kind, size = str(meta["kind"]), int(meta["size"])
    except (OSError, ValueError, KeyError, TypeError):
        # the directory is complete (it was renamed into place) but its note is missing: a crash
        # between the two renames; say what can be seen
        kind, size = "directory", sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return FetchedArtifact(digest=digest, kind=kind, size=size, path=str(path))


def _remove_stale_partials(cache_dir: Path) -> None:
    cutoff = time.time() - STALE_PARTIAL_SECONDS
    for p in cache_dir.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(OSError):
            if p.lstat().st_mtime < cutoff:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()


def _file_name(url: str) -> str:
    name = unquote(posixpath.basename(urlsplit(url).path.rstrip("/")))
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        return "artifact"
    return name


def _archive_kind(url: str) -> str | None:
    path = urlsplit(url).path.lower()
    if path.endswith(TAR_SUFFIXES):
        return "tar"
    if path.endswith(ZIP_SUFFIXES):
        return "zip"
    return None


def _install(url: str, download: Path, digest: str, size: int, policy: ArtifactPolicy) -> FetchedArtifact:
    """Unpack (or place) the downloaded bytes under a temporary name, then rename into the cache."""
    staging = policy.cache_dir / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        archive = _archive_kind(url)
        name = _file_name(url)
        limit = UNPACKED_FACTOR * policy.max_bytes
        try:
            if archive == "tar":
                _unpack_tar(download, staging, name, limit)
            elif archive == "zip":
                _unpack_zip(download, staging, name, limit)
            else:
                download.rename(staging / name)
                (staging / name).chmod(0o755)  # a jar needs no x bit, a single binary (``./server``) does
        except OSError as exc:  # e.g. an entry under a path another entry made a file, a full disk
            where = str(exc.filename or "").replace(f"{staging}/", "")
            raise ArtifactError(f"cannot unpack {name}: {exc.strerror or exc}" + (f" ({where})" if where else "")) from None
        kind = "directory" if archive else "file"
        final = artifact_path(policy, digest)
        try:
            staging.rename(final)
        except OSError:
            if final.is_dir():  # another fetch of the same package finished first: use its copy
                hit = _cached(policy, digest)
                assert hit is not None
                return hit
            raise
        _write_meta(policy, digest, {"kind": kind, "size": size, "name": name})
        return FetchedArtifact(digest=digest, kind=kind, size=size, path=str(final))
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _write_meta(policy: ArtifactPolicy, digest: str, meta: dict[str, Any]) -> None:
    tmp = policy.cache_dir / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}.json"
    tmp.write_text(json.dumps(meta))
    tmp.replace(_meta_path(policy, digest))


# ------------------------------------------------------------------------------------------------
# safe unpacking
# ------------------------------------------------------------------------------------------------
def _entry_error(archive: str, entry: str, why: str) -> ArtifactError:
    return ArtifactError(f"cannot unpack {archive}: archive entry {entry} {why}")


def _clean_name(archive: str, raw: str, backslash_separates: bool = False) -> str:
    """The entry's path inside the package ('' for the root itself), or an error naming the entry.
    Zip archives made on Windows may separate with backslashes; in a tar a backslash is a character."""
    name = raw.replace("\\", "/") if backslash_separates else raw
    if name.startswith("/") or re.match(r"^[A-Za-z]:[/\\]", name):
        raise _entry_error(archive, raw, "has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _entry_error(archive, raw, "escapes the package directory")
    if any("\x00" in p for p in parts):
        raise _entry_error(archive, raw, "has a NUL character in its name")
    return "/".join(parts)


def _inside(target: str) -> bool:
    """Whether a normalised relative path stays inside the package."""
    return target != ".." and not target.startswith("../") and not target.startswith("/")


class _Entries:
    """The checks every entry goes through, whatever the archive format."""

    def __init__(self, archive: str, limit: int, backslash_separates: bool = False) -> None:
        self.archive = archive
        self.backslash_separates = backslash_separates
        self.limit = limit
        self.total = 0
        self.links: set[str] = set()
        self.files: set[str] = set()

    def check_path(self, raw: str) -> str:
        name = _clean_name(self.archive, raw, self.backslash_separates)
        prefix = ""
        for part in name.split("/") if name else []:
            prefix = f"{prefix}/{part}" if prefix else part
            if prefix in self.links:
                raise _entry_error(self.archive, raw, f"is written through the link {prefix} (not allowed)")
        return name

    def check_symlink(self, raw: str, name: str, target: str) -> None:
        if not name:
            raise _entry_error(self.archive, raw, "makes the package directory a link")
        if target.startswith("/") or re.match(r"^[A-Za-z]:[/\\]", target):
            raise _entry_error(self.archive, raw, f"is a link to an absolute path ({target}), outside the package directory")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if not _inside(resolved):
            raise _entry_error(self.archive, raw, f"is a link pointing outside the package directory ({target})")
        self.links.add(name)

    def check_hardlink(self, raw: str, name: str, target: str) -> None:
        try:
            clean: str | None = _clean_name(self.archive, target, self.backslash_separates)
        except ArtifactError:  # absolute, or with ..
            clean = None
        if clean is None or clean not in self.files:
            raise _entry_error(self.archive, raw, f"is a hard link to {target}, which is not a file of the package")
        self.files.add(name)

    def add_bytes(self, raw: str, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise ArtifactError(f"cannot unpack {self.archive}: it unpacks to more than {_human(self.limit)} (at entry {raw})")


def _unpack_tar(download: Path, dest: Path, archive: str, limit: int) -> None:
    try:
        with tarfile.open(download, mode="r:*") as tar:
            members = tar.getmembers()
            checks = _Entries(archive, limit)
            for m in members:
                name = checks.check_path(m.name)
                if not name and not m.isdir():
                    raise _entry_error(archive, m.name, "has no name inside the package")
                if m.issym():
                    checks.check_symlink(m.name, name, m.linkname)
                elif m.islnk():
                    checks.check_hardlink(m.name, name, m.linkname)
                elif m.isfile():
                    checks.add_bytes(m.name, m.size)
                    checks.files.add(name)
                elif m.isdir():
                    if name in checks.files:
                        raise _entry_error(archive, m.name, "is both a file and a directory")
                else:
                    raise _entry_error(archive, m.name, "is a device file or FIFO; a package holds only files, directories and links")
            try:
                tar.extractall(dest, members=members, filter="data")
            except tarfile.FilterError as exc:  # the backstop: realpath checks against what is on disk
                entry = getattr(getattr(exc, "tarinfo", None), "name", "?")
                raise _entry_error(archive, entry, f"is refused ({exc})") from None
            _verify_links(dest, archive)
    except (tarfile.ReadError, tarfile.CompressionError, EOFError) as exc:
        raise ArtifactError(f"cannot unpack {archive}: not a valid tar archive ({_reason(exc)})") from None


def _zip_mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF


def _unpack_zip(download: Path, dest: Path, archive: str, limit: int) -> None:
    try:
        with zipfile.ZipFile(download) as zf:
            infos = zf.infolist()
            checks = _Entries(archive, limit, backslash_separates=True)
            plan: list[tuple[zipfile.ZipInfo, str, str]] = []  # (entry, path, "dir" | "file" | "link")
            for info in infos:
                name = checks.check_path(info.filename)
                if not name and not info.is_dir():
                    raise _entry_error(archive, info.filename, "has no name inside the package")
                mode = _zip_mode(info)
                ftype = stat.S_IFMT(mode)
                if stat.S_ISLNK(mode):
                    checks.check_symlink(info.filename, name, zf.read(info).decode("utf-8", "replace"))
                    plan.append((info, name, "link"))
                elif info.is_dir() or stat.S_ISDIR(mode):
                    plan.append((info, name, "dir"))
                elif ftype in (0, stat.S_IFREG):
                    checks.add_bytes(info.filename, info.file_size)
                    checks.files.add(name)
                    plan.append((info, name, "file"))
                else:
                    raise _entry_error(
                        archive, info.filename, "is a device file or FIFO; a package holds only files, directories and links"
                    )
            written = _Entries(archive, limit)  # file_size may lie: count what is really written
            for info, name, what in plan:
                if not name:
                    continue  # the package directory itself
                out_path = dest / name
                _check_real_parent(dest, out_path, archive, info.filename)
                out_path.parent.mkdir(parents=True, exist_ok=True)
                if what == "dir":
                    out_path.mkdir(exist_ok=True)
                elif what == "link":
                    os.symlink(zf.read(info).decode("utf-8", "replace"), out_path)
                else:
                    with zf.open(info) as src, out_path.open("wb") as out:
                        _copy_counted(src, out, written, info.filename)
                    mode = _zip_mode(info)
                    out_path.chmod((mode & 0o755) | 0o600 if mode else 0o644)
            _verify_links(dest, archive)
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"cannot unpack {archive}: not a valid zip archive ({_reason(exc)})") from None


def _check_real_parent(dest: Path, target: Path, archive: str, entry: str) -> None:
    """Where the file would really land (links resolved) must be inside the package."""
    real = Path(os.path.realpath(target.parent))
    if not real.is_relative_to(Path(os.path.realpath(dest))):
        raise _entry_error(archive, entry, "escapes the package directory")


def _verify_links(dest: Path, archive: str) -> None:
    """Every link, followed through the links around it as they now are on disk, stays inside the
    package (each was checked on its own before; a chain of links could still lead out)."""
    root = Path(os.path.realpath(dest))
    for dirpath, dirnames, filenames in os.walk(dest):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_symlink() and not Path(os.path.realpath(p)).is_relative_to(root):
                raise _entry_error(
                    archive, p.relative_to(dest).as_posix(), f"is a link pointing outside the package directory ({os.readlink(p)})"
                )


def _copy_counted(src: IO[bytes], out: IO[bytes], counter: _Entries, entry: str) -> None:
    for chunk in _chunks(src):
        counter.add_bytes(entry, len(chunk))
        out.write(chunk)


def _chunks(src: IO[bytes]) -> Iterator[bytes]:
    while chunk := src.read(CHUNK):
        yield chunk


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
