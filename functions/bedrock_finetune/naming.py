"""Names, keys and tokens: all derived from the execution and the dataset's content hash, so re-running a step
creates nothing twice and Cleanup can find what a run created even when a step died before returning."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Literal

MAX_NAME = 63
VALIDATION_REPORT = "validation.json"
MAX_TAG_VALUE = 256
# botocore's bedrock model (2023-04-20): the S3Uri shape every trainingDataConfig / validator / output URI must match.
# Its TagValue shape, [a-zA-Z0-9\s._:/=+@-]* (ASCII only: Java's \s), is what tag_value() produces.
BEDROCK_S3_URI = re.compile(
    r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
)
_TAG_VALUE_FORBIDDEN = re.compile(r"[^a-zA-Z0-9 ._:/=+@-]")


def run_id(execution_name: str) -> str:
    """The execution name made safe for S3 keys matching Bedrock's S3Uri pattern."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", execution_name).strip("-.") or "run"
    return cleaned[:80]


#: Step Functions execution names: 1-80 characters; we use only [0-9A-Za-z_-] (StartExecution ``name``, botocore's
#: stepfunctions model; characters outside ASCII letters, digits, ``-`` and ``_`` break CloudWatch logging).
MAX_EXECUTION_NAME = 80
INBOX_NAME_HASH = 32


def inbox_execution_name(bucket: str, key: str, version: str) -> str:
    """The execution name of an inbox drop: one object version, one name, whatever the key holds.

    ``<dataset>-<hash>``: the readable dataset name (at most 40 characters) and 32 hex characters of the SHA-256 of
    bucket, key and version id, so two deliveries of one S3 event give the same name (StartExecution then starts
    nothing new) and another version of the same key gives another. Already safe for :func:`run_id`, which keeps it
    unchanged."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()[:INBOX_NAME_HASH]
    readable = re.sub(r"[^A-Za-z0-9]+", "-", dataset_name(key))[:40].strip("-") or "dataset"
    return f"{readable}-{digest}"[:MAX_EXECUTION_NAME]


def run_hash(execution_arn: str) -> str:
    """8 hex characters unique to the execution: every Bedrock resource name of the run contains it."""
    return hashlib.sha256(execution_arn.encode("utf-8")).hexdigest()[:8]


def dataset_name(key: str) -> str:
    """A readable name from the object's key: letters, digits and single dashes, at most 32 characters."""
    stem = key.rsplit("/", 1)[-1]
    stem = stem[: -len(".jsonl")] if stem.lower().endswith(".jsonl") else stem
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-")[:32].strip("-")
    return cleaned or "dataset"


def resource_name(dataset: str, execution_arn: str, prefix: str = "", variant: str | None = None) -> str:
    """``<prefix><dataset>-<runhash>`` (a sweep variant's: ``<prefix><dataset>-<variant>-<runhash>``): fits Bedrock's
    job, model, throughput and deployment name patterns. The run hash is always there: Cleanup finds the run's
    resources by it (``nameContains``)."""
    suffix = f"-{variant}-{run_hash(execution_arn)}" if variant else f"-{run_hash(execution_arn)}"
    head = f"{prefix}{dataset}"[: MAX_NAME - len(suffix)].strip("-_")
    return f"{head}{suffix}"


def request_token(execution_arn: str, sha256: str, purpose: str) -> str:
    """An idempotency token: the same run, content and purpose always give the same token."""
    return hashlib.sha256(f"{execution_arn}|{sha256}|{purpose}".encode()).hexdigest()


def bedrock_s3_uri_problem(uri: str) -> str | None:
    """Why Bedrock would refuse this dataset or output URI (its S3Uri pattern, at most 1,024 characters), or None.

    The rule applies to what Bedrock reads and writes: the staged ``datasets/<sha256>/`` copies and ``outputs/<run>/``,
    never to the key a user dropped into ``inbox/`` (that one may hold spaces, ``=``, ``+`` or any Unicode).
    """
    if len(uri) > 1024:
        return f"{uri[:60]}... is {len(uri):,} characters; Bedrock accepts at most 1,024"
    if not BEDROCK_S3_URI.fullmatch(uri):
        return (
            f"{uri} does not match Bedrock's S3Uri pattern (a lowercase bucket; a key of letters, digits and "
            "-!_*'(). only)"
        )
    return None


def staged_key(sha256: str, role: str) -> str:
    """Content-addressed, immutable: ``datasets/<sha256>/<role>.jsonl`` (matches the S3Uri pattern)."""
    return f"datasets/{sha256}/{role}.jsonl"


def split_key(sha256: str, percent: int, role: str) -> str:
    return f"datasets/{sha256}/split-{percent}pct/{role}.jsonl"


