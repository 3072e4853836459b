"""The run configuration: one pydantic model, resolved from an inbox drop or a console start plus the stack defaults.

Console input (exact field names) is :class:`ConsoleInput`; a per-file override for inbox drops is the same fields
minus ``datasetUri``, carried as JSON in the object's ``x-amz-meta-finetune-config`` metadata, which is written in
the same request as the object and so cannot race the upload.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from bedrock_finetune.errors import ConfigInvalid

CustomizationType = Literal["FINE_TUNING", "CONTINUED_PRE_TRAINING"]
DeploymentMode = Literal["auto", "provisioned", "on-demand", "none"]
ResolvedDeploymentMode = Literal["provisioned", "on-demand", "none"]
Trigger = Literal["inbox", "console"]

METADATA_KEY = "finetune-config"
INBOX_PREFIX = "inbox/"
MODEL_NAME_PATTERN = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>.+)$")


class CamelModel(BaseModel):
    """camelCase on the wire (state machine JSON, console input), snake_case in Python."""

    # defer_build: a model's validator is built on first use, so a handler pays only for the models it uses.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, defer_build=True
    )


class S3Location(CamelModel):
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @classmethod
    def from_uri(cls, uri: str, *, field: str) -> S3Location:
        match = _S3_URI.match(uri)
        if not match:
            raise ConfigInvalid(f"{field}: {uri!r} is not an s3://bucket/key URI")
        return cls(bucket=match["bucket"], key=match["key"])


# --- what a user may give ---------------------------------------------------------------------------------------------
Prompt = Annotated[str, Field(min_length=1, max_length=4000)]


class DeploymentInput(CamelModel):
    mode: DeploymentMode | None = None
    model_units: int | None = Field(default=None, ge=1, le=100)
    keep: bool | None = None


class SmokeTestInput(CamelModel):
    prompts: list[Prompt] | None = Field(default=None, max_length=20)
    count: int | None = Field(default=None, ge=0, le=20)
    compare_with_base: bool | None = None


#: At most this many values per sweep stage and stages per sweep: a sweep multiplies the training bill.
MAX_SWEEP_VALUES = 8
MAX_SWEEP_STAGES = 4


class SweepVary(CamelModel):
    """One stage of a sweep: train one job per value of ``parameter``, every other hyperparameter fixed."""

    parameter: str = Field(min_length=1)
    values: list[str | int | float] = Field(min_length=1, max_length=MAX_SWEEP_VALUES)


class SweepInput(CamelModel):
    """``"sweep": {"vary": [...], "keepAll": false}``: one hyperparameter at a time, stage after stage, each stage
    with the best value of the stages before it (logic/sweep.py)."""

    vary: list[SweepVary] = Field(min_length=1, max_length=MAX_SWEEP_STAGES)
    #: Keep the custom models of the variants that did not win (by default they are deleted once the winner is known).
    keep_all: bool = False


#: The longest a kept provisioned throughput may be kept for by ``budget.maxDeploymentHours`` (a year).
MAX_DEPLOYMENT_HOURS = 8760


class BudgetInput(CamelModel):
    """``"budget": {"maxUsd": 25, "maxDeploymentHours": 48}``: the most the run may be estimated to cost (refused
    before anything is created), and how long a provisioned throughput the run keeps may stay (the reconciler deletes
    it after that, unless renewed)."""

    max_usd: float | None = Field(default=None, gt=0)
    max_deployment_hours: float | None = Field(default=None, gt=0, le=MAX_DEPLOYMENT_HOURS)


class RunOverrides(CamelModel):
    """Every console field except ``datasetUri``: the per-file override and the CLI's ``--config``."""

    validation_dataset_uri: str | None = None
    base_model_id: str | None = None
    customization_type: CustomizationType | None = None
    hyper_parameters: dict[str, str | int | float] | None = None
    deployment: DeploymentInput | None = None
    smoke_test: SmokeTestInput | None = None
    model_name: str | None = None
    validation_split_percent: int | None = Field(default=None, ge=0, le=50)
    #: Train even when a run with the same content and settings already succeeded or is still running.
    force: bool | None = None
    sweep: SweepInput | None = None
    budget: BudgetInput | None = None

    @field_validator("model_name")
    @classmethod
    def _model_name_pattern(cls, value: str | None) -> str | None:
        if value is not None and not MODEL_NAME_PATTERN.match(value):
            raise ValueError("must be 1-63 letters or digits, each optionally followed by one '_' or '-'")
        return value


class ConsoleInput(RunOverrides):
    """The input of an execution started from the Step Functions console (or the CLI's ``--via console``)."""

    dataset_uri: str


