"""The zenoo_retry logger: NullHandler by default, structured fields, structlog."""
import io
import json
import logging

import pytest

from zenoo_retry import ExponentialBackoffStrategy, MaxRetriesExceededError, logs, retry
from zenoo_retry.testing import instant_retries

from helpers import Flaky

NOJ = ExponentialBackoffStrategy(max_attempts=2, base_delay=0.5, jitter=False)


def test_null_handler_by_default():
    handlers = logging.getLogger("zenoo_retry").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_retry_and_give_up_records_carry_fields(caplog):
    f = retry(strategy=NOJ, name="fetch")(Flaky(ConnectionError("no route"), ConnectionError("again")))
    with caplog.at_level(logging.DEBUG, logger="zenoo_retry"), instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            f()
    recs = [r for r in caplog.records if r.name == "zenoo_retry"]
    assert [(r.levelno, r.retry_event) for r in recs] == [(logging.INFO, "retry"), (logging.WARNING, "give_up")]
    first, last = recs
    assert (first.operation, first.attempt, first.max_attempts, first.delay) == ("fetch", 1, 2, 0.5)
    assert first.error_type == "ConnectionError" and first.error == "no route"
    assert last.reason == "exhausted" and last.attempt == 2 and last.delay is None
    assert last.error_type == "MaxRetriesExceededError"
    assert "fetch" in first.getMessage() and "0.500s" in first.getMessage()


def test_success_path_logs_nothing_and_uninstall(caplog):
    with caplog.at_level(logging.DEBUG, logger="zenoo_retry"):
        assert retry(lambda: 1)() == 1
        logs.uninstall()
        try:
            with instant_retries():
                retry(strategy=NOJ)(Flaky(OSError(), result=2))()
        finally:
            logs.install()
    assert [r for r in caplog.records if r.name == "zenoo_retry"] == []


def test_breaker_transition_record(caplog):
    with caplog.at_level(logging.INFO, logger="zenoo_retry"):
        logs.log_breaker_transition(object(), "closed", "open", name="db")
    (rec,) = [r for r in caplog.records if r.name == "zenoo_retry"]
    assert rec.levelno == logging.WARNING and rec.breaker == "db"
    assert (rec.old_state, rec.new_state, rec.retry_event) == ("closed", "open", "breaker")


def test_works_with_structlog_stdlib_integration():
    structlog = pytest.importorskip("structlog")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.ExtraAdder()],
    ))
    logger = logging.getLogger("zenoo_retry")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with instant_retries():
            retry(strategy=NOJ, name="s3.get")(Flaky(TimeoutError("slow"), result=1))()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    (line,) = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["level"] == "info" and event["retry_event"] == "retry"
    assert event["operation"] == "s3.get" and event["attempt"] == 1 and event["delay"] == 0.5
    assert event["error_type"] == "TimeoutError" and "retrying s3.get" in event["event"]


def test_breakers_given_to_retry_log_their_transitions_once(caplog):
    class ListeningBreaker:
        state = "closed"

        def __init__(self):
            self.listeners = []
            self.name = "payments"

        def add_listener(self, fn):
            self.listeners.append(fn)

        def _zr_enter(self):
            return None

        def _zr_exit(self, token, exc):
            pass

    b = ListeningBreaker()
    retry(circuit_breaker=b)(lambda: 1)
    retry(circuit_breaker=b)(lambda: 2)
    assert len(b.listeners) == 1
    with caplog.at_level(logging.INFO, logger="zenoo_retry"):
        b.listeners[0](b, "open", "half_open")
    (rec,) = [r for r in caplog.records if r.name == "zenoo_retry"]
    assert rec.levelno == logging.INFO and rec.breaker == "payments"
    assert (rec.old_state, rec.new_state) == ("open", "half_open")


def test_real_breaker_transitions_are_logged(caplog):
    cb_mod = pytest.importorskip("zenoo_retry.circuit_breaker")
    from zenoo_retry import CircuitBreakerOpenError

    breaker = cb_mod.CircuitBreaker(failure_threshold=1, recovery_timeout=60.0, name="search")
    f = retry(strategy=NOJ, circuit_breaker=breaker, name="s")(Flaky(OSError(), OSError()))
    with caplog.at_level(logging.INFO, logger="zenoo_retry"), instant_retries():
        with pytest.raises(CircuitBreakerOpenError):
            f()
    recs = [r for r in caplog.records if r.name == "zenoo_retry"]
    trans = [r for r in recs if r.retry_event == "breaker"]
    assert [(r.breaker, r.old_state, r.new_state, r.levelno) for r in trans] == [
        ("search", "closed", "open", logging.WARNING)]
    assert recs[-1].retry_event == "give_up" and recs[-1].reason == "breaker_rejected"
