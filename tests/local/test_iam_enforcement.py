"""The IAM-enforcing local AWS at the API level: who calls (credentials → principal), what AWS answers a denied call
(each service's own error code and HTTP status, as botocore parses them), and S3's 403-instead-of-404 rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bedrock_finetune_local.aws import iam

from .conftest import ACCOUNT, BUCKET, REGION, client_as, lambda_role

ROLE = "caller"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def bucket(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="datasets/a.jsonl", Body=b"{}\n")


@pytest.fixture
def enforced(bucket: None) -> Iterator[None]:
    with iam.enforce():
        yield


def role_with(*statements: dict[str, Any]) -> None:
    lambda_role(ROLE, *statements)


def as_role(service: str) -> Any:
    return client_as(ROLE_ARN, service)


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        str(response["Error"]["Code"]),
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
        str(response["Error"].get("Message", "")),
    )


GET_OBJECT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(enforced: None) -> None:
    # Given a role that may read objects but not list the bucket
    role_with(GET_OBJECT)
    s3 = as_role("s3")

    # Then an existing key reads, and a missing key answers 403, as S3 does (S3 API Reference, HeadObject)
    assert s3.get_object(Bucket=BUCKET, Key="datasets/a.jsonl")["Body"].read() == b"{}\n"
    assert error_of(lambda: s3.head_object(Bucket=BUCKET, Key="datasets/missing"))[:2] == ("403", 403)
    code, status, message = error_of(lambda: s3.get_object(Bucket=BUCKET, Key="datasets/missing"))
    assert (code, status) == ("AccessDenied", 403)
    assert "s3:GetObject" in message


def test_with_list_bucket_a_missing_key_is_404(enforced: None) -> None:
    role_with(GET_OBJECT, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"})
    s3 = as_role("s3")
    assert error_of(lambda: s3.head_object(Bucket=BUCKET, Key="datasets/missing"))[:2] == ("404", 404)
    assert error_of(lambda: s3.get_object(Bucket=BUCKET, Key="datasets/missing"))[:2] == ("NoSuchKey", 404)


def test_a_list_bucket_grant_scoped_by_s3_prefix_does_not_give_the_404_the_stricter_reading(enforced: None) -> None:
    # Given ListBucket only for listings under datasets/ (AWS does not document how this applies to a HEAD of a
    # missing key; the local AWS takes the stricter reading: the implied check has no s3:prefix)
    role_with(
        GET_OBJECT,
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": ["datasets/*"]}},
        },
    )
    s3 = as_role("s3")
    assert error_of(lambda: s3.head_object(Bucket=BUCKET, Key="datasets/missing"))[:2] == ("403", 403)
    # And the listing the grant is for works, under its prefix only
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="datasets/a")["KeyCount"] == 1
    assert error_of(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="inbox/"))[:2] == ("AccessDenied", 403)


def test_a_pinned_version_needs_get_object_version(enforced: None, s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="datasets/b.jsonl", Body=b"x")["VersionId"]
    role_with(GET_OBJECT)
    caller = as_role("s3")
    assert caller.get_object(Bucket=BUCKET, Key="datasets/b.jsonl")["Body"].read() == b"x"
    code, _, message = error_of(lambda: caller.get_object(Bucket=BUCKET, Key="datasets/b.jsonl", VersionId=version))
    assert code == "AccessDenied"
    assert "s3:GetObjectVersion" in message


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("bedrock", lambda c: c.list_custom_models(), "AccessDeniedException", 403),
        (
            "bedrock-runtime",
            lambda c: c.converse(modelId="amazon.nova-micro-v1:0", messages=[]),
            "AccessDeniedException",
            403,
        ),
        (
            "sns",
            lambda c: c.publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t", Message="m"),
            "AuthorizationError",
            403,
        ),
        ("lambda", lambda c: c.invoke(FunctionName="f"), "AccessDeniedException", 403),
        (
            "stepfunctions",
            lambda c: c.start_execution(stateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"),
            "AccessDeniedException",
            400,
        ),
    ],
)
def test_each_service_denies_with_its_own_error(
    enforced: None, service: str, call: Any, code: str, status: int
) -> None:
    # Given a role with no permission for the call
    role_with(GET_OBJECT)

    # Then the service's AccessDenied comes back as botocore parses that service's errors
    got_code, got_status, message = error_of(lambda: call(as_role(service)))
    assert (got_code, got_status) == (code, status)
    assert f"assumed-role/{ROLE}/test-session is not authorized to perform" in message


def test_unknown_credentials_are_refused_and_the_administrator_is_not_restricted(enforced: None, s3: Any) -> None:
    stranger = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x", config=NO_RETRIES
    )
    assert error_of(stranger.list_buckets)[0] == "InvalidAccessKeyId"
    # The tests' own client is the account's administrator
    assert s3.head_object(Bucket=BUCKET, Key="datasets/a.jsonl")["ContentLength"] == 3


def test_nothing_is_enforced_outside_a_local_run(bucket: None) -> None:
    # Given no enforcement (handler tests call AWS as the administrator directly)
    role_with(GET_OBJECT)
    # Then even a role session's call is not evaluated
    assert as_role("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


def test_a_call_whose_parameters_match_no_row_of_the_table_is_denied_not_allowed(enforced: None) -> None:
    # Given a role allowed everything in Bedrock, asking for the tags of a resource type the table has no row for
    role_with({"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"})
    agent = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/ABCDEFGHIJ"

    # Then the local IAM refuses rather than allowing silently, and says why
    code, _, message = error_of(lambda: as_role("bedrock").list_tags_for_resource(resourceARN=agent))
    assert code == "AccessDeniedException"
    assert "no authorization rule" in message
