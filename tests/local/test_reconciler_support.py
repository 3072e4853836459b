"""What the local AWS gives the reconciler: the local Bedrock's count of jobs InProgress at once, its tags, and a
local IAM that evaluates ``aws:ResourceTag/<key>`` conditions against a Bedrock resource's own tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bedrock_finetune_local import aws
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws import iam
from bedrock_finetune_local.clock import CLOCK

from .conftest import ACCOUNT, REGION, client_as, job_request, lambda_role

ROLE = "sweeper"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
PT = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/*"
JOB = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/*"


def finish(bedrock: Any, job_arn: str) -> None:
    while bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"] == "InProgress":
        CLOCK.advance(600)  # simulated time


@pytest.mark.usefixtures("dataset")
def test_the_local_bedrock_counts_the_most_jobs_in_progress_at_once(bedrock: Any) -> None:
    # Given a quota that does not limit this test, and three jobs created while none has ended
    if "job_quota" in local_bedrock.LocalBedrockSettings.model_fields:
        aws.configure(job_quota=10)
    backend = local_bedrock.backend_for(ACCOUNT, REGION)
    arns = [
        bedrock.create_model_customization_job(**job_request(jobName=f"job-{n}", customModelName=f"m-{n}"))["jobArn"]
        for n in range(3)
    ]
    assert backend.max_jobs_in_progress == 3

    # When they all end and two more run one after the other
    for arn in arns:
        finish(bedrock, arn)
    for n in range(3, 5):
        arn = bedrock.create_model_customization_job(**job_request(jobName=f"job-{n}", customModelName=f"m-{n}"))[
            "jobArn"
        ]
        finish(bedrock, arn)

    # Then the most at once is still three, and a reset forgets it
    assert backend.max_jobs_in_progress == 3
    aws.reset()
    assert local_bedrock.backend_for(ACCOUNT, REGION).max_jobs_in_progress == 0


@pytest.fixture
def sweeper() -> Iterator[None]:
    """A role that may read tags of, and delete, only throughputs tagged stack=mine and not keep=true."""
    lambda_role(
        ROLE,
        {"Effect": "Allow", "Action": "bedrock:ListTagsForResource", "Resource": [PT]},
        {
            "Effect": "Allow",
            "Action": "bedrock:DeleteProvisionedModelThroughput",
            "Resource": [PT],
            "Condition": {
                "StringEquals": {"aws:ResourceTag/stack": "mine"},
                "StringNotEqualsIgnoreCase": {"aws:ResourceTag/keep": "true"},
            },
        },
    )
    with iam.enforce():
        yield


def as_sweeper() -> Any:
    return client_as(ROLE_ARN, "bedrock")


def throughput(bedrock: Any, name: str, tags: dict[str, str]) -> str:
    return str(
        bedrock.create_provisioned_model_throughput(
            modelUnits=1,
            provisionedModelName=name,
            modelId="amazon.nova-micro-v1:0",
            tags=[{"key": key, "value": value} for key, value in tags.items()],
        )["provisionedModelArn"]
    )


@pytest.mark.usefixtures("sweeper")
def test_resource_tag_conditions_are_evaluated_against_the_resources_own_tags(bedrock: Any) -> None:
    # Given throughputs tagged stack=mine, stack=mine with keep=TRUE, stack=theirs, and none at all
    mine = throughput(bedrock, "mine", {"stack": "mine"})
    kept = throughput(bedrock, "kept", {"stack": "mine", "keep": "TRUE"})
    theirs = throughput(bedrock, "theirs", {"stack": "theirs"})
    untagged = throughput(bedrock, "untagged", {})
    CLOCK.advance(600)  # simulated time: each settles, Creating → InService
    sweeper = as_sweeper()

    # When the role reads their tags
    tags = sweeper.list_tags_for_resource(resourceARN=kept)["tags"]

    # Then it sees them (ListTagsForResource is authorized on the tagged resource's type)
    assert {item["key"]: item["value"] for item in tags} == {"stack": "mine", "keep": "TRUE"}
    # And it may delete only the throughput whose tags satisfy the conditions
    for arn in (kept, theirs, untagged):
        with pytest.raises(ClientError) as denied:
            sweeper.delete_provisioned_model_throughput(provisionedModelId=arn)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    sweeper.delete_provisioned_model_throughput(provisionedModelId=mine)
    remaining = {item["provisionedModelArn"] for item in bedrock.list_provisioned_model_throughputs()[
        "provisionedModelSummaries"]}  # fmt: skip
    assert remaining == {kept, theirs, untagged}
    # And a throughput already deleted has no tags, so the conditioned Delete is denied, not answered 404
    with pytest.raises(ClientError) as gone:
        sweeper.delete_provisioned_model_throughput(provisionedModelId=mine)
    assert gone.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.usefixtures("sweeper", "dataset")
def test_list_tags_of_a_job_needs_the_permission_on_jobs(bedrock: Any) -> None:
    # Given a job (the sweeper may read tags of throughputs only)
    arn = bedrock.create_model_customization_job(**job_request(jobTags=[{"key": "stack", "value": "mine"}]))["jobArn"]

    # When the sweeper reads its tags
    with pytest.raises(ClientError) as denied:
        as_sweeper().list_tags_for_resource(resourceARN=arn)

    # Then it is denied on the job's ARN
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "model-customization-job/" in denied.value.response["Error"]["Message"]
    assert JOB.rstrip("*") in denied.value.response["Error"]["Message"]
