"""Fetching a software package onto the agent's host (services/adapters/artifacts.py): what a user
sees in the job's task when the URL, the checksum or the archive is wrong, and what lands in the
cache when it is right. HTTP is a real local server on a free port; no network beyond it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import stat
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.adapters.artifacts import ArtifactError, ArtifactPolicy, allowed_dirs_from, artifact_path, fetch_artifact
from services.contracts.agent import ArtifactSpec


# ------------------------------------------------------------------------------------------------
# a small HTTP server serving bytes by path
# ------------------------------------------------------------------------------------------------
class Served:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.no_length: set[str] = set()  # answered without Content-Length (read until close)
        self.hits: dict[str, int] = {}
        self.base = ""

    def put(self, path: str, data: bytes, *, with_length: bool = True) -> str:
        self.files[path] = data
        if not with_length:
            self.no_length.add(path)
        return self.base + path


@pytest.fixture
def server() -> Iterator[Served]:
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.hits[self.path] = served.hits.get(self.path, 0) + 1
            data = served.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if self.path in served.no_length:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (size limit)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def policy(tmp_path: Path) -> ArtifactPolicy:
    allowed = tmp_path / "artifacts"
    allowed.mkdir()
    return ArtifactPolicy(cache_dir=tmp_path / "cache", allowed_dirs=[allowed], max_bytes=1024 * 1024)


# ------------------------------------------------------------------------------------------------
# building archives
# ------------------------------------------------------------------------------------------------
def tar_gz(*entries: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
            else:
                name, data = e
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def zip_bytes(*entries: tuple[str, bytes] | tuple[str, bytes, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in entries:
            name, data = entry[0], entry[1]
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if len(entry) == 3:
                info.external_attr = entry[2] << 16
            zf.writestr(info, data)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def fails(spec: ArtifactSpec, policy: ArtifactPolicy) -> str:
    with pytest.raises(ArtifactError) as caught:
        await fetch_artifact(spec, policy)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def inode_of(path: str) -> int:
    return os.stat(path).st_ino


def names_in(directory: str | Path) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def cache_entries(policy: ArtifactPolicy) -> list[str]:
    return names_in(policy.cache_dir)


# ------------------------------------------------------------------------------------------------
# good packages
# ------------------------------------------------------------------------------------------------
async def test_a_tar_gz_is_unpacked_into_the_cache_under_its_digest(server, policy):
    root_entry = tarfile.TarInfo(".")  # what `tar czf x.tar.gz -C dir .` writes first
    root_entry.type, root_entry.mode = tarfile.DIRTYPE, 0o755
    data = tar_gz(
        root_entry,
        ("./app.py", b"print('hi')\n"),
        ("./bin/run.sh", b"#!/bin/sh\n"),
        link("./current", "app.py"),
        link("./bin/same.py", "./app.py", tarfile.LNKTYPE),
    )
    url = server.put("/pkg/hello-1.0.0.tar.gz", data)

    got = await fetch_artifact(ArtifactSpec(url=url, sha256=sha(data).upper()), policy)

    assert got.digest == sha(data) and got.kind == "directory" and got.size == len(data)
    root = artifact_path(policy, got.digest)
    assert got.path == str(root) and root.is_dir()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["app.py", "bin", "bin/run.sh", "bin/same.py", "current"]
    assert (root / "app.py").read_bytes() == b"print('hi')\n"
    assert (root / "bin/run.sh").stat().st_mode & stat.S_IXUSR  # executable bits kept
    assert (root / "current").is_symlink() and (root / "current").read_bytes() == b"print('hi')\n"
    assert (root / "bin/same.py").read_bytes() == b"print('hi')\n"
    assert not [n for n in cache_entries(policy) if n.startswith(".partial-")]


async def test_a_zip_is_unpacked(server, policy):
    data = zip_bytes(("web/index.html", b"<h1>hi</h1>"), ("start.sh", b"#!/bin/sh\n", 0o100755))
    got = await fetch_artifact(ArtifactSpec(url=server.put("/site.zip", data)), policy)
    root = Path(got.path)
    assert got.kind == "directory"
    assert (root / "web/index.html").read_bytes() == b"<h1>hi</h1>"
    assert (root / "start.sh").stat().st_mode & stat.S_IXUSR


async def test_a_jar_is_kept_as_is_under_its_name(server, policy):
    data = b"PK\x03\x04 not unpacked: a jar is run as it is"
    got = await fetch_artifact(ArtifactSpec(url=server.put("/repo/app-1.0.jar?token=x", data)), policy)
    assert got.kind == "file" and got.size == len(data) and got.digest == sha(data)
    root = artifact_path(policy, got.digest)
    assert [p.name for p in root.iterdir()] == ["app-1.0.jar"]  # java -jar app-1.0.jar from a copy of it
    assert (root / "app-1.0.jar").read_bytes() == data


async def test_a_file_url_under_an_allowed_directory(policy):
    data = tar_gz(("VERSION", b"2.0.0"))
    (policy.allowed_dirs[0] / "my app.tgz").write_bytes(data)
    got = await fetch_artifact(ArtifactSpec(url=(policy.allowed_dirs[0] / "my app.tgz").as_uri()), policy)
    assert (Path(got.path) / "VERSION").read_text() == "2.0.0"


async def test_a_file_url_is_checked_even_when_its_package_is_cached(policy, tmp_path):
    data = tar_gz(("VERSION", b"1.0.0"))
    inside = policy.allowed_dirs[0] / "app.tgz"
    inside.write_bytes(data)
    await fetch_artifact(ArtifactSpec(url=inside.as_uri(), sha256=sha(data)), policy)
    outside = tmp_path / "app.tgz"
    inside.rename(outside)
    message = await fails(ArtifactSpec(url=outside.as_uri(), sha256=sha(data)), policy)
    assert "is outside the allowed artifact directories" in message


async def test_the_same_content_again_is_a_cache_hit(server, policy):
    data = tar_gz(("VERSION", b"1.0.0"))
    url = server.put("/a.tar.gz", data)
    first = await fetch_artifact(ArtifactSpec(url=url, sha256=sha(data)), policy)
    inode = inode_of(first.path)

    # with the checksum given, a cached package is not downloaded again (the URL is gone now)
    del server.files["/a.tar.gz"]
    again = await fetch_artifact(ArtifactSpec(url=url, sha256=sha(data)), policy)
    assert again == first and server.hits["/a.tar.gz"] == 1

    # without it, the bytes are read, found in the cache, and the cached copy is used as it is
    other = await fetch_artifact(ArtifactSpec(url=server.put("/b.tar.gz", data)), policy)
    assert other == first and inode_of(other.path) == inode
    assert cache_entries(policy) == [first.digest, f"{first.digest}.json"]


async def test_concurrent_fetches_of_one_package_end_with_one_copy(server, policy):
    data = tar_gz(*[(f"f{i}.txt", os.urandom(2000)) for i in range(50)])
    url = server.put("/c.tar.gz", data)
    results = await asyncio.gather(*[fetch_artifact(ArtifactSpec(url=url), policy) for _ in range(4)])
    assert len({r.path for r in results}) == 1
    assert cache_entries(policy) == [sha(data), f"{sha(data)}.json"]
    assert len(names_in(results[0].path)) == 50


# ------------------------------------------------------------------------------------------------
# bad URLs, sizes and checksums
# ------------------------------------------------------------------------------------------------
async def test_an_url_answering_404(server, policy):
    url = server.base + "/missing/app.tar.gz"
    assert await fails(ArtifactSpec(url=url), policy) == f"cannot fetch {url}: HTTP 404 Not Found"
    assert cache_entries(policy) == []


async def test_messages_hide_passwords_and_signed_queries(server, policy):
    url = server.base.replace("http://", "http://deploy:s3cret@") + "/missing.jar?X-Amz-Signature=abc123"
    message = await fails(ArtifactSpec(url=url), policy)
    assert message == f"cannot fetch {server.base.replace('http://', 'http://deploy:***@')}/missing.jar?…: HTTP 404 Not Found"


async def test_nothing_listening(policy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/app.jar"
    message = await fails(ArtifactSpec(url=url), policy)
    assert message == f"cannot fetch {url}: cannot connect to 127.0.0.1:{port}: connection refused"
    url = "http://packages.invalid/app.jar"  # RFC 2606: never resolves
    assert (await fails(ArtifactSpec(url=url), policy)).startswith(f"cannot fetch {url}: cannot resolve host packages.invalid (")


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "streamed"])
async def test_a_package_over_the_size_limit(server, tmp_path, with_length):
    small = ArtifactPolicy(cache_dir=tmp_path / "cache", allowed_dirs=[tmp_path], max_bytes=64 * 1024)
    url = server.put("/big.jar", os.urandom(200 * 1024), with_length=with_length)
    assert await fails(ArtifactSpec(url=url), small) == f"cannot fetch {url}: the package is larger than the size limit of 64 KiB"
    assert cache_entries(small) == []


async def test_a_file_over_the_size_limit(tmp_path):
    (tmp_path / "big.jar").write_bytes(b"x" * 2000)
    small = ArtifactPolicy(cache_dir=tmp_path / "cache", allowed_dirs=[tmp_path], max_bytes=1000)
    message = await fails(ArtifactSpec(url=(tmp_path / "big.jar").as_uri()), small)
    assert message.endswith("the package is larger than the size limit of 1000 bytes")


async def test_a_checksum_mismatch_names_both_digests(server, policy):
    data = b"the real bytes"
    url = server.put("/app.jar", data)
    expected = sha(b"what the user expected")
    message = await fails(ArtifactSpec(url=url, sha256=expected), policy)
    assert message == f"checksum mismatch for {url}: expected sha256 {expected}, got {sha(data)}"
    assert cache_entries(policy) == []


async def test_a_malformed_checksum(server, policy):
    message = await fails(ArtifactSpec(url=server.put("/app.jar", b"x"), sha256="abc"), policy)
    assert message == "invalid sha256 'abc': expected 64 hex digits"


async def test_a_file_url_outside_the_allowed_directories(tmp_path, policy):
    outside = tmp_path / "elsewhere" / "app.jar"
    outside.parent.mkdir()
    outside.write_bytes(b"jar")
    message = await fails(ArtifactSpec(url=outside.as_uri()), policy)
    allowed = policy.allowed_dirs[0].resolve()
    assert message == (
        f"cannot fetch {outside.as_uri()}: {outside.resolve()} is outside the allowed artifact directories ({allowed}); "
        f"to allow more, set OPENSTAGE_ARTIFACT_DIRS on the agent (directories separated by '{os.pathsep}')"
    )

    # a link inside an allowed directory does not open the way out: links are resolved first
    (policy.allowed_dirs[0] / "sneaky.jar").symlink_to(outside)
    message = await fails(ArtifactSpec(url=(policy.allowed_dirs[0] / "sneaky.jar").as_uri()), policy)
    assert f"{outside.resolve()} is outside the allowed artifact directories" in message
    # nor does ..
    dotdot = f"file://{policy.allowed_dirs[0]}/../elsewhere/app.jar"
    assert "is outside the allowed artifact directories" in await fails(ArtifactSpec(url=dotdot), policy)
    assert cache_entries(policy) == []


async def test_a_missing_file_and_a_file_url_with_a_host(policy):
    missing = policy.allowed_dirs[0] / "nope.jar"
    assert await fails(ArtifactSpec(url=missing.as_uri()), policy) == f"cannot fetch {missing.as_uri()}: no such file {missing}"
    message = await fails(ArtifactSpec(url="file://server/share/app.jar"), policy)
    assert "a file:// URL names a path on this host (file:///path/to/package), not host 'server'" in message


async def test_an_unsupported_scheme(policy):
    message = await fails(ArtifactSpec(url="ftp://example.com/app.jar"), policy)
    assert message == "cannot fetch ftp://example.com/app.jar: unsupported URL scheme 'ftp' (supported: http://, https://, file://)"


# ------------------------------------------------------------------------------------------------
# hostile archives: refused, nothing written outside, nothing left in the cache
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("ok.txt", b"1"), ("../evil", b"x")], "archive entry ../evil escapes the package directory"),
        ([("a/../../evil", b"x")], "archive entry a/../../evil escapes the package directory"),
        ([("/tmp/evil", b"x")], "archive entry /tmp/evil has an absolute path"),
        ([link("up", "../../etc")], "archive entry up is a link pointing outside the package directory (../../etc)"),
        ([link("pw", "/etc/passwd")], "archive entry pw is a link to an absolute path (/etc/passwd), outside the package directory"),
        (
            [link("hard", "../outside.txt", tarfile.LNKTYPE)],
            "archive entry hard is a hard link to ../outside.txt, which is not a file of the package",
        ),
        ([link("d", "sub"), ("d/f.txt", b"x")], "archive entry d/f.txt is written through the link d (not allowed)"),
        ([("f.txt", b"x"), link("f.txt", "../x")], "archive entry f.txt is a link pointing outside the package directory (../x)"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out", "through-link", "overwrite-with-link"],
)
async def test_hostile_tar_entries_fail_the_fetch_naming_the_entry(server, policy, tmp_path, entries, expected):
    url = server.put("/evil.tar.gz", tar_gz(*entries))
    assert await fails(ArtifactSpec(url=url), policy) == f"cannot unpack evil.tar.gz: {expected}"
    assert cache_entries(policy) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cache" / "evil").exists()


async def test_a_chain_of_links_leading_out_is_refused(server, policy, tmp_path):
    # each link alone stays inside ("d/d/../x" looks like "d/x"), but with d -> . it is ../x
    url = server.put("/chain.tar.gz", tar_gz(link("d", "."), link("e", "d/d/../x")))
    message = await fails(ArtifactSpec(url=url), policy)
    assert message.startswith("cannot unpack chain.tar.gz: archive entry e ")
    assert cache_entries(policy) == []


async def test_device_files_are_refused(server, policy):
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    url = server.put("/dev.tar", tar_gz(fifo))
    message = await fails(ArtifactSpec(url=url), policy)
    assert (
        message == "cannot unpack dev.tar: archive entry pipe is a device file or FIFO; a package holds only files, directories and links"
    )


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("ok.txt", b"1"), ("../evil", b"x")], "archive entry ../evil escapes the package directory"),
        ([("..\\evil", b"x")], "archive entry ..\\evil escapes the package directory"),
        ([("/tmp/evil", b"x")], "archive entry /tmp/evil has an absolute path"),
        ([("up", b"../../etc", 0o120777)], "archive entry up is a link pointing outside the package directory (../../etc)"),
        ([("d", b"sub", 0o120777), ("d/f.txt", b"x")], "archive entry d/f.txt is written through the link d (not allowed)"),
    ],
    ids=["dotdot", "backslash-dotdot", "absolute", "symlink-out", "through-link"],
)
async def test_hostile_zip_entries_fail_the_fetch_naming_the_entry(server, policy, tmp_path, entries, expected):
    url = server.put("/evil.zip", zip_bytes(*entries))
    assert await fails(ArtifactSpec(url=url), policy) == f"cannot unpack evil.zip: {expected}"
    assert cache_entries(policy) == []
    assert not (tmp_path / "evil").exists()


async def test_an_archive_unpacking_to_too_much_is_refused(server, tmp_path):
    small = ArtifactPolicy(cache_dir=tmp_path / "cache", allowed_dirs=[tmp_path], max_bytes=64 * 1024)
    data = zip_bytes(("zeros.bin", b"\0" * (1024 * 1024)))  # compresses to about 1 KiB
    assert len(data) < 64 * 1024
    message = await fails(ArtifactSpec(url=server.put("/bomb.zip", data)), small)
    assert message == "cannot unpack bomb.zip: it unpacks to more than 256 KiB (at entry zeros.bin)"
    assert cache_entries(small) == []


async def test_a_corrupt_archive(server, policy):
    message = await fails(ArtifactSpec(url=server.put("/broken.tar.gz", b"not a tar at all")), policy)
    assert message.startswith("cannot unpack broken.tar.gz: not a valid tar archive (")
    message = await fails(ArtifactSpec(url=server.put("/broken.zip", b"not a zip either")), policy)
    assert message.startswith("cannot unpack broken.zip: not a valid zip archive (")
    assert cache_entries(policy) == []


# ------------------------------------------------------------------------------------------------
# configuration helpers
# ------------------------------------------------------------------------------------------------
def test_allowed_dirs_from_the_environment_variable(tmp_path):
    default = tmp_path / "data" / "artifacts"
    assert allowed_dirs_from(None, default) == [default]
    assert allowed_dirs_from("  ", default) == [default]
    assert allowed_dirs_from(f"/srv/pkgs{os.pathsep}{os.pathsep} /opt/releases ", default) == [Path("/srv/pkgs"), Path("/opt/releases")]
    assert allowed_dirs_from("~/pkgs", default) == [Path.home() / "pkgs"]


def test_artifact_path_takes_only_a_digest(policy):
    digest = sha(b"x")
    assert artifact_path(policy, digest) == policy.cache_dir / digest
    for bad in ("../../etc", digest.upper(), digest[:-1], ""):
        with pytest.raises(ArtifactError, match="invalid artifact digest"):
            artifact_path(policy, bad)
