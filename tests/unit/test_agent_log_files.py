"""A replica's log file: size rotation by copy-truncate, reads by offset (workers/agent/log_files.py)."""

from __future__ import annotations

import os

from workers.agent import log_files
from workers.agent.host import _utf8_prefix


def test_reads_from_an_offset_and_tells_where_to_go_on(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(b"line one\nline two\n")
    first = log_files.read(path, 0, 9)
    assert first == log_files.Read(b"line one\n", 9)
    assert log_files.read(path, first.next_offset, 100) == log_files.Read(b"line two\n", 18)
    assert log_files.read(path, 18, 100) == log_files.Read(b"", 18)  # nothing new yet
    assert log_files.read(path, -4, 100) == log_files.Read(b"two\n", 18)  # the last 4 bytes
    assert log_files.read(path, -100, 100).data == b"line one\nline two\n"


def test_an_offset_past_the_end_means_the_file_was_rotated_so_it_reads_from_the_start(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(b"new\n")
    assert log_files.read(path, 500, 100) == log_files.Read(b"new\n", 4)


def test_a_missing_file_reads_empty(tmp_path):
    assert log_files.read(tmp_path / "none.log", 0, 10) == log_files.Read(b"", 0)


def test_rotation_copies_then_truncates_and_keeps_three_files(tmp_path):
    path = tmp_path / "0.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # as the replica holds it
    try:
        for n in range(5):
            os.write(fd, f"generation {n} ".encode() * 10)
            assert log_files.rotate_if_needed(path, max_bytes=50)
        os.write(fd, b"after")
        assert not log_files.rotate_if_needed(path, max_bytes=50)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"after"  # the replica's next write lands at the start
    assert log_files.rotated(path, 1).read_bytes().startswith(b"generation 4")
    assert log_files.rotated(path, 3).read_bytes().startswith(b"generation 2")
    assert not log_files.rotated(path, 4).exists()


def test_a_chunk_never_ends_inside_a_utf8_character():
    text = "héllo €".encode()
    assert _utf8_prefix(text) == text
    assert _utf8_prefix(text[:-1]) == "héllo ".encode()  # € cut after 2 of its 3 bytes
    assert _utf8_prefix(text[:2]) == b"h"  # é cut after its first byte
