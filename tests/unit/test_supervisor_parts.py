"""The supervisor's small parts: reading /proc lines, the lifeline's messages, the data
directory's lock and the run record."""

from __future__ import annotations

import os

import pytest

from openstage.data_dir_lock import DataDirLock
from openstage.lifeline import read_messages
from openstage.linux_processes import ProcessIdentity, identity_of, is_running, parse_stat
from openstage.port_check import parse_listeners
from openstage.run_record import RecordedProcess, RunRecord
from openstage.startup_errors import StartupError


def test_stat_fields_are_counted_from_the_last_parenthesis():
    # a command name may hold spaces and parentheses
    text = "4242 (a (b) c) S 17 4240 4240 0 -1 4194560 " + " ".join(["0"] * 12) + " 987654 99 0"
    stat = parse_stat(text)
    assert (stat.pid, stat.state, stat.ppid, stat.pgrp, stat.start_ticks) == (4242, "S", 17, 4240, 987654)


def test_a_process_is_its_pid_and_start_time():
    me = identity_of(os.getpid())
    assert me is not None and is_running(me)
    assert not is_running(ProcessIdentity(me.pid, me.start_ticks + 1))  # the same pid, another process


def test_listening_sockets_on_a_port_from_proc_net_tcp():
    lines = [
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0",
        "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0",
        "   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0",
    ]
    # 0x1F90 = 8080: the listener only, not the established connection from it
    assert parse_listeners(lines, 8080) == {"111"}
    assert parse_listeners(lines, 8081) == {"333"}
    assert parse_listeners(lines, 9000) == set()


def test_lifeline_messages():
    tracked = ["track 10 1000\n", "track 11 1001\n"]
    assert read_messages(tracked) == [ProcessIdentity(10, 1000), ProcessIdentity(11, 1001)]
    # a clean stop releases it: nothing to stop
    assert read_messages([*tracked, "release\n"]) is None
    # a line cut short by the supervisor's death is ignored
    assert read_messages([*tracked, "track 12"]) == [ProcessIdentity(10, 1000), ProcessIdentity(11, 1001)]


def test_one_lock_holder_per_data_directory(tmp_path):
    first = DataDirLock.acquire(tmp_path / "d")
    try:
        with pytest.raises(StartupError, match=rf"in use by another `openstage up` \(pid {os.getpid()}\)"):
            DataDirLock.acquire(tmp_path / "d")
    finally:
        first.release()
    DataDirLock.acquire(tmp_path / "d").release()


def test_the_run_record_is_read_back_and_a_damaged_one_is_none(tmp_path):
    record = RunRecord(
        data_dir=str(tmp_path),
        boot_id="b",
        supervisor=RecordedProcess(pid=1, start_ticks=2),
        children={"store": RecordedProcess(pid=3, start_ticks=4)},
    )
    record.write(tmp_path)
    assert RunRecord.read(tmp_path) == record
    (tmp_path / "run.json").write_text('{"data_dir": ')
    assert RunRecord.read(tmp_path) is None
    RunRecord.remove(tmp_path)
    assert RunRecord.read(tmp_path) is None
