"""The only module that touches boto3: clients, error translation, and the few S3 operations the steps share.

Clients are created on first use and cached, so importing a handler has no side effects; throttling and
service-unavailable errors become :class:`TransientAwsError`, which the state machine retries with backoff.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

from bedrock_finetune import clock
from bedrock_finetune.config import S3Location
from bedrock_finetune.errors import AccessDenied, TransientAwsError

# Error codes worth retrying: every code botocore's retry handlers treat as throttling or transient
# (botocore/retries/standard.py, botocore/data/_retry.json), and every code of the operations this package calls that
# botocore's service models mark retryable or answer with 429/5xx, including SNS's own spellings (ThrottledException
# is sent as ``Throttled``, KMSThrottlingException as ``KMSThrottling``, InternalErrorException as ``InternalError``).
# tests/handlers/test_transient_codes.py derives them from botocore's data, so a code botocore adds fails that test.
TRANSIENT_CODES = frozenset(
    {
        # throttling
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "Throttled",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "EC2ThrottledException",
        "SlowDown",
        "KMSThrottling",
        "KMSThrottlingException",
        # transient service faults
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalErrorException",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "ModelNotReadyException",
        "BadDigest",  # S3: the body's MD5 did not match what arrived; botocore's _retry.json retries it
    }
)
#: HTTP statuses botocore retries whatever the code: 429 (too many requests), 5xx, 509 (limit exceeded).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504, 509})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchKey", "NotFound", "404", "NoSuchVersion"})

# The state machine owns the long backoff; the client retries only briefly so the history shows the retries.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=10, read_timeout=60)
MULTIPART_COPY_THRESHOLD = 5 * 1024**3  # CopyObject's limit: above it, UploadPartCopy in parts
MULTIPART_COPY_PART = 512 * 1024**2


def client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client (``bedrock``, ``bedrock-runtime``, ``s3``, ``sns``), one per set of credentials in the
    environment: on Lambda that is one per service; locally, where one process runs every function with its own
    role's credentials (and one function's invocation can start another's), each gets clients of its own role.
    ``region`` for a service that answers elsewhere than the function's Region (the Price List: us-east-1)."""
    return _client(service, region, os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SESSION_TOKEN"))


@functools.cache
def _client(service: str, region: str | None, _access_key: str | None, _session_token: str | None) -> Any:
    return boto3.client(service, region_name=region, config=_CLIENT_CONFIG)


def region() -> str:
    return str(client("s3").meta.region_name)


def reset_clients() -> None:
    """Forget cached clients (local runs and tests switch credentials and regions)."""
    _client.cache_clear()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def http_status(exc: ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def is_transient(exc: ClientError) -> bool:
    """Throttling, a transient service fault, or a 429/5xx status: worth retrying with backoff."""
    status = http_status(exc)
    return error_code(exc) in TRANSIENT_CODES or status in TRANSIENT_STATUSES or status >= 500


#: What AWS services answer when IAM (or a bucket policy, or an SCP) denies a call; S3's HEAD has no body: "403".
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException", "403"}
)


def is_access_denied(exc: ClientError) -> bool:
    return error_code(exc) in ACCESS_DENIED_CODES


def access_denied(exc: ClientError) -> AccessDenied:
    """The named error the state machine reports for a denial botocore has no exception class for (S3's
    ``AccessDenied``, a HEAD's bare ``403``): the operation, AWS's answer and its message (which names the
    principal, action and resource; never data)."""
    operation = getattr(exc, "operation_name", "call")
    message = str(exc.response.get("Error", {}).get("Message", "")) or "Forbidden"
    return AccessDenied(f"{operation} was denied (AccessDenied, HTTP {http_status(exc) or 403}): {message}")


@contextmanager
def transient_errors() -> Iterator[None]:
    """Turn throttling, 5xx and connection errors into TransientAwsError; let everything else through."""
    try:
        yield
    except ClientError as exc:
        if is_transient(exc):
            operation = getattr(exc, "operation_name", "call")
            answer = error_code(exc) or http_status(exc)
            raise TransientAwsError(f"{operation} answered {answer}; retrying with backoff") from exc
        raise
    except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError(f"connection problem: {type(exc).__name__}") from exc


# --- a resource that is busy (Creating, Updating, Stopping) --------------------------------------------------------
CONFLICT_CODES = frozenset({"ConflictException"})
T = TypeVar("T")


@dataclass
class BusyWait:
    """How long to wait, polling, for a resource whose Delete/Stop answers ConflictException because it is still
    changing (a throughput Creating or Updating, a job Stopping). Bounded by attempts and by a deadline shared by
    every wait of one invocation, so the Lambda ends well within its timeout."""

    initial_seconds: float = 5.0
    max_seconds: float = 60.0
    max_attempts: int = 20
    budget_seconds: float = 300.0
    deadline: float = field(default=0.0)
    sleep: Callable[[float], None] = clock.sleep

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = clock.epoch() + self.budget_seconds

    def delay(self, waited: float) -> float:
        """The next pause: ``initial_seconds``, growing with the time already waited, up to ``max_seconds`` and never
        past the deadline."""
        wanted = min(self.max_seconds, max(self.initial_seconds, waited / 2))
        return max(0.0, min(wanted, self.deadline - clock.epoch()))


def retry_while_busy(
    action: Callable[[], T], status: Callable[[], str | None], busy: frozenset[str], wait: BusyWait, what: str
) -> T:
    """Run ``action``; on ConflictException read ``status``: while it is one of ``busy`` wait and retry, otherwise
    (settled, or gone: None) retry at once. Still busy when the wait is used up: TransientAwsError (retried later
    by the state machine), with ``status`` set to the last status seen."""
    waited = 0.0
    last_status: str | None = None
    for _ in range(max(1, wait.max_attempts)):
        try:
            with transient_errors():
                return action()
        except ClientError as exc:
            if error_code(exc) not in CONFLICT_CODES:
                raise
        last_status = status()
        if last_status in busy:
            pause = wait.delay(waited)
            if pause <= 0 and clock.epoch() >= wait.deadline:
                break
            wait.sleep(pause)
            waited += pause
    raise TransientAwsError(
        f"{what} is still {last_status} after {int(waited)} s of waiting (ConflictException); retrying later",
        status=last_status,
    )


# --- S3 ---------------------------------------------------------------------------------------------------------------
def head_object(location: S3Location) -> dict[str, Any] | None:
    """The object's metadata, or None when it does not exist."""
    kwargs: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id:
        kwargs["VersionId"] = location.version_id
    try:
        with transient_errors():
            return dict(client("s3").head_object(**kwargs))
    except ClientError as exc:
        if is_not_found(exc):
            return None
        if http_status(exc) == 403 and not location.version_id and not _listed(location):
            # S3 answers 403, not 404, for a missing key unless the caller may list the whole bucket (S3 API
            # Reference, HeadObject "Permissions"); a role whose ListBucket is scoped by s3:prefix asks the listing.
            return None
        raise


def _listed(location: S3Location) -> bool:
    """Is the key in a listing of exactly its own prefix? (needs only s3:ListBucket with that s3:prefix)"""
    with transient_errors():
        response = client("s3").list_objects_v2(Bucket=location.bucket, Prefix=location.key, MaxKeys=1)
    return any(item["Key"] == location.key for item in response.get("Contents", []))


def open_object(location: S3Location) -> tuple[Any, int]:
    """A streaming body of the object (the exact version when pinned) and its size."""
    kwargs: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id:
        kwargs["VersionId"] = location.version_id
    with transient_errors():
        response = client("s3").get_object(**kwargs)
    return response["Body"], int(response["ContentLength"])


def put_json(bucket: str, key: str, body: str) -> None:
    with transient_errors():
        client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json")


def get_text(bucket: str, key: str) -> str | None:
    try:
        with transient_errors():
            body = client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        if http_status(exc) == 403 and not _listed(S3Location(bucket=bucket, key=key)):
            return None  # a missing key answers 403 to a caller whose ListBucket is scoped by s3:prefix
        raise
    return str(body.read().decode("utf-8"))


def json_object(text: str | None) -> dict[str, Any] | None:
    """``text`` as a JSON object; None when it is missing, not JSON, or not an object."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def copy_object(source: S3Location, bucket: str, key: str, size: int) -> str | None:
    """Server-side copy (multipart above 5 GB: no bytes pass through the Lambda); returns the new version id."""
    copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    s3 = client("s3")
    with transient_errors():
        if size < MULTIPART_COPY_THRESHOLD:
            response = s3.copy_object(CopySource=copy_source, Bucket=bucket, Key=key, MetadataDirective="COPY")
            return _optional_str(response.get("VersionId"))
        from boto3.s3.transfer import TransferConfig  # noqa: PLC0415 - only for the rare >5 GB dataset

        transfer = TransferConfig(multipart_threshold=MULTIPART_COPY_THRESHOLD, multipart_chunksize=MULTIPART_COPY_PART)
        s3.copy(copy_source, bucket, key, Config=transfer)
    head = s3.head_object(Bucket=bucket, Key=key)
    return _optional_str(head.get("VersionId"))


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def delete_object(location: S3Location) -> None:
    """Delete the current version only: with versioning on, the data stays recoverable behind a delete marker."""
    with transient_errors():
        client("s3").delete_object(Bucket=location.bucket, Key=location.key)


def list_keys(bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = client("s3").get_paginator("list_objects_v2")
    with transient_errors():
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


class MultipartWriter:
    """Stream lines into an S3 object in 8 MiB parts: memory stays bounded whatever the size."""

    PART_SIZE = 8 * 1024 * 1024

    def __init__(self, bucket: str, key: str) -> None:
        self.bucket, self.key = bucket, key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= self.PART_SIZE:
            self._flush()

    def _flush(self) -> None:
        s3 = client("s3")
        with transient_errors():
            if self._upload_id is None:
                self._upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
            number = len(self._parts) + 1
            etag = s3.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
            )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        s3 = client("s3")
        with transient_errors():
            if self._upload_id is None:
                s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
                return
            if self._buffer:
                self._flush()
            s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )

    def abort(self) -> None:
        if self._upload_id is not None:
            client("s3").abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)


# --- Bedrock tags and Step Functions executions (the reconciler) -----------------------------------------------------
#: DescribeExecution's answers for an execution that is not there (botocore's stepfunctions model).
EXECUTION_MISSING_CODES = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


def bedrock_tags(arn: str) -> dict[str, str] | None:
    """The tags of a Bedrock resource, or None when the resource no longer exists."""
    try:
        with transient_errors():
            response = client("bedrock").list_tags_for_resource(resourceARN=arn)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return {str(item["key"]): str(item.get("value", "")) for item in response.get("tags", [])}


def execution_status(execution_arn: str) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE; None when there is no such execution."""
    try:
        with transient_errors():
            response = client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if error_code(exc) in EXECUTION_MISSING_CODES:
            return None
        raise
    return str(response["status"])


def running_executions(state_machine_arn: str) -> list[str]:
    """The ARNs of the state machine's executions that are RUNNING now."""
    paginator = client("stepfunctions").get_paginator("list_executions")
    arns: list[str] = []
    with transient_errors():
        for page in paginator.paginate(stateMachineArn=state_machine_arn, statusFilter="RUNNING"):
            arns.extend(str(item["executionArn"]) for item in page.get("executions", []))
    return arns


# --- Step Functions: starting an execution by name (the inbox starter) -----------------------------------------------
def start_execution(state_machine_arn: str, name: str, payload: str) -> tuple[str, bool]:
    """Start an execution named ``name``; (its ARN, whether this call started it).

    StartExecution is idempotent for STANDARD state machines: the same name and input as a running execution answers
    that execution; a closed one, or another input, answers ``ExecutionAlreadyExists`` (Step Functions API Reference,
    StartExecution). Both mean the execution exists already: nothing new is started (False)."""
    arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        with transient_errors():
            response = client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=payload
            )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return arn, False
        raise
    return str(response["executionArn"]), True


