"""The only module that touches boto3: clients, error translation, and the few S3 operations the steps share.

Clients are created on first use and cached, so importing a handler has no side effects; throttling and
service-unavailable errors become :class:`TransientAwsError`, which the state machine retries with backoff.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

from bedrock_finetune.config import S3Location
from bedrock_finetune.errors import TransientAwsError

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "ModelNotReadyException",
    }
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchKey", "NotFound", "404", "NoSuchVersion"})

# The state machine owns the long backoff; the client retries only briefly so the history shows the retries.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=10, read_timeout=60)
MULTIPART_COPY_THRESHOLD = 5 * 1024**3  # CopyObject's limit: above it, UploadPartCopy in parts
MULTIPART_COPY_PART = 512 * 1024**2


@functools.cache
def client(service: str) -> Any:
    """A cached boto3 client (``bedrock``, ``bedrock-runtime``, ``s3``, ``sns``)."""
    return boto3.client(service, config=_CLIENT_CONFIG)


def region() -> str:
    return str(client("s3").meta.region_name)


def reset_clients() -> None:
    """Forget cached clients (local runs and tests switch credentials and regions)."""
    client.cache_clear()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


@contextmanager
def transient_errors() -> Iterator[None]:
    """Turn throttling, 5xx and connection errors into TransientAwsError; let everything else through."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            operation = getattr(exc, "operation_name", "call")
            raise TransientAwsError(f"{operation} answered {code or status}; retrying with backoff") from exc
        raise
    except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError(f"connection problem: {type(exc).__name__}") from exc


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
        raise


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
        raise
    return str(body.read().decode("utf-8"))


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