class ExcludeRecords(CamelModel):
    """Records to leave out of a retrain: by 1-based line of the original training file, or by the sha256 of a
    record's line (its bytes without the line ending, as ``sha256sum`` of the line prints it)."""

    lines: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, min_length=1, max_length=100_000)
    sha256: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] | None = Field(
        default=None, min_length=1, max_length=100_000
    )

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return [str(item).lower() for item in value] if isinstance(value, list) else value


class RetrainInput(RunOverrides):
    """``{"retrainFrom": "<run id>", "excludeRecords": {...}, "swapDeployment": true}``: train again from an earlier
    run's staged data without some records, with its base model, type and hyperparameters (overridable), and move
    its kept deployment to the new model in place."""

    retrain_from: str = Field(min_length=1, max_length=80)
    exclude_records: ExcludeRecords
    swap_deployment: bool = False


# --- the stack's defaults (environment of every function) ------------------------------------------------------------
#: The shortest fallback interval of the wait for a job's end: a 72-hour job then costs at most 433 rounds, far under
#: the 25,000-event execution history limit (tests/workflow/test_poll_history_budget.py).
MIN_JOB_EVENT_FALLBACK_SECONDS = 600


class PollingSettings(CamelModel):
    job_initial_seconds: int = Field(ge=0)
    job_max_seconds: int = Field(ge=0)
    job_timeout_seconds: int = Field(ge=1)
    deployment_initial_seconds: int = Field(ge=0)
    deployment_max_seconds: int = Field(ge=0)
    deployment_timeout_seconds: int = Field(ge=1)
    #: The longest wait for a job's state change event before the workflow checks the job itself (Bedrock delivers
    #: these events best effort): with the event lost, the end is noticed at most this late. Read by the state
    #: machine (the waiting Task's TimeoutSecondsPath).
    job_event_fallback_seconds: int = Field(default=10800, ge=MIN_JOB_EVENT_FALLBACK_SECONDS, le=86400)


