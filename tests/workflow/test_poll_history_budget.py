"""A 72-hour job stays far under Step Functions' execution history limit (issue 7, item 4).

A Standard workflow's history holds at most 25,000 events ("Step Functions service quotas": "Maximum execution
history size: 25,000 events"); an execution that reaches it fails. Each round of a poll loop costs the events of its
states (a Lambda Task: entered, scheduled, started, succeeded, exited; a Choice or Wait: entered, exited), and the
number of rounds follows from the poll rule (``training.next_wait``) over the longest allowed wait. The wait for a
job's end is one ``.waitForTaskToken`` Task that re-enters itself on each fallback timeout (entered, scheduled,
started, submitted, timed out, exited), one round per fallback interval. The worst case takes the smallest allowed
intervals, the longest allowed timeouts, zero time spent in each Lambda, and one failed attempt (retried) on every
round.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune.config import MAX_SWEEP_STAGES, MIN_JOB_EVENT_FALLBACK_SECONDS, PollingSettings
from bedrock_finetune.logic import queue, training

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "finetune.asl.json").read_text())
HISTORY_LIMIT = 25_000
FAR_UNDER = HISTORY_LIMIT // 2
# A Distributed Map in its parent's history: MapStateEntered, MapRunStarted, MapRunSucceeded (or MapRunFailed),
# MapStateExited; its iterations are child executions, each with a history (and a 25,000-event limit) of its own
# (Step Functions Developer Guide, "Distributed mode": "each child workflow execution has its own, separate
# execution history").
EVENTS = {"Task": 5, "Choice": 2, "Wait": 2, "Pass": 2, "Succeed": 1, "Fail": 1, "Map": 4}
SWEEP_ITERATION = ASL["States"]["TrainSweepVariants"]["ItemProcessor"]["States"]
FAILED_ATTEMPT = 3  # LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed
CALLBACK_TASK = 6  # TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskTimedOut, TaskStateExited


def await_round_events(state_name: str, states: dict[str, Any] | None = None) -> int:
    """Events of one round of the wait for a job's end: the callback Task times out and its Catch re-enters it."""
    states = states or ASL["States"]
    state = states[state_name]
    assert state["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    (timeout_catch,) = [c for c in state["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    assert timeout_catch["Next"] == state_name
    return CALLBACK_TASK + FAILED_ATTEMPT


def await_rounds(fallback: int, timeout: int) -> int:
    """Rounds until the elapsed time passes the timeout (the round after that raises JobTimedOut)."""
    return timeout // fallback + 2


def loop_events(poll: str, states: dict[str, Any] | None = None) -> int:
    """Events of one round of the loop poll → Choice → Wait → poll, read from the ASL."""
    states = states or ASL["States"]
    choice = states[poll]["Next"]
    wait = next(rule["Next"] for rule in states[choice]["Choices"] if states[rule["Next"]]["Type"] == "Wait")
    assert states[wait]["Next"] == poll
    return sum(EVENTS[states[name]["Type"]] for name in (poll, choice, wait)) + FAILED_ATTEMPT


def polls(initial: int, cap: int, timeout: int) -> int:
    """Rounds until the elapsed time passes the timeout (the poll after that raises *TimedOut)."""
    elapsed, count = 0.0, 0
    while True:
        count += 1
        if elapsed > timeout:
            return count
        wait = training.next_wait(elapsed, initial, cap)
        assert wait > 0, "a zero wait makes the number of polls unbounded"
        elapsed += wait


def worst_case(polling: PollingSettings) -> dict[str, Any]:
    effective = training.effective_polling(polling)
    job = await_rounds(effective.job_event_fallback_seconds, effective.job_timeout_seconds)
    deployment = polls(
        effective.deployment_initial_seconds, effective.deployment_max_seconds, effective.deployment_timeout_seconds
    )
    # A run that waits the longest allowed time for a training job slot before its job (the training queue clamps
    # its own intervals and timeout: logic/queue.py)
    waits = polls(
        training.MIN_POLL_INITIAL_SECONDS, queue.MIN_QUEUE_POLL_MAX_SECONDS, queue.MAX_QUEUE_TIMEOUT_HOURS * 3600
    )
    others = sum(EVENTS[state["Type"]] + FAILED_ATTEMPT for state in ASL["States"].values()) + 2
    total = (
        job * await_round_events("AwaitJobEnd")
        + deployment * loop_events("PollDeployment")
        + waits * loop_events("CreateCustomizationJob")
        + others
    )
    return {"job_waits": job, "deployment_polls": deployment, "queue_waits": waits, "events": total}


MINIMUMS = PollingSettings(
    job_initial_seconds=training.MIN_POLL_INITIAL_SECONDS,
    job_max_seconds=training.MIN_JOB_POLL_MAX_SECONDS,
    job_timeout_seconds=training.MAX_JOB_TIMEOUT_HOURS * 3600,
    deployment_initial_seconds=training.MIN_POLL_INITIAL_SECONDS,
    deployment_max_seconds=training.MIN_DEPLOYMENT_POLL_MAX_SECONDS,
    deployment_timeout_seconds=training.MAX_DEPLOYMENT_TIMEOUT_MINUTES * 60,
    job_event_fallback_seconds=MIN_JOB_EVENT_FALLBACK_SECONDS,
)


def test_worst_case_history_of_a_72_hour_job_is_far_under_the_limit() -> None:
    # Given the smallest allowed poll intervals and the longest allowed queue wait (48 h), job (72 h) and deployment
    # (240 min) waits
    # When the worst case is computed
    case = worst_case(MINIMUMS)

    # Then it is 226 looks at the training queue, 434 rounds of the wait for the job's end and 262 deployment polls:
    # under half of the 25,000-event limit, even with a retried attempt on every round
    assert case == {"job_waits": 434, "deployment_polls": 262, "queue_waits": 226, "events": 10_067}
    assert case["events"] < FAR_UNDER


def test_each_sweep_variant_runs_in_a_child_execution_whose_worst_case_is_far_under_the_limit() -> None:
    # Given the sweep's Map in Distributed mode (every variant a child execution with its own history)
    assert ASL["States"]["TrainSweepVariants"]["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    case = worst_case(MINIMUMS)

    # When a variant waits the longest allowed time for a slot and then trains for the longest allowed time
    events = (
        case["queue_waits"] * loop_events("VariantCreateJob", SWEEP_ITERATION)
        + case["job_waits"] * await_round_events("VariantAwaitJobEnd", SWEEP_ITERATION)
        + sum(EVENTS[state["Type"]] + FAILED_ATTEMPT for state in SWEEP_ITERATION.values())
        + 2
    )

    # Then its own history stays far under the limit, and the parent's sweep states add a few events per stage
    assert events < FAR_UNDER
    per_stage = sum(
        EVENTS[ASL["States"][name]["Type"]] + FAILED_ATTEMPT
        for name in ("TrainSweepVariants", "RecordSweepStage", "MoreSweepStages")
    )
    assert case["events"] + MAX_SWEEP_STAGES * per_stage < FAR_UNDER


@pytest.mark.parametrize(
    "too_small",
    [
        {
            "job_initial_seconds": 0,
            "job_max_seconds": 1,
            "deployment_initial_seconds": 0,
            "deployment_max_seconds": 1,
            "job_event_fallback_seconds": 1,
        },
        {"job_max_seconds": 60, "deployment_max_seconds": 10},
    ],
)
def test_values_below_the_minimums_are_clamped_so_the_bound_holds(too_small: dict[str, int]) -> None:
    # Given a stack deployed with intervals below the minimums and timeouts above the maximums
    polling = MINIMUMS.model_copy(
        update={**too_small, "job_timeout_seconds": 30 * 24 * 3600, "deployment_timeout_seconds": 24 * 3600}
    )

    # When its worst case is computed with the handlers' clamping
    case = worst_case(polling)

    # Then it is the same as at the minimums: the handlers never poll faster or longer
    assert case == worst_case(MINIMUMS)


def test_without_the_clamps_short_intervals_would_exceed_the_limit() -> None:
    # Given a one-minute fallback for the job's end and 1-second deployment polls, unclamped
    # When a 72-hour job and a 240-minute deployment are counted without clamping
    rounds = await_rounds(60, training.MAX_JOB_TIMEOUT_HOURS * 3600)
    deployment = polls(1, 1, training.MAX_DEPLOYMENT_TIMEOUT_MINUTES * 60)

    # Then either would need more than 25,000 events: the minimums matter
    assert rounds * await_round_events("AwaitJobEnd") > HISTORY_LIMIT
    assert deployment * loop_events("PollDeployment") > HISTORY_LIMIT


def test_a_fallback_below_the_minimum_is_clamped() -> None:
    from bedrock_finetune.config import StackSettings

    settings = StackSettings(bucket_name="b", job_event_fallback_seconds=1)
    assert settings.polling.job_event_fallback_seconds == MIN_JOB_EVENT_FALLBACK_SECONDS


def test_queue_values_outside_the_template_bounds_are_clamped_so_the_bound_holds() -> None:
    # Given a stack deployed with queue intervals below the minimums and a queue timeout above the maximum
    from bedrock_finetune.config import StackSettings

    settings = StackSettings(
        bucket_name="b", queue_poll_initial_seconds=0, queue_poll_max_seconds=1, training_queue_timeout_hours=1000
    )

    # When the queue's timeout and waits are computed
    # Then they are those of the minimums and the maximum the worst case above counts
    assert queue.timeout_seconds(settings) == queue.MAX_QUEUE_TIMEOUT_HOURS * 3600
    assert queue.next_wait(0, settings, remaining=10**6) == training.MIN_POLL_INITIAL_SECONDS
    assert queue.next_wait(10**5, settings, remaining=10**6) == queue.MIN_QUEUE_POLL_MAX_SECONDS
