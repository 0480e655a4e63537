"""The simulated full outage: 1,000 clients, a 3-attempt policy, a server that is down.
Figures are computed by the run (real @retry wrappers and real budgets on a simulated
clock), then checked against the issue's targets."""
from __future__ import annotations

import pytest

from zenoo_retry import InvalidConfigurationError, RetryBudget
from zenoo_retry.simulation import format_table, main, simulate_outage, standard_scenarios

CLIENTS, SECONDS = 1000, 30


@pytest.fixture(scope="module")
def no_budget():
    return simulate_outage("no budget", clients=CLIENTS, seconds=SECONDS, max_attempts=3)


@pytest.fixture(scope="module")
def ratio_run():
    made = []

    def factory(clock):
        made.append(RetryBudget.ratio(clock=clock))
        return made[-1]

    result = simulate_outage("ratio", clients=CLIENTS, seconds=SECONDS, max_attempts=3, budget=factory)
    return result, made


def test_without_a_budget_the_server_sees_three_times_the_load(no_budget):
    r = no_budget
    assert r.calls == CLIENTS * SECONDS
    assert r.attempts == sum(r.per_second)
    assert r.amplification == pytest.approx(3.0)
    assert r.outcomes == {"MaxRetriesExceededError": r.calls}
    assert r.sleeps == 2 * r.calls  # two skipped waits per call


def test_default_ratio_budget_keeps_load_under_1_25x(ratio_run):
    r, made = ratio_run
    assert len(made) == 1  # one budget shared by every client
    budget = made[0]
    assert 1.0 < r.amplification <= 1.25
    # every retry the server saw was a token the real budget granted
    stats = budget.stats()
    assert r.attempts - r.calls == stats["granted"]
    assert stats["requests"] == r.calls
    # and the budget's own bound holds: 20 % of the calls plus 10/s over each 10 s window
    assert stats["granted"] <= 0.2 * r.calls + 10 * 10 * (SECONDS // 10)
    # in steady state (any later second) the ratio applies second by second too
    assert r.amplification_between(SECONDS - 10) <= 1.25
    assert r.outcomes["BudgetExhaustedError"] > 0
    assert sum(r.outcomes.values()) == r.calls


def test_every_simulated_second_is_counted(no_budget, ratio_run):
    assert no_budget.per_second == (3 * CLIENTS,) * SECONDS
    r, _ = ratio_run
    assert len(r.per_second) == SECONDS and all(s >= CLIENTS for s in r.per_second)


def test_the_simulation_is_deterministic():
    a = simulate_outage(clients=50, seconds=12, budget=lambda c: RetryBudget.ratio(clock=c))
    b = simulate_outage(clients=50, seconds=12, budget=lambda c: RetryBudget.ratio(clock=c))
    assert a == b


def test_token_bucket_budget_adds_its_capacity_plus_refill():
    r = simulate_outage(clients=200, seconds=10, budget=lambda c: RetryBudget(100, 10.0, clock=c))
    extra = r.attempts - r.calls
    assert 100 <= extra <= 100 + 10 * 10


def test_a_budget_per_client_does_not_protect_at_low_rates():
    # each client's 10/s floor exceeds its own 1 call/s: every retry is allowed
    r = simulate_outage(clients=20, seconds=5, budget=lambda c: RetryBudget.ratio(clock=c), per_client=True)
    assert r.amplification == pytest.approx(3.0)


def test_standard_table_and_cli(capsys):
    results = standard_scenarios(clients=100, seconds=10)
    table = format_table(results)
    assert table.count("\n") == len(results) + 1
    assert "3.000x" in table
    assert main(["50", "5"]) == 0
    assert "amplification" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"clients": 0}, InvalidConfigurationError),
        ({"seconds": 0}, InvalidConfigurationError),
        ({"max_attempts": 0}, InvalidConfigurationError),
        ({"clients": 2.5}, TypeError),
        ({"budget": "ratio"}, TypeError),
        ({"breaker": 3}, TypeError),
    ],
)
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        simulate_outage(**kwargs)


@pytest.mark.parametrize("recovery", [30.0, 5.0])
def test_a_breaker_lets_almost_nothing_through_after_the_trip(recovery):
    from zenoo_retry.simulation import simulate_breaker_outage

    r = simulate_breaker_outage("breaker", clients=CLIENTS, seconds=SECONDS, recovery_timeout=recovery)
    assert r.trip_time is not None and r.trip_time < 1.0
    before = r.attempts - r.attempts_after(r.trip_time)
    assert before == 5  # failure_threshold failures open it
    after = r.attempts_after(r.trip_time)
    # at most one half-open probe per elapsed recovery period, nothing else
    assert after <= int(SECONDS / recovery)
    assert after / r.calls < 0.001
    assert r.outcomes.get("CircuitBreakerOpenError", 0) >= r.calls - 10


def test_breaker_and_budget_together():
    from zenoo_retry.simulation import simulate_breaker_outage

    r = simulate_breaker_outage(
        "both", clients=200, seconds=12, recovery_timeout=5.0, budget=lambda c: RetryBudget.ratio(clock=c)
    )
    assert r.trip_time is not None
    assert r.attempts_after(r.trip_time) <= 2
