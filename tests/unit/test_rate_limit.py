from api_edge.rate_limit import RateLimiter, retry_after_header


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_burst_then_refill():
    clock = Clock()
    rl = RateLimiter(rate=2, burst=3, clock=clock)
    assert [rl.acquire("ak") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.acquire("ak")
    assert 0 < wait <= 0.5
    clock.t += 0.5  # one token back at 2/s
    assert rl.acquire("ak") == 0.0
    assert rl.acquire("ak") > 0


def test_keys_are_independent():
    clock = Clock()
    rl = RateLimiter(rate=1, burst=1, clock=clock)
    assert rl.acquire("a") == 0.0
    assert rl.acquire("a") > 0
    assert rl.acquire("b") == 0.0


def test_disabled_when_rate_is_zero():
    rl = RateLimiter(rate=0)
    assert not rl.enabled
    assert all(rl.acquire("a") == 0.0 for _ in range(10_000))


def test_bucket_never_exceeds_burst():
    clock = Clock()
    rl = RateLimiter(rate=10, burst=2, clock=clock)
    clock.t += 3600
    assert [rl.acquire("a") == 0.0 for _ in range(3)] == [True, True, False]


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


def _refused(rl: RateLimiter, clock: Clock, rate: float, seconds: float) -> int:
    """Requests of one credential evenly spaced at ``rate``/s for ``seconds``: how many are refused."""
    refused = 0
    step = 1.0 / rate
    for _ in range(int(rate * seconds)):
        clock.t += step
        refused += rl.acquire("tenant-ak") > 0
    return refused


def test_default_limit_never_refuses_a_tenants_registry_traffic_at_benchmark_rates():
    from services.settings import Settings

    settings = Settings()
    # Service-Center's published figures (2 cores), openstage's heartbeat on 16 cores (session 4)
    # and its find of one instance on 2 cores with the edge's registry memory (session 6)
    for rate in (699, 5069, 7068, 7577, 3242, 544, 16496, 17354):
        clock = Clock()
        rl = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst, clock=clock)
        assert _refused(rl, clock, rate, 3.0) == 0, rate


def test_default_limit_still_stops_a_runaway_client():
    from services.settings import Settings

    settings = Settings()
    clock = Clock()
    rl = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst, clock=clock)
    # twice the limit for 5 s: the burst absorbs the first 2 s, then about half is refused
    refused = _refused(rl, clock, 2 * settings.rate_limit_per_second, 5.0)
    assert refused > 0.25 * 2 * settings.rate_limit_per_second * 5.0
