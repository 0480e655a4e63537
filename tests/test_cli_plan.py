"""``zenoo-retry plan``: the printed numbers are the strategy's own."""
from __future__ import annotations

import re

import pytest

from zenoo_retry import ExponentialBackoffStrategy, NetworkRetryPolicy
from zenoo_retry.policies import PRESETS
from cli_support import cli

ROW = re.compile(r"^\s*(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*$")


def table(stdout: str) -> dict:
    rows = {}
    for line in stdout.splitlines():
        m = ROW.match(line)
        if m:
            n, *values = m.groups()
            rows[int(n)] = dict(zip(("nominal", "p5", "p50", "p95", "max", "sum_p50", "sum_max"),
                                    map(float, values)))
    return rows


def test_without_jitter_every_column_is_the_schedule():
    r = cli("plan", "--attempts", "7", "--delay", "0.2", "--max-delay", "5", "--jitter", "none")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    expected = ExponentialBackoffStrategy(max_attempts=7, base_delay=0.2, max_delay=5, jitter=False).delays()
    assert sorted(rows) == list(range(1, 7))
    for n, d in enumerate(expected, 1):
        assert rows[n]["nominal"] == rows[n]["p5"] == rows[n]["p50"] == rows[n]["p95"] == rows[n]["max"] == round(d, 3)
    assert rows[6]["sum_max"] == round(sum(expected), 3)
    assert f"max {sum(expected):.3f}s" in r.stdout


def test_full_jitter_percentiles_match_the_engine():
    r = cli("plan", "--policy", "network", "--samples", "20000")
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    strategy = NetworkRetryPolicy().strategy
    assert sorted(rows) == list(range(1, strategy.max_attempts))
    for n, row in rows.items():
        nominal = strategy.raw_delay(n)
        assert row["nominal"] == round(nominal, 3)
        # full jitter is U(0, nominal): its quantiles are p/100 * nominal
        assert row["p5"] == pytest.approx(0.05 * nominal, abs=0.02 * nominal)
        assert row["p50"] == pytest.approx(0.50 * nominal, abs=0.02 * nominal)
        assert row["p95"] == pytest.approx(0.95 * nominal, abs=0.02 * nominal)
        assert row["p5"] <= row["p50"] <= row["p95"] <= row["max"] <= nominal
    assert "timeout 120s" in r.stdout and "never more than the 120s timeout" in r.stdout


def test_same_seed_same_plan_other_seed_other_plan():
    a = cli("plan", "--policy", "http", "--seed", "5", "--samples", "500").stdout
    b = cli("plan", "--policy", "http", "--seed", "5", "--samples", "500").stdout
    c = cli("plan", "--policy", "http", "--seed", "6", "--samples", "500").stdout
    assert a == b and a != c


def test_timeout_shorter_than_the_waits():
    r = cli("plan", "--policy", "aggressive", "--timeout", "3", "--jitter", "none")
    assert "the 3s timeout ends the call first" in r.stdout


def test_text_chart_has_one_bar_per_retry():
    r = cli("plan", "--attempts", "4", "--delay", "1", "--jitter", "none")
    bars = re.findall(r"^\s*\d+ \[([#\- |]+)\]", r.stdout, re.M)
    assert [b.count("#") for b in bars] == [10, 20, 40]


def test_presets_lists_every_preset():
    r = cli("plan", "--presets")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert names == sorted(PRESETS)


def test_bad_flags():
    r = cli("plan", "--samples", "0")
    assert r.returncode == 2 and "argument --samples: must be an integer >= 1, got '0'" in r.stderr
    r = cli("plan", "--max-delay", "nan")
    assert r.returncode == 2 and "argument --max-delay: must be a number >= 0, got 'nan'" in r.stderr
