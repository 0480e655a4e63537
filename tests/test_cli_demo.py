"""``zenoo-retry demo``: its numbers come from the service it started, counted twice."""
from __future__ import annotations

import json
import re

import pytest

from zenoo_retry.cli.demo import POLICIES, Result, available_policies
from zenoo_retry.cli.flaky_server import Faults, FlakyServer
from cli_support import cli

SHORT = ["--duration", "1.5", "--clients", "8", "--rate", "10", "--outage", "0.5:1.0",
         "--latency", "0.002", "--seed", "3", "--quiet"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo.json"
    r = cli("demo", *SHORT, "--json", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    return r, json.loads(out.read_text())


@pytest.mark.slow
def test_server_counts_match_what_the_clients_observed(demo_run):
    _, data = demo_run
    runnable, _ = available_policies()
    assert [p["policy"] for p in data["policies"]] == [k for k in POLICIES if k in runnable]
    for p in data["policies"]:
        # three independent counts of the same requests: the server's, the HTTP pool's,
        # and the attempts the decorated function made
        assert p["server_received"] == p["client_sent"] == p["attempts"], p["policy"]
        assert p["server_by_status"] == p["client_answers"], p["policy"]
        assert p["client_broken"] == 0 and p["unfinished"] == 0
        assert p["succeeded"] == p["client_answers"].get("200", 0)
        assert p["logical_requests"] > 0
        assert p["amplification"] == p["server_received"] / p["logical_requests"]


@pytest.mark.slow
def test_policies_behave_as_configured(demo_run):
    _, data = demo_run
    by = {p["policy"]: p for p in data["policies"]}
    none, naive, backoff = by["none"], by["naive"], by["backoff"]
    assert none["amplification"] == 1.0 and none["max_attempts_seen"] == 1
    assert none["server_received"] == none["logical_requests"]
    # the outage answered 503 to every policy
    assert all(int(p["server_by_status"].get("503", 0)) > 0 for p in data["policies"])
    # retries: never more than 5 attempts, and more load than without retries
    assert naive["max_attempts_seen"] == backoff["max_attempts_seen"] == 5
    assert naive["amplification"] > 1.0 and backoff["amplification"] > 1.0
    assert naive["give_ups"].keys() <= {"max attempts"}
    assert none["give_ups"].keys() <= {"error"}
    # the same traffic (seeded arrivals) is sent under every policy
    assert len({p["logical_requests"] for p in data["policies"]}) == 1
    if "budget" in by:
        assert by["budget"]["amplification"] < backoff["amplification"]
    if "breaker" in by:
        assert by["breaker"]["outage_amplification"] < backoff["outage_amplification"]


@pytest.mark.slow
def test_printed_table_shows_the_measured_numbers(demo_run):
    r, data = demo_run
    for p in data["policies"]:
        row = re.search(rf"^{re.escape(p['label'])}\s+([0-9.]+)%\s+([0-9.]+)x\s+([0-9.]+)x", r.stdout, re.M)
        assert row, (p["label"], r.stdout)
        assert float(row.group(1)) == round(100 * p["success_rate"], 1)
        assert float(row.group(2)) == round(p["amplification"], 2)
        assert float(row.group(3)) == round(p["outage_amplification"], 2)
    assert re.search(r"^no retry\s+[0-9.]+%\s+1\.00x", r.stdout, re.M)
    assert "requests the server received per second" in r.stdout


def test_missing_budget_or_breaker_is_said_not_hidden():
    runnable, notes = available_policies()
    r = cli("demo", "--duration", "0.3", "--clients", "1", "--rate", "5", "--outage", "none",
            "--policies", "none,budget,breaker", "--quiet")
    assert r.returncode == 0, r.stderr
    for key in ("budget", "breaker"):
        if key in runnable:
            assert POLICIES[key] in r.stdout
        else:
            assert POLICIES[key] not in r.stdout and "not in this build yet" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--outage", "3:1"], "argument --outage: must be START:END with 0 <= START < END, got '3:1'"),
    (["--outage", "soon"], "argument --outage: must be START:END in seconds"),
    (["--error-rate", "1.5"], "argument --error-rate: must be a fraction in [0, 1], got '1.5'"),
    (["--clients", "0"], "argument --clients: must be an integer >= 1, got '0'"),
    (["--policies", "none,bogus"], "--policies: choose from none, naive, backoff, budget, breaker"),
    (["--duration", "2", "--outage", "5:6"], "--outage: starts at 5s, after the 2s --duration"),
])
def test_bad_flags(args, message):
    r = cli("demo", *args)
    assert r.returncode == 2 and message in r.stderr


def test_plot_without_matplotlib_says_so(tmp_path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        r = cli("demo", "--plot", str(tmp_path / "x.png"))
        assert r.returncode == 2 and "--plot needs matplotlib" in r.stderr
    else:
        r = cli("demo", "--duration", "0.5", "--clients", "2", "--outage", "0.1:0.2", "--policies", "none,naive",
                "--quiet", "--plot", str(tmp_path / "x.png"))
        assert r.returncode == 0 and (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


# --- the parts, in-process with a fake clock ---------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_server_faults_with_a_fake_clock():
    clock = Clock()
    srv = FlakyServer(Faults(error_rate=0.0, outage=(1.0, 2.0), rate_limit=20.0), seed=1, clock=clock)
    srv.begin_phase()
    assert [srv._decide(clock.now) for _ in range(3)] == [200, 200, 429]  # burst of 2 tokens
    clock.now += 0.06  # 1.2 tokens back
    assert [srv._decide(clock.now) for _ in range(2)] == [200, 429]
    clock.now = srv.phase_start + 1.5
    assert srv._decide(clock.now) == 503
    clock.now = srv.phase_start + 2.0
    assert srv._decide(clock.now) == 200
    errors = FlakyServer(Faults(error_rate=1.0), clock=clock)
    errors.begin_phase()
    assert errors._decide(clock.now) == 500


def test_recovery_and_window_amplification_from_records():
    # ok before 1.0, failing during the outage [1, 2), failing until 2.6, then ok again
    recs = [(t / 10, t / 10 + 0.01, not (10 <= t < 26), "x", 1) for t in range(40)]
    timeline = [1] * 10 + [3] * 10 + [1] * 20  # server saw 3 attempts per request in the outage
    r = Result("naive", "naive retry", recs, 0, sum(timeline), {}, timeline, 0, {}, 0)
    assert r.window_amplification(1.0, 2.0) == 3.0
    assert r.recovery((1.0, 2.0), 4.0) == pytest.approx(0.6)
    assert r.recovery((1.0, 2.0), 2.5) is None
