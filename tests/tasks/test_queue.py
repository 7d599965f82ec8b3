"""The local Cloud Tasks' scheduling, on a clock the tests move: limits, retries, names."""

from __future__ import annotations

import json

import pytest

from local.tasks import config
from local.tasks.config import QueueSettings, RetryPolicy, parse_duration
from local.tasks.queue import AlreadyExists, NotFound, Outcome, Queue, Task

NAME = "projects/p/locations/l/queues/q"
OK, FAIL = Outcome(200, "HTTP 200"), Outcome(500, "HTTP 500")


def task(task_id: str, at: float = 0.0) -> Task:
    return Task(
        name=f"{NAME}/tasks/{task_id}",
        url="http://127.0.0.1:1/",
        method="POST",
        headers={},
        body=b"{}",
        schedule_time=at,
        create_time=0.0,
        dispatch_deadline=600.0,
    )


def queue(**kw: object) -> Queue:
    return Queue(NAME, QueueSettings(**kw), now=0.0)  # type: ignore[arg-type]


def test_backoff_follows_retry_config() -> None:
    # RetryConfig's own example: 10 s, 300 s, 3 doublings.
    policy = RetryPolicy(min_backoff=10, max_backoff=300, max_doublings=3)
    assert [policy.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]
    # No doublings: linear steps of min_backoff.
    assert [RetryPolicy(min_backoff=5, max_doublings=0).backoff(n) for n in (1, 2, 3)] == [
        5,
        10,
        15,
    ]
    # The emails queue: 30 s, 60 s, then linear steps of 60 s, capped at an hour.
    emails = config.load()["emails"].retry
    assert [emails.backoff(n) for n in range(1, 6)] == [30, 60, 120, 180, 240]
    assert emails.backoff(100) == 3600


def test_retry_limits_both_have_to_be_met() -> None:
    assert not RetryPolicy(max_attempts=3).exhausted(2, age=1e9)
    assert RetryPolicy(max_attempts=3).exhausted(3, age=0)
    aged = RetryPolicy(max_attempts=3, max_retry_duration=60)
    assert not aged.exhausted(5, age=59) and aged.exhausted(5, age=60)
    assert not aged.exhausted(2, age=600)
    assert not RetryPolicy(max_attempts=-1).exhausted(10_000, age=1e9)  # until retention
    assert RetryPolicy(max_attempts=-1, max_retry_duration=60).exhausted(1, age=60)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        RetryPolicy(min_backoff=10, max_backoff=5)
    with pytest.raises(ValueError, match="max_dispatches_per_second"):
        QueueSettings(max_dispatches_per_second=501)
    with pytest.raises(ValueError, match="max_concurrent_dispatches"):
        QueueSettings(max_concurrent_dispatches=0)
    assert parse_duration("5s") == 5 and parse_duration("0.25s") == 0.25
    with pytest.raises(ValueError, match="5s"):
        parse_duration("5m")


