"""``zenoo-retry run``: the real CLI in a subprocess retrying real commands."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from zenoo_retry.strategies import ExponentialBackoffStrategy
from cli_support import cli, cli_env, popen_cli

FLAKY = textwrap.dedent("""
    import sys, os
    counter, fails, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    sys.exit(code if n < fails else 0)
""")

TRAP = textwrap.dedent("""
    import os, signal, sys, time
    log = sys.argv[1]
    def on_signal(signum, frame):
        with open(log, "a") as f:
            f.write(f"got {signum}\\n")
        sys.exit(100 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(log, "a") as f:
        f.write(f"ready {os.getpid()}\\n")
    time.sleep(60)
""")

FAST = ["--delay", "0.01", "--max-delay", "0.05"]


@pytest.fixture
def flaky(tmp_path):
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY)
    counter = tmp_path / "count"

    def command(fails: int, code: int) -> list:
        return [sys.executable, str(script), str(counter), str(fails), str(code)]

    command.calls = lambda: int(counter.read_text()) if counter.exists() else 0  # type: ignore[attr-defined]
    return command


def test_flaky_command_succeeds_on_third_attempt(flaky):
    r = cli("run", "--attempts", "5", *FAST, "--", *flaky(2, 3))
    assert r.returncode == 0, r.stderr
    assert flaky.calls() == 3
    assert "attempt 1/5 failed: exit 3" in r.stderr
    assert "attempt 2/5 failed: exit 3" in r.stderr
    assert "attempt 3/5 succeeded" in r.stderr


def test_gives_up_with_the_commands_own_exit_code(flaky):
    r = cli("run", "--attempts", "3", *FAST, "--", *flaky(99, 7))
    assert r.returncode == 7
    assert flaky.calls() == 3
    assert "giving up: attempt 3/3 failed: exit 7" in r.stderr


def test_never_retry_on_exit(flaky):
    r = cli("run", "--attempts", "5", *FAST, "--never-retry-on-exit", "2,9", "--", *flaky(99, 2))
    assert r.returncode == 2
    assert flaky.calls() == 1
    assert "not retried (--never-retry-on-exit)" in r.stderr


def test_retry_on_exit_lists_the_only_retried_codes(flaky, tmp_path):
    r = cli("run", "--attempts", "5", *FAST, "--retry-on-exit", "1,75", "--", *flaky(2, 75))
    assert r.returncode == 0 and flaky.calls() == 3
    (tmp_path / "count").unlink()
    r = cli("run", "--attempts", "5", *FAST, "--retry-on-exit", "1,75", "--", *flaky(2, 3))
    assert r.returncode == 3 and flaky.calls() == 1
    assert "not in --retry-on-exit" in r.stderr


def test_delays_come_from_the_engine_with_the_seed(flaky):
    r = cli("run", "--attempts", "4", "--delay", "0.02", "--jitter", "full", "--seed", "42", "--",
            *flaky(99, 1))
    assert r.returncode == 1
    logged = [float(x) for x in re.findall(r"retrying in ([0-9.]+)s", r.stderr)]
    expected = ExponentialBackoffStrategy(max_attempts=4, base_delay=0.02, seed=42).iter_delays()
    assert logged == [round(d, 3) for d in expected]
    assert len(logged) == 3


def test_timeout_kills_the_running_command(tmp_path):
    log = tmp_path / "trap.log"
    (tmp_path / "trap.py").write_text(TRAP)
    r = cli("run", "--attempts", "3", "--timeout", "1", "--kill-after", "5", "--",
            sys.executable, str(tmp_path / "trap.py"), str(log))
    assert r.returncode == 124, r.stderr
    lines = log.read_text().split()
    # the command got SIGTERM from the deadline and was not started again
    assert lines.count("ready") == 1 and "got" in lines and str(int(signal.SIGTERM)) in lines
    pid = int(lines[lines.index("ready") + 1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "timeout of 1s reached during attempt 1/3" in r.stderr


def test_timeout_that_leaves_no_room_for_the_next_wait(flaky):
    r = cli("run", "--attempts", "5", "--delay", "30", "--jitter", "none", "--timeout", "5", "--",
            *flaky(99, 1))
    assert r.returncode == 124
    assert flaky.calls() == 1
    assert "leaves no time for another" in r.stderr


def _wait_for_ready(log, proc):
    for _ in range(600):  # the child writes "ready" once its handlers are installed
        if log.exists() and "ready" in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"CLI exited early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("the command never started")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_are_forwarded_to_the_command(tmp_path, signum):
    log = tmp_path / "trap.log"
    (tmp_path / "trap.py").write_text(TRAP)
    proc = popen_cli("run", "--attempts", "5", *FAST, "--", sys.executable, str(tmp_path / "trap.py"), str(log))
    try:
        _wait_for_ready(log, proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"got {int(signum)}" in log.read_text()
    assert proc.returncode == 100 + int(signum)  # the command's own exit status
    assert log.read_text().count("ready") == 1  # no further attempt after a signal
    assert "forwarded to the command" in err


def test_signal_between_attempts_stops_retrying(flaky, tmp_path):
    errfile = tmp_path / "stderr.txt"
    with open(errfile, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "zenoo_retry", "run", "--attempts", "5", "--delay", "30",
                                 "--jitter", "none", "--", *flaky(99, 1)], stderr=err, env=cli_env())
        try:
            for _ in range(600):  # wait until the CLI is in its 30 s retry sleep
                if "retrying in" in errfile.read_text() or proc.poll() is not None:
                    break
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 128 + int(signal.SIGTERM)
    assert flaky.calls() == 1
    assert "SIGTERM: received between attempts" in errfile.read_text()


def test_command_not_found():
    r = cli("run", "--", "zenoo-retry-no-such-command-xyz")
    assert r.returncode == 127
    assert "command not found: zenoo-retry-no-such-command-xyz" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--attempts", "0", "--", "true"], "argument --attempts: must be an integer >= 1, got '0'"),
    (["--delay", "-1", "--", "true"], "argument --delay: must be a number >= 0, got '-1'"),
    (["--retry-on-exit", "x", "--", "true"], "argument --retry-on-exit: must be comma-separated exit codes"),
    (["--retry-on-exit", "300", "--", "true"], "exit codes are 0-255, got 300"),
    (["--retry-on-exit", "1,2", "--never-retry-on-exit", "2", "--", "true"], "both list 2"),
    (["--multiplier", "0.5", "--", "true"], "--multiplier must be a finite number >= 1, got 0.5"),
    (["--jitter", "wobbly", "--", "true"], "argument --jitter: invalid choice: 'wobbly'"),
    (["--policy", "nope", "--", "true"], "argument --policy: invalid choice: 'nope'"),
    (["--attempts", "3"], "give the command to run after --"),
])
def test_bad_flags_exit_2_and_say_what_is_wrong(args, message):
    r = cli("run", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "usage: zenoo-retry run" in r.stderr


def test_help_everywhere():
    for args in ([], ["run"], ["plan"], ["demo"]):
        r = cli(*args, "--help")
        assert r.returncode == 0 and "usage: zenoo-retry" in r.stdout
    r = cli()
    assert r.returncode == 2 and "choose a command" in r.stderr
    assert "--retry-on-exit" in cli("run", "--help").stdout


def test_console_script_points_at_the_cli():
    from importlib import metadata

    eps = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "zenoo-retry"]
    if not eps:
        pytest.skip("zenoo_retry is not installed as a distribution here")
    from zenoo_retry.cli.main import main

    assert eps[0].load() is main


def test_quiet_logs_only_a_failure(flaky, tmp_path):
    r = cli("run", "-q", "--attempts", "3", *FAST, "--", *flaky(99, 4))
    assert r.returncode == 4
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("zenoo-retry:")] == [
        "zenoo-retry: giving up: attempt 3/3 failed: exit 4 " + r.stderr.split("exit 4 ", 1)[1].splitlines()[0]]
    (tmp_path / "count").unlink()
    r = cli("run", "-q", "--attempts", "3", *FAST, "--", *flaky(1, 4))
    assert r.returncode == 0 and "zenoo-retry:" not in r.stderr
