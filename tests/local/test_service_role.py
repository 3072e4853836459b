"""The local Bedrock reads training data and writes job output as the job's service role, like Bedrock: the role's
trust policy must let bedrock.amazonaws.com assume it, its policies must allow the S3 access, and a job whose role
cannot do either fails with a message naming the S3 location. Injected S3 faults reach those reads and writes too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_finetune_local.aws import Fault, iam, inject_faults
from bedrock_finetune_local.clock import CLOCK

from .conftest import ACCOUNT, BUCKET, ROLE_ARN, TRAIN_URI, client, job_request

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}
READ_AND_WRITE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/datasets/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/output/*"},
    ],
}


@pytest.fixture
def enforced(dataset: None) -> Iterator[None]:
    with iam.enforce():
        yield


def make_role(trust: dict[str, Any] = TRUST, policy: dict[str, Any] = READ_AND_WRITE) -> None:
    iam_client = client("iam")
    iam_client.create_role(RoleName=ROLE_ARN.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust))
    iam_client.put_role_policy(
        RoleName=ROLE_ARN.rsplit("/", 1)[-1], PolicyName="data", PolicyDocument=json.dumps(policy)
    )


def finish(bedrock: Any) -> dict[str, Any]:
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]
    while (job := bedrock.get_model_customization_job(jobIdentifier=job_arn))["status"] == "InProgress":
        CLOCK.advance(600)  # simulated time
    return dict(job)


def test_a_role_that_may_read_and_write_trains(bedrock: Any, enforced: None) -> None:
    make_role()
    assert finish(bedrock)["status"] == "Completed"


def test_a_role_that_cannot_read_the_data_fails_the_job_naming_the_location(bedrock: Any, enforced: None) -> None:
    # Given a service role without s3:GetObject on the training data
    make_role(policy={**READ_AND_WRITE, "Statement": READ_AND_WRITE["Statement"][1:]})

    # When the job runs
    job = finish(bedrock)

    # Then it fails in validation, naming the S3 location and the missing action
    assert job["status"] == "Failed"
    assert TRAIN_URI in job["failureMessage"]
    assert "s3:GetObject" in job["failureMessage"]
    assert "outputModelArn" not in job


def test_a_role_that_cannot_write_the_output_fails_the_job(bedrock: Any, enforced: None) -> None:
    make_role(policy={**READ_AND_WRITE, "Statement": READ_AND_WRITE["Statement"][:1]})
    job = finish(bedrock)
    assert job["status"] == "Failed"
    assert "s3:PutObject" in job["failureMessage"]


def test_a_role_bedrock_may_not_assume_fails_the_job(bedrock: Any, enforced: None) -> None:
    # Given a trust policy for another account (the confused-deputy condition does not hold)
    other = json.loads(json.dumps(TRUST).replace(ACCOUNT, "999999999999"))
    make_role(trust=other)
    job = finish(bedrock)
    assert job["status"] == "Failed"
    assert "could not assume the service role" in job["failureMessage"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        # Bedrock retries its own throttled S3 calls (3 attempts here): two firings are absorbed
        ("s3:GetObject=SlowDown*2", "Completed"),
        ("s3:GetObject=SlowDown*3", "Failed"),
        ("s3:GetObject=AccessDenied*1", "Failed"),
        ("s3:PutObject=InternalError*3", "Failed"),
    ],
)
def test_injected_s3_faults_reach_bedrocks_own_reads_and_writes(
    bedrock: Any, enforced: None, fault: str, status: str
) -> None:
    make_role()
    with inject_faults([Fault.parse(fault)]) as log:
        job = finish(bedrock)
    assert job["status"] == status, job.get("failureMessage")
    assert log.fired(fault) == int(fault.rsplit("*", 1)[1])
    if status == "Failed":
        assert fault.split("=")[1].split("*", maxsplit=1)[0] in job["failureMessage"]


def test_without_enforcement_service_faults_do_not_apply(bedrock: Any, dataset: None) -> None:
    # Given no local run (IAM not enforced): the tests' own calls are the only callers, no service role exists
    with inject_faults([Fault.parse("s3:GetObject=AccessDenied")]) as log:
        job = finish(bedrock)
    assert job["status"] == "Completed"
    assert log.fired("s3:GetObject=AccessDenied") == 0
