"""Names, keys and tokens: all derived from the execution and the dataset's content hash, so re-running a step
creates nothing twice and Cleanup can find what a run created even when a step died before returning."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
VALIDATION_REPORT = "validation.json"


def run_id(execution_name: str) -> str:
    """The execution name made safe for S3 keys matching Bedrock's S3Uri pattern."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", execution_name).strip("-.") or "run"
    return cleaned[:80]


def run_hash(execution_arn: str) -> str:
    """8 hex characters unique to the execution: every Bedrock resource name of the run contains it."""
    return hashlib.sha256(execution_arn.encode("utf-8")).hexdigest()[:8]


def dataset_name(key: str) -> str:
    """A readable name from the object's key: letters, digits and single dashes, at most 32 characters."""
    stem = key.rsplit("/", 1)[-1]
    stem = stem[: -len(".jsonl")] if stem.lower().endswith(".jsonl") else stem
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-")[:32].strip("-")
    return cleaned or "dataset"


def resource_name(dataset: str, execution_arn: str, prefix: str = "") -> str:
    """``<prefix><dataset>-<runhash>``: fits Bedrock's job, model, throughput and deployment name patterns."""
    suffix = f"-{run_hash(execution_arn)}"
    head = f"{prefix}{dataset}"[: MAX_NAME - len(suffix)].strip("-_")
    return f"{head}{suffix}"


def request_token(execution_arn: str, sha256: str, purpose: str) -> str:
    """An idempotency token: the same run, content and purpose always give the same token."""
    return hashlib.sha256(f"{execution_arn}|{sha256}|{purpose}".encode()).hexdigest()


def staged_key(sha256: str, role: str) -> str:
    """Content-addressed, immutable: ``datasets/<sha256>/<role>.jsonl`` (matches the S3Uri pattern)."""
    return f"datasets/{sha256}/{role}.jsonl"


def split_key(sha256: str, percent: int, role: str) -> str:
    return f"datasets/{sha256}/split-{percent}pct/{role}.jsonl"


def report_key(run: str, name: str) -> str:
    return f"reports/{run}/{name}"


def output_prefix(run: str) -> str:
    return f"outputs/{run}/"


def tag_value(value: str) -> str:
    """Bedrock tag values: at most 256 of ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``."""
    return re.sub(r"[^\w.:/=+\-@ ]", "_", value)[:256]
