"""The ports the host agent gives replicas (workers/agent/host_info.py free_port): from a range
below the kernel's ephemeral range, never one something listens on, never one already given."""

from __future__ import annotations

import random
import socket

import pytest

from workers.agent.host_info import REPLICA_PORTS, NoFreePort, free_port, parse_port_range

EPHEMERAL_FIRST = 32768  # Linux's default net.ipv4.ip_local_port_range starts here


class Picks(random.Random):
    """Picks the given ports in order (then fails: the test expected fewer picks)."""

    def __init__(self, *ports: int) -> None:
        super().__init__()
        self.ports = list(ports)

    def randrange(self, start, stop=None, step=1, _int=int):  # type: ignore[override]
        return self.ports.pop(0)


@pytest.fixture
def listener():
    """A socket listening on a port of the replica range (every address)."""
    for port in random.sample(range(*REPLICA_PORTS), 50):
        s = socket.socket()
        try:
            s.bind(("", port))
        except OSError:
            s.close()
            continue
        s.listen()
        yield port
        s.close()
        return
    pytest.fail("no port of the replica range could be bound")


def test_the_default_range_is_below_the_ephemeral_range():
    low, high = REPLICA_PORTS
    assert 1024 < low < high <= EPHEMERAL_FIRST
    ports = {free_port(set()) for _ in range(20)}
    assert all(low <= p < high for p in ports)


def test_a_port_something_listens_on_or_already_given_is_skipped(listener):
    given = listener + 1 if listener + 1 < REPLICA_PORTS[1] else listener - 1
    other = next(p for p in range(*REPLICA_PORTS) if p not in (listener, given))
    assert free_port({given}, rng=Picks(listener, given, other)) == other


def test_when_random_picks_miss_every_port_is_tried_in_turn(listener):
    # a range of two ports, one listened on: the other is found whatever random picks
    low = listener if listener + 1 < REPLICA_PORTS[1] else listener - 1
    assert free_port(set(), (low, low + 2), rng=Picks(*[listener] * 64)) == (low + 1 if low == listener else low)


def test_a_range_with_no_free_port_left_is_refused(listener):
    with pytest.raises(NoFreePort, match=f"no free port left in {listener}-{listener}"):
        free_port(set(), (listener, listener + 1))
    with pytest.raises(NoFreePort):
        free_port({listener + 1}, (listener + 1, listener + 2))


@pytest.mark.parametrize(("text", "expected"), [("20000-31999", (20000, 32000)), ("40000-40000", (40000, 40001))])
def test_port_ranges_are_read(text, expected):
    assert parse_port_range(text) == expected


@pytest.mark.parametrize("text", ["20000", "a-b", "30000-20000", "80-90", "20000-70000", ""])
def test_bad_port_ranges_are_refused(text):
    with pytest.raises(ValueError, match="is not a port range"):
        parse_port_range(text)


def test_the_agent_command_default_is_the_replica_range():
    from openstage.serve import DEFAULT_REPLICA_PORTS

    assert parse_port_range(DEFAULT_REPLICA_PORTS) == REPLICA_PORTS