class StackSettings(CamelModel):
    """Read from the function's environment (set by template.yaml); unknown variables are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket_name: str
    topic_arn: str = ""
    bedrock_role_arn: str = ""
    #: The CloudFormation stack's name: every resource a run creates is tagged with it (the reconciler's scope).
    stack_name: str = ""
    #: Set on the reconciler and the inbox starter only: the workflow's state machine (whose executions own the tagged
    #: resources; which the starter starts).
    state_machine_arn: str = ""
    default_base_model_id: str = "amazon.nova-micro-v1:0:128k"
    default_customization_type: CustomizationType = "FINE_TUNING"
    default_hyperparameters: str = "{}"
    default_deployment_mode: DeploymentMode = "auto"
    default_model_units: int = 1
    default_keep_deployment: bool = False
    default_smoke_test_count: int = 3
    default_validation_split_percent: int = 10
    job_poll_initial_seconds: int = 60
    job_poll_max_seconds: int = 900
    job_timeout_hours: float = 72
    job_event_fallback_seconds: int = 10800
    #: The budget of a run that sets none (0: no budget), and per-price overrides of catalog/prices.json (JSON).
    default_max_usd: float = 0
    #: The stack parameter PriceRefreshSchedule: "off", or how often RefreshPrices reads the Price List (estimates
    #: ignore a Price List document when it is off, or when it is older than a few of its intervals).
    price_refresh_schedule: str = "off"
    #: How long a kept provisioned throughput stays when the run sets no budget.maxDeploymentHours (0: for good).
    default_max_deployment_hours: float = Field(default=0, ge=0, le=MAX_DEPLOYMENT_HOURS)
    price_overrides: str = "{}"
    deployment_poll_initial_seconds: int = 60
    deployment_poll_max_seconds: int = 120
    deployment_timeout_minutes: float = 90
    #: The DynamoDB table of training claims (same content and settings → one training) and the training queue.
    training_table_name: str = ""
    queue_poll_initial_seconds: int = 60
    queue_poll_max_seconds: int = 900
    training_queue_timeout_hours: float = 24

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        env = os.environ if environ is None else environ
        values = {key.lower(): value for key, value in env.items() if key.isupper()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigInvalid(f"function environment: {describe_validation_error(exc)}") from exc

    @property
    def polling(self) -> PollingSettings:
        return PollingSettings(
            job_initial_seconds=self.job_poll_initial_seconds,
            job_max_seconds=self.job_poll_max_seconds,
            job_timeout_seconds=max(1, int(self.job_timeout_hours * 3600)),
            deployment_initial_seconds=self.deployment_poll_initial_seconds,
            deployment_max_seconds=self.deployment_poll_max_seconds,
            deployment_timeout_seconds=max(1, int(self.deployment_timeout_minutes * 60)),
            job_event_fallback_seconds=min(86400, max(MIN_JOB_EVENT_FALLBACK_SECONDS, self.job_event_fallback_seconds)),
        )

    def default_hyperparameter_overrides(self) -> dict[str, str | int | float]:
        try:
            value = json.loads(self.default_hyperparameters or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigInvalid(f"stack parameter HyperParameters: not JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise ConfigInvalid("stack parameter HyperParameters: must be a JSON object")
        return value


# --- the resolved configuration every step receives ------------------------------------------------------------------
class DeploymentSettings(CamelModel):
    requested_mode: DeploymentMode
    mode: ResolvedDeploymentMode
    model_units: int = Field(ge=1)
    keep: bool


class SmokeTestSettings(CamelModel):
    prompts: list[str]
    count: int
    compare_with_base: bool


class SweepStagePlan(CamelModel):
    parameter: str
    values: list[str]


class SweepPlan(CamelModel):
    stages: list[SweepStagePlan]
    keep_all: bool = False


class RetrainPlan(CamelModel):
    """What ResolveConfig found about the earlier run a retrain starts from (its report), for PrepareRetrainDataset
    and SwapDeployment."""

    from_run: str
    from_model_arn: str | None
    #: The earlier run's staged training data; with a split, its validation part and the seed that chose it, so the
    #: original file's line order can be rebuilt.
    staged_train: S3Location
    staged_split_validation: S3Location | None = None
    split_seed: str | None = None
    split_validation_records: int = 0
    original_records: int
    exclude_lines: list[int] = Field(default_factory=list)
    exclude_sha256: list[str] = Field(default_factory=list)
    swap_deployment: bool = False
    #: The earlier run's kept deployment (moved to the new model after its smoke test when ``swap_deployment``).
    deployment_arn: str | None = None
    deployment_mode: Literal["provisioned", "on-demand"] | None = None


class RunConfig(CamelModel):
    run_id: str
    execution_arn: str
    region: str
    bucket: str
    trigger: Trigger
    source: S3Location
    source_in_inbox: bool
    validation_source: S3Location | None
    dataset_name: str
    base_model_id: str
    customization_type: CustomizationType
    hyper_parameters: dict[str, str]
    deployment: DeploymentSettings
    smoke_test: SmokeTestSettings
    polling: PollingSettings
    model_name: str | None
    validation_split_percent: int
    #: The stack that runs this configuration (tagged on every resource the run creates); "" outside a stack.
    stack_name: str = ""
    #: Train even when the same content and settings already trained (or are training) in another run.
    force: bool = False
    #: When the dataset was dropped (the S3 event's time; a console start's start time), UTC ISO 8601: the training
    #: queue is first in, first out by this, then by ``started_at``.
    dropped_at: str | None = None
    #: The execution's start time, UTC ISO 8601 with microseconds.
    started_at: str | None = None
    #: The sweep to run instead of one job (values checked against the model's ranges, as canonical strings).
    sweep: SweepPlan | None = None
    #: The most the run may be estimated to cost, in US dollars (None: no budget).
    max_usd: float | None = None
    #: A provisioned throughput the run keeps is deleted this many hours after it was created, unless renewed (None:
    #: kept for good). On-demand deployments bill per token, not per hour: they are kept for good.
    max_deployment_hours: float | None = None
    #: Set on the configuration of one sweep variant (``s<stage>v<index>``): its job, model, output prefix, request
    #: token and queue place are its own.
    variant: str | None = None
    #: A retrain of an earlier run without some records (ResolveConfig from ``retrainFrom``).
    retrain: RetrainPlan | None = None


def is_s3_event(raw: dict[str, Any]) -> bool:
    return raw.get("source") == "aws.s3" and raw.get("detail-type") == "Object Created"


def source_from_event(raw: dict[str, Any]) -> S3Location:
    """The object of an S3 ``Object Created`` EventBridge event (its version pinned when the bucket versions)."""
    try:
        bucket = raw["detail"]["bucket"]["name"]
        obj = raw["detail"]["object"]
    except (KeyError, TypeError) as exc:
        raise ConfigInvalid("S3 event: detail.bucket.name and detail.object are required") from exc
    return S3Location(bucket=bucket, key=obj["key"], version_id=obj.get("version-id"))


def utc_instant(value: Any) -> str | None:
    """A moment as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (so that the text sorts in time order), from ISO 8601 text (an
    EventBridge event's ``time``, ``$$.Execution.StartTime``) or seconds since the epoch; None when unreadable."""
    from datetime import UTC, datetime  # noqa: PLC0415 - only ResolveConfig needs it

    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str) and value:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def describe_validation_error(exc: ValidationError) -> str:
    """'field.path: message' for every problem, using the wire (camelCase) names."""
    parts = []
    for error in exc.errors():
        path = ".".join(str(item) for item in error["loc"]) or "(input)"
        parts.append(f"{path}: {error['msg']}")
    return "; ".join(parts)
