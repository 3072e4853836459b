"""Hearing the job finish (issue 11): the workflow waits for Bedrock's job state change event instead of polling, on
the local AWS's virtual clock, and a slow fallback check finds the end when the event never comes.

Targets at the stack's defaults: waiting for a 4-hour job costs at most 30 state transitions and its end is acted on
within 60 simulated seconds; a 72-hour job costs at most 30 transitions more than a 4-hour one; with every event
lost, the end is still found, at most one fallback interval late (stack parameter JobEventFallbackSeconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
HOUR = 3600
#: The states that wait for the job and read it once it ended.
WAITING = ("AwaitJobEnd", "PollJob", "JobStatus")


def run(**kwargs: Any) -> runner.RunResult:
    kwargs.setdefault("dataset", VALID)
    return runner.run(runner.RunOptions(**kwargs))


def waiting_transitions(result: runner.RunResult) -> int:
    return sum(1 for state in result.states if state in WAITING)


@pytest.fixture(scope="module")
def four_hours() -> runner.RunResult:
    return run(job_duration_seconds=4 * HOUR)


def test_a_four_hour_job_is_heard_within_a_minute_of_its_end_for_at_most_60_transitions(
    four_hours: runner.RunResult,
) -> None:
    result = four_hours
    assert result.status == "SUCCEEDED", result.error
    assert result.clock is not None
    [job] = result.clock.jobs
    # The job really took its 4 simulated hours (the execution even longer), in seconds of wall time.
    assert job["duration_seconds"] == pytest.approx(4 * HOUR)
    assert result.clock.simulated_seconds is not None
    assert result.clock.simulated_seconds > 4 * HOUR
    assert result.clock.detection_lag_seconds is not None
    assert result.clock.detection_lag_seconds <= 60
    assert result.clock.transitions is not None
    assert result.clock.transitions <= 60
    assert waiting_transitions(result) <= 30
    # No polling loop: one wait per fallback interval (3 h by default) plus the event that ends it.
    assert result.states.count("AwaitJobEnd") == 2
    assert result.states.count("PollJob") == 1


def test_a_72_hour_job_costs_at_most_30_transitions_more_than_a_4_hour_one(four_hours: runner.RunResult) -> None:
    result = run(job_duration_seconds=72 * HOUR)
    assert result.status == "SUCCEEDED", result.error
    assert result.clock is not None
    assert four_hours.clock is not None
    assert result.clock.transitions is not None
    assert four_hours.clock.transitions is not None
    assert result.clock.transitions - four_hours.clock.transitions <= 30
    assert result.clock.detection_lag_seconds is not None
    assert result.clock.detection_lag_seconds <= 60


def test_with_every_job_event_lost_the_fallback_finds_the_end_within_one_interval() -> None:
    # Given the local Bedrock dropping its state change events and a one-hour fallback
    fallback = HOUR
    result = run(
        job_duration_seconds=4 * HOUR + 600,
        drop_events=True,
        stack_parameters={"JobEventFallbackSeconds": str(fallback)},
    )

    # Then the run still succeeds; its end was found by the fallback check, later than an event would have been
    assert result.status == "SUCCEEDED", result.error
    assert result.clock is not None
    lag = result.clock.detection_lag_seconds
    assert lag is not None
    assert 60 < lag <= fallback
    # 4 h 10 min with a check every hour: the fifth check (at 5 h) finds it
    assert result.states.count("AwaitJobEnd") == 6


def test_an_execution_stopped_while_waiting_for_the_event_stops_the_job_and_cleans_up() -> None:
    # Given a 10-hour job and a person stopping the execution 2 simulated hours in, while it waits for the event
    result = run(job_duration_seconds=10 * HOUR, stop_after_seconds=2 * HOUR)

    # Then the aborted-run cleanup stopped the job, moved the dataset to failed/ and said so
    assert result.status == "ABORTED"
    assert result.states[-1] == "AwaitJobEnd"
    assert [job["status"] for job in result.resources["jobs_in_progress"]] in ([], ["Stopping"])
    assert result.resources["provisioned_throughputs"] == []
    assert result.resources["custom_model_deployments"] == []
    assert result.dataset_uri is not None
    assert "/failed/" in result.dataset_uri
    assert any("FAILED (ExecutionAborted)" in subject for subject in result.notifications)


def test_a_job_past_the_training_timeout_is_stopped_and_the_run_fails_cleanly() -> None:
    # Given a job that would take 5 days and a one-hour training timeout (stack parameter JobTimeoutHours)
    result = run(
        job_duration_seconds=5 * 24 * HOUR,
        stack_parameters={"JobTimeoutHours": "1", "JobEventFallbackSeconds": "1800"},
    )

    # Then the fallback check that comes after the timeout raises JobTimedOut, and Cleanup stops the job
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "JobTimedOut"
    assert result.states[-3:] == ["Cleanup", "NotifyFailure", "Failed"]
    assert [job["status"] for job in result.resources["jobs_in_progress"]] in ([], ["Stopping"])


def test_local_run_json_reports_transitions_and_detection_lag_per_execution() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedrock_finetune_cli",
            "local",
            "run",
            "--dataset",
            str(VALID),
            "--job-duration",
            "4h",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    document = json.loads(completed.stdout)
    assert document["status"] == "SUCCEEDED"
    assert document["transitions"] <= 60
    assert document["detection_lag_seconds"] <= 60
    assert document["jobs"][0]["duration_seconds"] == pytest.approx(4 * HOUR)
