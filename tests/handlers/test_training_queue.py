"""CreateCustomizationJob's training queue: first in, first out by drop time; Bedrock's quota means wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.errors import TrainingCapacityFull, TrainingQueueTimedOut
from bedrock_finetune.logic import claims, queue, training
from bedrock_finetune.logic.validate_dataset import validate
from bedrock_finetune.models import StageDatasetOutput, ValidateDatasetOutput
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.clock import CLOCK

from .conftest import Account
from .test_claim_training import run_of, with_training_table


@pytest.fixture
def settings(account: Account, monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    return with_training_table(account, monkeypatch)


T0 = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
Run = tuple[RunConfig, ValidateDatasetOutput, StageDatasetOutput]


def dropped(account: Account, name: str, seconds: int) -> Run:
    """A run of its own content, dropped ``seconds`` after T0."""
    config, staged = run_of(account, f"inbox/{name}.jsonl", name, hyperParameters={"epochCount": 1 + seconds % 5})
    moment = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    config = config.model_copy(update={"dropped_at": moment, "started_at": moment})
    return config, validate(config), staged


def start(run: Run, settings: StackSettings, at: datetime) -> object:
    return queue.start_training(run[0], run[1], run[2], settings, now=at)


def test_first_come_first_served_by_drop_time(account: Account, settings: StackSettings) -> None:
    # Given a quota of 1, a job running for another run (it takes an hour), and three runs dropped one second apart
    # that enter the queue in the opposite order (the last drop looks first)
    local_bedrock.configure(job_quota=1, job_duration_seconds=3600)
    runs = [dropped(account, name, index) for index, name in enumerate(["a", "b", "c", "d"])]
    at = T0 + timedelta(seconds=10)
    assert start(runs[0], settings, at).status == "Created"
    entered = [start(run, settings, at) for run in reversed(runs[1:])]
    assert all(answer.status == "Queued" for answer in entered)

    # When they look again
    answers = [start(run, settings, at) for run in reversed(runs[1:])]

    # Then the earliest drop is first (held back by the quota), the others wait behind it in drop order
    by_name = {run[0].run_id: answer.queue for run, answer in zip(reversed(runs[1:]), answers, strict=True)}
    assert {name: (q.position, q.reason) for name, q in by_name.items()} == {
        "b": (1, "quota"),
        "c": (2, "ahead"),
        "d": (3, "ahead"),
    }
    assert all(answer.status == "Queued" for answer in answers)

    # When the running job ends (its hour passes) and the runs look again
    (running,) = account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    CLOCK.advance(3600)
    assert account.bedrock.get_model_customization_job(jobIdentifier=running["jobArn"])["status"] == "Completed"
    later = at + timedelta(seconds=30)
    again = {run[0].run_id: start(run, settings, later) for run in runs[1:]}

    # Then only the first in line got the free slot; the others moved up
    assert again["b"].status == "Created"
    assert again["b"].queue.waited_seconds == 30
    assert again["b"].queue.initial_position == 1
    assert (again["c"].status, again["c"].queue.position, again["c"].queue.reason) == ("Queued", 1, "quota")
    assert (again["d"].status, again["d"].queue.position) == ("Queued", 2)
    # And never more jobs than the quota ran at once
    jobs = account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert sum(job["status"] == "InProgress" for job in jobs) == 1


def test_the_wait_grows_with_the_time_waited_up_to_the_cap(account: Account, settings: StackSettings) -> None:
    # Given a run behind another one
    local_bedrock.configure(job_quota=1)
    ahead, behind = dropped(account, "a", 0), dropped(account, "b", 1)
    start(ahead, settings, T0)
    settings = settings.model_copy(update={"queue_poll_initial_seconds": 60, "queue_poll_max_seconds": 900})

    # When it looks after growing waits
    waits = [start(behind, settings, T0 + timedelta(seconds=s)).queue.wait_seconds for s in (0, 600, 3600, 20000)]

    # Then the wait starts at the initial interval, grows with a quarter of the time waited, and stops at the cap
    assert waits == [60, 150, 900, 900]


def test_after_the_queue_timeout_the_run_fails_with_a_named_error_and_leaves_the_queue(
    account: Account, settings: StackSettings
) -> None:
    # Given a run waiting behind another, and a queue timeout of 1 hour
    local_bedrock.configure(job_quota=1)
    ahead, behind = dropped(account, "a", 0), dropped(account, "b", 1)
    start(ahead, settings, T0)
    settings = settings.model_copy(update={"training_queue_timeout_hours": 1})
    waiting = start(behind, settings, T0)
    assert waiting.status == "Queued"
    # Its last wait does not sleep far past the deadline
    assert start(behind, settings, T0 + timedelta(seconds=3590)).queue.wait_seconds <= 11

    # When it looks again after the hour
    # Then it fails with TrainingQueueTimedOut (the state machine catches it into Cleanup)
    with pytest.raises(TrainingQueueTimedOut, match="free training job slot"):
        start(behind, settings, T0 + timedelta(hours=1, seconds=1))
    # And it is out of the queue: a run dropped after it is next in line
    later = dropped(account, "c", 2)
    assert start(later, settings, T0 + timedelta(hours=1, seconds=2)).queue.position == 1


def test_an_entry_past_its_deadline_does_not_block_the_queue(account: Account, settings: StackSettings) -> None:
    # Given a run that entered the queue and died without leaving it (its execution aborted, recovery lost)
    local_bedrock.configure(job_quota=1)
    settings = settings.model_copy(update={"training_queue_timeout_hours": 1})
    blocker, dead, alive = dropped(account, "a", 0), dropped(account, "b", 1), dropped(account, "c", 2)
    start(blocker, settings, T0)
    start(dead, settings, T0)

    # When a run dropped later looks after the dead run's deadline
    answer = start(alive, settings, T0 + timedelta(minutes=61))

    # Then the dead entry is not counted: the live run is first in line
    assert answer.queue.position == 1


def test_the_local_bedrock_answers_service_quota_exceeded_above_its_job_quota(account: Account) -> None:
    # Given the local Bedrock with a quota of 2 and two jobs in progress
    local_bedrock.configure(job_quota=2)
    runs = [dropped(account, name, index) for index, name in enumerate(["a", "b", "c"])]
    for config, validation, staged in runs[:2]:
        training.create_job(config, validation, staged, account.settings.bedrock_role_arn)

    # When a third job is requested
    config, validation, staged = runs[2]
    with pytest.raises(TrainingCapacityFull) as raised:
        training.create_job(config, validation, staged, account.settings.bedrock_role_arn)

    # Then the answer is botocore's modelled ServiceQuotaExceededException, translated for the queue
    cause = raised.value.__cause__
    assert type(cause).__name__ == "ServiceQuotaExceededException"
    assert cause.response["Error"]["Code"] == "ServiceQuotaExceededException"  # type: ignore[attr-defined]
    assert cause.response["ResponseMetadata"]["HTTPStatusCode"] == 400  # type: ignore[attr-defined]
    assert "Resubmit your request later" in cause.response["Error"]["Message"]  # type: ignore[attr-defined]
    # And a retried request with the same clientRequestToken still answers with its job (no quota counted twice)
    first_config, first_validation, first_staged = runs[0]
    again = training.create_job(first_config, first_validation, first_staged, account.settings.bedrock_role_arn)
    assert again.job_arn in {
        j["jobArn"] for j in account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    }


def test_a_run_still_validating_holds_its_place_so_a_later_drop_cannot_overtake_it(
    account: Account, settings: StackSettings
) -> None:
    # Given a free job slot, a run dropped first that registered its place (ResolveConfig) and is still validating,
    # and a run dropped one second later that is ready to train
    local_bedrock.configure(job_quota=2)
    first, second = dropped(account, "a", 0), dropped(account, "b", 1)
    assert claims.register(first[0], settings, now=T0)

    # When the later run asks for a slot
    answer = start(second, settings, T0 + timedelta(seconds=5))

    # Then it waits behind the earlier drop, although Bedrock has room
    assert (answer.status, answer.queue.position, answer.queue.reason) == ("Queued", 2, "ahead")
    # And once the earlier run asks, it gets its job first, then the later one
    assert start(first, settings, T0 + timedelta(seconds=6)).status == "Created"
    assert start(second, settings, T0 + timedelta(seconds=7)).status == "Created"


def test_a_registered_run_waits_from_its_first_request_and_leaves_when_it_fails_or_is_a_duplicate(
    account: Account, settings: StackSettings
) -> None:
    # Given two runs that registered their places, and a third one dropped after them
    local_bedrock.configure(job_quota=2)
    failing, duplicate, later = dropped(account, "a", 0), dropped(account, "b", 1), dropped(account, "c", 2)
    for run in (failing, duplicate, later):
        assert claims.register(run[0], settings, now=T0)
    # (registering twice, as a retried ResolveConfig does, holds the same place)
    assert not claims.register(failing[0], settings, now=T0 + timedelta(seconds=1))

    # When the first fails in validation (Cleanup releases the run) and the second turns out to be a duplicate
    # (Finalize gives up its place)
    assert "left the training queue" in claims.release(failing[0].run_id, failing[0].execution_arn, settings)
    assert queue.leave(settings.training_table_name, queue.queue_key(duplicate[0]), duplicate[0].execution_arn)

    # Then the later run is first in line, and its wait counts from its own first request, not from ResolveConfig
    answer = start(later, settings, T0 + timedelta(minutes=30))
    assert answer.status == "Created"
    assert answer.queue.waited_seconds == 0
    assert answer.queue.initial_position == 1


def test_a_run_that_died_while_validating_blocks_the_queue_no_longer_than_its_preparation_allowance(
    account: Account, settings: StackSettings
) -> None:
    # Given a run that registered its place and died before asking for a slot (no Cleanup, no recovery)
    local_bedrock.configure(job_quota=2)
    settings = settings.model_copy(update={"training_queue_timeout_hours": 1})
    dead, alive = dropped(account, "a", 0), dropped(account, "b", 1)
    claims.register(dead[0], settings, now=T0)

    # When a later run asks within the allowance, it waits; after the allowance and the queue timeout, it goes first
    allowance = timedelta(seconds=queue.PREPARATION_ALLOWANCE_SECONDS + 3600)
    assert start(alive, settings, T0 + allowance - timedelta(seconds=60)).status == "Queued"
    assert start(alive, settings, T0 + allowance + timedelta(seconds=1)).status == "Created"