# --- DynamoDB: the training table (claims of content and settings, the training queue) --------------------------------
CONDITION_FAILED = "ConditionalCheckFailedException"


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415 - only the steps that use the table need it

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items() if value is not None}


def _deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def put_new_item(
    table: str, item: dict[str, Any], *, replace_if: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Write ``item`` only if no item has its key (or the existing one matches ``replace_if``, a condition over
    ``values``): None when written, else the item that is there (ReturnValuesOnConditionCheckFailure=ALL_OLD, so one
    request decides, with no window between a read and a write)."""
    condition = "attribute_not_exists(pk)" + (f" OR ({replace_if})" if replace_if else "")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Item": _serialize(item),
        "ConditionExpression": condition,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        kwargs["ExpressionAttributeValues"] = _serialize(values)
    try:
        with transient_errors():
            client("dynamodb").put_item(**kwargs)
    except ClientError as exc:
        if error_code(exc) != CONDITION_FAILED:
            raise
        return _deserialize(exc.response.get("Item")) or {}
    return None


def put_item(table: str, item: dict[str, Any]) -> None:
    """Write ``item``, replacing any item with its key."""
    with transient_errors():
        client("dynamodb").put_item(TableName=table, Item=_serialize(item))


def get_item(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    with transient_errors():
        response = client("dynamodb").get_item(
            TableName=table, Key=_serialize({"pk": pk, "sk": sk}), ConsistentRead=True
        )
    return _deserialize(response.get("Item"))


def update_item(table: str, pk: str, sk: str, updates: dict[str, Any], *, only_if: str, values: dict[str, Any]) -> bool:
    """Set ``updates`` on an existing item when ``only_if`` (over ``values``, names as ``:name``) holds; False when
    it does not (or the item is gone)."""
    names = {f"#{key}": key for key in updates}
    assignments = ", ".join(f"#{key} = :{key}" for key in updates)
    try:
        with transient_errors():
            client("dynamodb").update_item(
                TableName=table,
                Key=_serialize({"pk": pk, "sk": sk}),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=f"attribute_exists(pk) AND ({only_if})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_serialize({**{f":{k}": v for k, v in updates.items()}, **values}),
            )
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def delete_item(
    table: str,
    pk: str,
    sk: str,
    *,
    only_if: str | None = None,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> bool:
    """Delete the item when ``only_if`` holds (over ``values``; ``names`` for reserved words such as ``status``);
    False when the condition did not hold (or, with a condition, the item was not there)."""
    kwargs: dict[str, Any] = {"TableName": table, "Key": _serialize({"pk": pk, "sk": sk})}
    if only_if:
        kwargs["ConditionExpression"] = only_if
        kwargs["ExpressionAttributeValues"] = _serialize(values or {})
    if names:
        kwargs["ExpressionAttributeNames"] = names
    try:
        with transient_errors():
            client("dynamodb").delete_item(**kwargs)
    except ClientError as exc:
        if error_code(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def query_partition(table: str, pk: str) -> list[dict[str, Any]]:
    """Every item of one partition in sort-key order (strongly consistent)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": _serialize({":pk": pk}),
        "ConsistentRead": True,
    }
    while True:
        with transient_errors():
            page = client("dynamodb").query(**kwargs)
        items.extend(item for raw in page.get("Items", []) if (item := _deserialize(raw)) is not None)
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