def test_load_names_the_file_of_a_bad_queue(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "queues.json"
    path.write_text(json.dumps({"q": {"retry": {"min_backoff": "1 minute"}}}))
    with pytest.raises(ValueError, match=r"queues\.json.*5s"):
        config.load(path)


def test_burst_is_a_second_of_the_rate_within_1_and_100() -> None:
    assert QueueSettings(max_dispatches_per_second=0.5).max_burst_size == 1
    assert QueueSettings(max_dispatches_per_second=10).max_burst_size == 10
    assert QueueSettings(max_dispatches_per_second=500).max_burst_size == 100


def test_concurrency_cap_is_held_and_used() -> None:
    q = queue(max_concurrent_dispatches=2)
    for i in range(4):
        q.add(task(f"t{i}"), now=0)
    first, second = q.take_due(0), q.take_due(0)
    assert isinstance(first, Task) and isinstance(second, Task)
    assert q.take_due(0) is None and q.in_flight == 2  # full: only an answer frees a slot
    assert q.finish(first, OK, now=1) == "done"
    third = q.take_due(1)
    assert isinstance(third, Task) and third.id == "t2"
    assert q.take_due(1) is None


def test_rate_limit_is_a_token_bucket() -> None:
    q = queue(max_dispatches_per_second=2)  # burst 2
    for i in range(5):
        q.add(task(f"t{i}"), now=0)
    assert isinstance(q.take_due(0), Task) and isinstance(q.take_due(0), Task)
    assert q.take_due(0) == pytest.approx(0.5)  # the next token
    assert isinstance(q.take_due(0.5), Task)
    assert q.take_due(0.5) == pytest.approx(1.0)
    assert isinstance(q.take_due(10), Task) and isinstance(q.take_due(10), Task)


def test_schedule_time_is_honoured_earliest_first() -> None:
    q = queue()
    q.add(task("late", at=20), now=0)
    q.add(task("soon", at=10), now=0)
    assert q.take_due(0) == 10
    picked = q.take_due(10)
    assert isinstance(picked, Task) and picked.id == "soon"
    assert picked.attempts[0].scheduled_at == 10 and picked.attempts[0].dispatched_at == 10
    assert q.take_due(10) == 20


def test_a_failure_is_retried_after_the_backoff_until_max_attempts() -> None:
    q = queue(retry=RetryPolicy(max_attempts=3, min_backoff=2, max_backoff=100, max_doublings=4))
    q.add(task("t"), now=0)
    now, fates = 0.0, []
    while True:
        picked = q.take_due(now)
        if picked is None:
            break
        if not isinstance(picked, Task):
            now = picked
            continue
        now += 0.5  # the worker answers after half a second
        fates.append(q.finish(picked, FAIL, now))
    assert fates == ["retry", "retry", "gave up"]
    attempts = q.history(f"{NAME}/tasks/t")
    assert [a.scheduled_at for a in attempts] == [0, 0.5 + 2, 3.0 + 4]
    assert [a.number for a in attempts] == [1, 2, 3]
    with pytest.raises(NotFound):
        q.get(f"{NAME}/tasks/t")


def test_retry_after_stretches_the_backoff_and_429_503_throttle_the_queue() -> None:
    q = queue(max_dispatches_per_second=8, retry=RetryPolicy(min_backoff=1))
    q.add(task("t"), now=0)
    picked = q.take_due(0)
    assert isinstance(picked, Task)
    assert q.finish(picked, Outcome(503, "HTTP 503", retry_after=30), now=1) == "retry"
    assert picked.schedule_time == 31
    assert q.rate == 4
    q.add(task("u"), now=1)
    other = q.take_due(1)
    assert isinstance(other, Task)
    q.finish(other, Outcome(429, "HTTP 429"), now=1)
    assert q.rate == 2
    again = q.take_due(31)
    assert isinstance(again, Task)
    q.finish(again, OK, now=31)
    assert q.rate == 4  # each success undoes one halving


def test_names_are_refused_while_the_task_exists_and_for_an_hour_after() -> None:
    q = queue()
    q.add(task("t"), now=0)
    with pytest.raises(AlreadyExists):
        q.add(task("t"), now=1)
    picked = q.take_due(1)
    assert isinstance(picked, Task)
    q.finish(picked, OK, now=2)
    with pytest.raises(AlreadyExists):
        q.add(task("t"), now=3600)  # ran at 2: still within the hour
    q.add(task("t"), now=3602.5)
    q.delete(f"{NAME}/tasks/t", now=3603)
    with pytest.raises(AlreadyExists):
        q.add(task("t"), now=3604)  # deleted names are kept too


def test_a_task_deleted_while_it_runs_is_not_retried() -> None:
    q = queue()
    q.add(task("t"), now=0)
    picked = q.take_due(0)
    assert isinstance(picked, Task)
    q.delete(picked.name, now=1)
    assert q.finish(picked, FAIL, now=2) == "deleted"
    assert q.take_due(100) is None and q.in_flight == 0


def test_execution_count_leaves_out_5xx_answers_and_no_answers() -> None:
    q = queue(retry=RetryPolicy(min_backoff=0))
    q.add(task("t"), now=0)
    outcomes = [Outcome(404, "HTTP 404"), Outcome(500, "HTTP 500"), Outcome(None, "DEADLINE")]
    for outcome in outcomes:
        picked = q.take_due(0)
        assert isinstance(picked, Task)
        q.finish(picked, outcome, now=0)
    picked = q.take_due(0)
    assert isinstance(picked, Task)
    assert picked.execution_count == 1  # the 404 only
    assert picked.response_count == 2
