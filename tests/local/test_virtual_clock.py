"""The local AWS's virtual clock: timers, jumps while everything waits, busy work, events; and the local Bedrock's
lifecycles and state change events on it."""

from __future__ import annotations

import functools
import json
import threading
import time
from datetime import UTC
from typing import Any

import pytest

from bedrock_finetune_local import aws
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.clock import CLOCK, QUIET_SECONDS, VirtualClock, VirtualEvent

from .conftest import ACCOUNT, BUCKET, REGION, job_request

#: Wall time a test lets pass to show that the clock did not jump: many times the quiet period it waits for, far
#: below the time after which it reports a stall (STALL_SECONDS).
SETTLE_WALL_SECONDS = 10 * QUIET_SECONDS
HOUR = 3600.0


def in_thread(target: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``target()`` in a daemon thread; its result lands in the returned list."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(target()), daemon=True)
    thread.start()
    return thread, results


# --- timers -----------------------------------------------------------------------------------------------------------
def test_advance_fires_the_due_timers_in_time_order_and_not_the_later_ones() -> None:
    # Given a fresh clock with timers 10 s, 30 s, 40 s and 100 s ahead, registered out of order
    clock = VirtualClock()
    start = clock.now()
    fired: list[str] = []
    for offset, name in ((30, "b"), (100, "late"), (10, "a"), (40, "c")):
        clock.call_at(start + offset, functools.partial(fired.append, name), name=name)

    # When it advances 60 s (stopping at each due timer's moment on the way)
    seen: list[float] = []
    clock.call_at(start + 20, lambda: seen.append(clock.now() - start), name="at 20 s")
    clock.advance(60)

    # Then the three due timers ran in time order, the later one did not, and time moved by the jump
    assert fired == ["a", "b", "c"]
    assert clock.stats.timers_fired == 4
    # each ran at its own moment, not at the end of the jump
    assert 20 <= seen[0] < 21
    assert start + 60 <= clock.now() < start + 61
    # And the later one runs once the clock reaches it
    clock.advance(40)
    assert fired == ["a", "b", "c", "late"]
    # one jump to each timer's moment (10, 20, 30, 40 s), one to 60 s, then one to 100 s
    assert (clock.stats.jumps, clock.stats.stalls) == (7, 0)


def test_advance_returns_after_every_due_timer_ran_in_time_order_even_when_one_takes_a_while() -> None:
    # Given a fresh clock whose first due timer takes 50 ms of wall time (a timer callback that publishes events)
    clock = VirtualClock()
    start = clock.now()
    fired: list[str] = []

    def slow() -> None:
        time.sleep(0.05)
        fired.append("a")

    clock.call_at(start + 10, slow, name="a")
    clock.call_at(start + 20, lambda: fired.append("b"), name="b")

    # When it advances past both
    clock.advance(60)

    # Then both ran, in time order, before advance returned
    assert fired == ["a", "b"]


# --- waiting and jumping ----------------------------------------------------------------------------------------------
def test_a_waiter_with_a_deadline_returns_false_after_the_clocks_thread_jumps_to_it() -> None:
    # Given a fresh clock with nothing busy
    clock = VirtualClock()
    start = clock.now()
    wall = time.monotonic()

    # When a thread waits an hour of simulated time for something that never happens
    ready = clock.wait_for(lambda: False, HOUR)

    # Then it returns False in well under a second of wall time, the clock having jumped to the deadline (not past it)
    assert ready is False
    assert time.monotonic() - wall < 1.0
    assert start + HOUR <= clock.now() < start + HOUR + 1
    assert clock.stats.jumps == 1
    assert clock.stats.jumped_seconds == pytest.approx(HOUR, abs=1)
    assert clock.stats.stalls == 0


def test_a_thread_sleeping_an_hour_of_simulated_time_returns_in_well_under_a_second() -> None:
    # Given a fresh clock
    clock = VirtualClock()
    start = clock.now()
    wall = time.monotonic()

    # When another thread sleeps an hour on it
    thread, _ = in_thread(lambda: clock.sleep(HOUR))
    thread.join(timeout=5)

    # Then it is done in well under a second of wall time, an hour later in simulated time
    assert not thread.is_alive()
    assert time.monotonic() - wall < 1.0
    assert clock.now() >= start + HOUR
    assert clock.stats.stalls == 0


def test_busy_work_holds_the_jump_until_it_ends() -> None:
    # Given a fresh clock and busy work under way on this thread
    clock = VirtualClock()
    start = clock.now()
    with clock.busy():
        # When another thread waits an hour for something that never happens
        thread, results = in_thread(lambda: clock.wait_for(lambda: False, HOUR))
        time.sleep(SETTLE_WALL_SECONDS)

        # Then time does not jump while the work is busy
        assert thread.is_alive()
        assert clock.stats.jumps == 0
        assert clock.now() < start + 60

    # When the busy work ends, Then the clock jumps to the waiter's deadline and it returns False
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert results == [False]
    assert clock.now() >= start + HOUR
    assert (clock.stats.jumps, clock.stats.stalls) == (1, 0)


def test_setting_a_virtual_event_wakes_its_waiter_before_the_deadline() -> None:
    # Given busy work (so the clock cannot jump) and a thread waiting an hour on a VirtualEvent (the module's CLOCK)
    event = VirtualEvent()
    start = CLOCK.now()
    stalls = CLOCK.stats.stalls
    with CLOCK.busy():
        thread, results = in_thread(lambda: event.wait(HOUR))
        time.sleep(SETTLE_WALL_SECONDS)
        assert thread.is_alive()

        # When the event is set
        wall = time.monotonic()
        event.set()
        thread.join(timeout=5)

    # Then the waiter returned True at once, long before its deadline in simulated time
    assert not thread.is_alive()
    assert results == [True]
    assert time.monotonic() - wall < 1.0
    assert CLOCK.now() < start + 60
    assert CLOCK.stats.stalls == stalls


def test_a_waiter_without_a_deadline_never_makes_the_clock_jump() -> None:
    # Given a fresh clock with a timer an hour ahead, and a thread waiting with no deadline (a task token callback)
    clock = VirtualClock()
    start = clock.now()
    fired: list[str] = []
    clock.call_at(start + HOUR, lambda: fired.append("timer"))
    flag = threading.Event()
    thread, results = in_thread(lambda: clock.wait_for(flag.is_set, None))

    # When nothing else happens for a while
    time.sleep(SETTLE_WALL_SECONDS)

    # Then the clock has not jumped (not even to the timer) and the waiter still waits
    assert thread.is_alive()
    assert clock.stats.jumps == 0
    assert fired == []
    assert clock.now() < start + 60

    # And it returns True once what it waits for happens
    flag.set()
    clock.notify()
    thread.join(timeout=5)
    assert results == [True]
    assert clock.stats.stalls == 0


# --- the local Bedrock on the clock ----------------------------------------------------------------------------------
def backend() -> local_bedrock.LocalBedrockBackend:
    return local_bedrock.backend_for(ACCOUNT, REGION)


def job_events(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(jobName, jobArn, jobStatus) of each event, which must all be Bedrock job state changes."""
    assert {(event["Source"], event["DetailType"]) for event in events} <= {
        ("aws.bedrock", "Model Customization Job State Change")
    }
    details = [json.loads(event["Detail"]) for event in events]
    return [(detail["jobName"], detail["jobArn"], detail["jobStatus"]) for detail in details]


@pytest.mark.usefixtures("dataset")
def test_a_jobs_status_follows_simulated_time(bedrock: Any) -> None:
    # Given a job that takes two hours of simulated time
    aws.configure(job_duration_seconds=2 * HOUR)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]
    created = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # When an hour passes (its data was validated after 5 minutes)
    CLOCK.advance(HOUR)
    midway = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then it is training
    assert (created["status"], created["statusDetails"]["validationDetails"]["status"]) == ("InProgress", "InProgress")
    assert midway["status"] == "InProgress"
    assert {stage: details["status"] for stage, details in midway["statusDetails"].items()} == {
        "validationDetails": "Completed",
        "dataProcessingDetails": "Completed",
        "trainingDetails": "InProgress",
    }
    # And a Get does not move it on by itself
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress"

    # When the second hour passes
    CLOCK.advance(HOUR)
    done = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then it has completed, ending two hours after its creation
    assert done["status"] == "Completed"
    assert (done["endTime"] - done["creationTime"]).total_seconds() == pytest.approx(2 * HOUR, abs=1)


@pytest.mark.usefixtures("dataset")
def test_a_jobs_state_change_event_is_published_at_its_end_time(bedrock: Any) -> None:
    # Given a job that takes an hour
    aws.configure(job_duration_seconds=HOUR)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When the clock reaches a minute before its end, Then no event has been published (no status change yet)
    CLOCK.advance(HOUR - 60)
    assert backend().published_events == []

    # When the clock passes its end, with no request to Bedrock
    CLOCK.advance(60)
    events = list(backend().published_events)

    # Then the clock's timer published one "Model Customization Job State Change" event saying Completed
    assert job_events(events) == [("ft-job-1", job_arn, "Completed")]
    (event,) = events
    assert event["Resources"] == [job_arn]
    # And it is stamped with the job's end time
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert event["Time"] == job["endTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(event["Detail"])["outputModelArn"] == job["outputModelArn"]
    assert backend().dropped_events == []


@pytest.mark.usefixtures("dataset")
def test_a_scenario_that_drops_events_publishes_none(bedrock: Any) -> None:
    # Given a scenario where Bedrock's events are lost (EventBridge delivery is best effort)
    aws.configure(job_duration_seconds=HOUR, drop_events=True)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When the job ends
    CLOCK.advance(HOUR)

    # Then it completed, but its event was dropped, not published
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "Completed"
    assert backend().published_events == []
    assert job_events(backend().dropped_events) == [("ft-job-1", job_arn, "Completed")]


def test_the_stated_job_duration_formula() -> None:
    # 15 minutes of setup, then training bytes / 4 tokens per byte x epochs at the model's tokens per second:
    # Nova Micro trains 2,000 tokens/s: 4,000,000 bytes = 1,000,000 tokens x 2 epochs = 1,000 s
    assert local_bedrock.job_duration_seconds(4_000_000, 2, "amazon.nova-micro-v1:0:128k") == pytest.approx(1_900)
    # Llama 3.1 70B trains 150 tokens/s: 600,000 bytes = 150,000 tokens x 3 epochs = 3,000 s
    assert local_bedrock.job_duration_seconds(600_000, 3, "meta.llama3-1-70b-instruct-v1:0:128k") == pytest.approx(
        3_900
    )
    # An empty dataset still takes the setup time
    assert local_bedrock.job_duration_seconds(0, 1, "amazon.nova-pro-v1:0:300k") == pytest.approx(900)


def test_a_job_without_a_scenario_duration_takes_the_formulas_time(bedrock: Any, s3: Any) -> None:
    # Given 400,000 bytes of training data (100,000 tokens) for Nova Micro, 2 epochs, and no duration in the scenario:
    # 900 s of setup + 200,000 tokens at 2,000 tokens/s = 1,000 s
    line = b'{"prompt": "aaaa", "completion": "bbb"}\n'
    assert len(line) == 40
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="datasets/train.jsonl", Body=line * 10_000)
    s3.put_object(Bucket=BUCKET, Key="datasets/validation.jsonl", Body=line)
    job_arn = bedrock.create_model_customization_job(**job_request(hyperParameters={"epochCount": "2"}))["jobArn"]

    # When 990 s pass, Then it still runs; when 10 s more pass, Then it has completed
    CLOCK.advance(990)
    assert bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress"
    CLOCK.advance(10)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    assert job["status"] == "Completed"
    assert (job["endTime"] - job["creationTime"]).total_seconds() == pytest.approx(1_000, abs=1)