def report_key(run: str, name: str) -> str:
    return f"reports/{run}/{name}"


def output_prefix(run: str, variant: str | None = None) -> str:
    return f"outputs/{run}/{variant}/" if variant else f"outputs/{run}/"


def tag_value(value: str) -> str:
    """A Bedrock tag value (botocore's TagValue pattern ``[a-zA-Z0-9\\s._:/=+@-]*``, at most 256 characters).

    ASCII only: accents are dropped (``ü`` → ``u``), whitespace becomes a space, anything else becomes ``_``.
    """
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    ascii_text = re.sub(r"\s", " ", ascii_text)
    return _TAG_VALUE_FORBIDDEN.sub("_", ascii_text)[:MAX_TAG_VALUE]


# --- tags: what a run's resources carry, and what the reconciler reads back -------------------------------------------
MANAGED_BY = "bedrock-finetune"
TAG_MANAGED_BY = "managed-by"
TAG_STACK = "stack"
TAG_RUN_ID = "run-id"
TAG_EXECUTION = "execution-arn"
TAG_KEEP = "keep"
#: A provisioned throughput kept until a moment (``budget.maxDeploymentHours``): UTC, ``YYYY-MM-DDTHH:MM:SSZ``.
TAG_KEEP_UNTIL = "keep-until"
KEEP_UNTIL_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def run_tags(
    *,
    run: str,
    execution_arn: str,
    sha256: str,
    source_key: str,
    stack: str = "",
    keep: bool = False,
    keep_until: datetime | None = None,
) -> list[dict[str, str]]:
    """Tags on every resource a run creates: Cleanup, the reconciler and people find what belongs to which stack and
    run. ``stack`` (the CloudFormation stack's name) scopes the reconciler to this stack's resources; ``keep`` marks a
    deployment the run was asked to keep, which the reconciler never removes (IAM refuses it too); ``keep_until``
    instead keeps it until that moment only: the reconciler deletes it once the moment has passed, unless the tag
    was moved later (renewed)."""
    tags = [
        {"key": TAG_MANAGED_BY, "value": MANAGED_BY},
        {"key": TAG_RUN_ID, "value": tag_value(run)},
        {"key": TAG_EXECUTION, "value": tag_value(execution_arn)},
        {"key": "dataset-sha256", "value": sha256},
        {"key": "source-key", "value": tag_value(source_key)},
    ]
    if stack:
        tags.append({"key": TAG_STACK, "value": tag_value(stack)})
    if keep_until is not None:
        tags.append({"key": TAG_KEEP_UNTIL, "value": format_keep_until(keep_until)})
    elif keep:
        tags.append({"key": TAG_KEEP, "value": "true"})
    return tags


def format_keep_until(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(KEEP_UNTIL_FORMAT)


def keep_until(tags: dict[str, str]) -> datetime | Literal["malformed"] | None:
    """The moment a ``keep-until`` tag names: ISO 8601 with a UTC offset (``2026-12-31T18:00:00Z``, ``...18:00Z``,
    ``...+01:00``), as renewed by hand or by ``bedrock-finetune keep``. None without one; "malformed" when it is not
    such a time (a time without an offset is ambiguous: malformed too)."""
    value = tags.get(TAG_KEEP_UNTIL)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return "malformed"
    return moment.astimezone(UTC) if moment.tzinfo is not None else "malformed"


def kept_now(tags: dict[str, str], now: datetime) -> bool:
    """Kept for good (``keep=true``), or until a moment still to come (a malformed ``keep-until`` counts as kept:
    nothing is removed on a guess)."""
    until = keep_until(tags)
    return is_kept(tags) or until == "malformed" or (isinstance(until, datetime) and now < until)


def tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    """Bedrock's ``[{key, value}]`` tag list as a dict."""
    return {str(item.get("key")): str(item.get("value", "")) for item in tags if item.get("key") is not None}


def is_kept(tags: dict[str, str]) -> bool:
    return tags.get(TAG_KEEP, "").strip().lower() == "true"


def belongs_to_stack(tags: dict[str, str], stack: str) -> bool:
    """Tagged as created by this product in this stack (both tags, exact values): the only resources the reconciler
    may touch."""
    return bool(stack) and tags.get(TAG_MANAGED_BY) == MANAGED_BY and tags.get(TAG_STACK) == tag_value(stack)


def reconciler_report_key(moment: str) -> str:
    return f"reports/reconciler/{moment}.json"


#: Where RefreshPrices keeps the prices it read from the AWS Price List (pricing.refresh_region's document).
PRICE_LIST_KEY = "prices/price-list.json"
