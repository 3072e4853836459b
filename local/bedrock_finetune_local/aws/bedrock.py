"""Local Bedrock control plane: moto's Bedrock, completed so the workflow's handlers see a faithful service.

moto 5.2.5 ships a thin Bedrock (jobs stay ``InProgress``, no lookup by ARN, the custom model exists as soon as the job
is created, no provisioned throughput, no custom model deployments). ``install_control_plane()`` keeps moto's routing
and replaces the operations:

* ``moto.bedrock.models.bedrock_backends`` builds :class:`LocalBedrockBackend` (a ``BedrockBackend`` subclass, so
  moto's tags and logging configuration keep working) instead of moto's backend;
* ``moto.bedrock.responses.BedrockResponse`` gets one method per operation below. moto picks the operation from the
  botocore model, so a method named after the operation is all it takes. The request is parsed with botocore's own
  model (URI labels decoded, so identifiers may be names or ARNs) and the answer is serialized from it too.

Lifecycles run on the local AWS's virtual clock (``bedrock_finetune_local.clock``): a job takes its simulated duration
(``job_duration_seconds``: the scenario's, else a stated formula from the training data's size, the epochs and the
model), a throughput or deployment takes ``deploy_seconds`` to be created or moved to another model, and a stopped
job takes ``stop_seconds`` to stop. Every request first brings each resource up to the current simulated time; timers
on the clock do the same at each transition's moment and publish the job's "Model Customization Job State Change"
event to the default event bus, as Bedrock does (best effort: the scenario may drop them, ``drop_events``). We keep
our own lifecycle rather than moto's ``state_manager``: its ``ManagedState`` follows one linear chain of states,
while a job needs a chosen branch (Completed, Failed or Stopped), side effects on the way (the custom model appears,
metric CSVs are written), and an explicit Stop that interrupts the chain. A throughput or deployment that is still
``Creating`` (or ``Updating``) cannot be deleted: the Delete answers ``ConflictException`` (modelled by botocore for
both Delete operations) until it settles, so a caller that waits and retries, as Cleanup does, gets it deleted.

Moving a throughput or deployment to another model (``UpdateProvisionedModelThroughput`` with ``desiredModelId``,
``UpdateCustomModelDeployment``) plays the scenario current at the Update. A throughput shows
``Updating`` with ``modelArn`` still the old model and ``desiredModelArn`` the new one (botocore: desiredModelArn
"differs from the modelArn if updating hasn't completed"). botocore's ``CustomModelDeploymentStatus`` has no
``Updating``: a deployment stays ``Active`` on its old ``modelArn`` and reports the update in ``updateDetails``
(``modelArn`` = the new model, ``updateStatus`` ``Updating`` → ``UpdateCompleted`` or ``UpdateFailed``).

Settings are captured per resource when it is created, and again when an Update moves it to another model:
configure them before the Create (or Update) call. They live in a plain
module global (not a context variable) because moto runs Step Functions executions, and the Lambda handlers inside
them, in other threads.

Server-side constraint checks (patterns, lengths, ranges, enums, required members) are read from botocore's service
model, which botocore itself does not check on the client. Where Bedrock's exact wording of an error is unknown, the
error code follows the operation's modelled errors and the message says what is wrong.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar

import botocore.session
import moto.bedrock.urls
from moto.bedrock.models import BedrockBackend, bedrock_backends
from moto.bedrock.responses import BedrockResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition
from pydantic import BaseModel, ConfigDict, Field

from bedrock_finetune_local.aws import loss_model
from bedrock_finetune_local.clock import CLOCK

__all__ = [
    "DEFAULT_DEPLOY_FAILURE_MESSAGE",
    "DEFAULT_JOB_FAILURE_MESSAGE",
    "FOUNDATION_MODELS",
    "ConflictException",
    "LocalBedrockBackend",
    "LocalBedrockSettings",
    "ResourceNotFoundException",
    "ServiceQuotaExceededException",
    "ValidationException",
    "backend_for",
    "configure",
    "current_settings",
    "install_control_plane",
    "local_bedrock_settings",
    "reset",
    "validate_request",
]

# Reference §8.1: a real failure message from a fine-tuning job whose data had the wrong shape.
DEFAULT_JOB_FAILURE_MESSAGE = (
    'Input data at train.jsonl must follow \'{"prompt": "<input text>", "completion": "<output text>"}\' format'
)
DEFAULT_DEPLOY_FAILURE_MESSAGE = "Provisioning failed: insufficient capacity for the requested model units (local)"


# --------------------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------------------
class LocalBedrockSettings(BaseModel):
    """The scenario a local run plays. Captured by each resource when it is created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_outcome: Literal["Completed", "Failed", "Stopped"] = "Completed"
    #: Simulated seconds from CreateModelCustomizationJob to ``job_outcome`` (None: :func:`job_duration_seconds`).
    #: A Stopped outcome shows ``Stopping`` for the last ``stop_seconds``.
    job_duration_seconds: float | None = Field(default=None, gt=0, le=30 * 86400)
    #: ``InService`` means InService for provisioned throughput and Active for a custom model deployment.
    deploy_outcome: Literal["InService", "Failed"] = "InService"
    #: Simulated seconds a provisioned throughput or deployment takes to be created or moved to another model.
    deploy_seconds: float = Field(default=600, gt=0, le=86400)
    #: Simulated seconds from StopModelCustomizationJob (Stopping) to Stopped.
    stop_seconds: float = Field(default=120, gt=0, le=86400)
    #: Publish no "Model Customization Job State Change" events (EventBridge delivery from Bedrock is best effort).
    drop_events: bool = False
    failure_message: str = Field(default=DEFAULT_JOB_FAILURE_MESSAGE, min_length=1, max_length=2048)
    deploy_failure_message: str = Field(default=DEFAULT_DEPLOY_FAILURE_MESSAGE, min_length=1, max_length=2048)
    #: ``empty``: Converse and InvokeModel answer with empty text (makes a smoke test fail).
    runtime_answer: Literal["normal", "empty"] = "normal"
    #: Rows per epoch in step_wise_training_metrics.csv (epochs come from the ``epochCount`` hyperparameter).
    steps_per_epoch: int = Field(default=4, ge=1, le=1000)
    #: The account's concurrent model customization job quota: CreateModelCustomizationJob answers
    #: ServiceQuotaExceededException while this many jobs are InProgress or Stopping.
    job_quota: int = Field(default=2, ge=1, le=100)
    #: Jobs whose name contains one of these end Failed, whatever ``job_outcome`` says (one sweep variant failing).
    failing_jobs: tuple[str, ...] = ()
    #: The local Price List (aws/pricing.py): a product's price by usagetype (e.g. ``{"USE1-NovaMicro-Customization-
    #: Training": 0.0005}``, in the product's own unit) and products taken out of it.
    price_list_prices: dict[str, float] = Field(default_factory=dict)
    price_list_removed: tuple[str, ...] = ()


_settings = LocalBedrockSettings()
_settings_lock = threading.Lock()


def configure(settings: LocalBedrockSettings | None = None, **overrides: Any) -> LocalBedrockSettings:
    """Set the scenario: ``settings`` (default: the defaults) with ``overrides`` applied and validated."""
    global _settings  # noqa: PLW0603 - one process-wide scenario, read from moto's worker threads
    base = settings if settings is not None else LocalBedrockSettings()
    new = LocalBedrockSettings.model_validate({**base.model_dump(), **overrides})
    with _settings_lock:
        _settings = new
    return new


def current_settings() -> LocalBedrockSettings:
    return _settings


@contextmanager
def local_bedrock_settings(
    settings: LocalBedrockSettings | None = None, **overrides: Any
) -> Iterator[LocalBedrockSettings]:
    """``configure()`` for the duration of a ``with`` block, then restore the previous scenario."""
    previous = current_settings()
    try:
        yield configure(settings, **overrides)
    finally:
        configure(previous)


def reset() -> None:
    """Default settings and no Bedrock resources in any account or region (``mock_aws`` start also clears them)."""
    configure()
    CLOCK.reset()
    for account_backends in bedrock_backends.values():
        for backend in account_backends.values():
            backend.reset()


# --------------------------------------------------------------------------------------------------------------------
# Errors and server-side constraint checks
# --------------------------------------------------------------------------------------------------------------------
class ValidationException(ServiceException):
    code = "ValidationException"


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"


class ConflictException(ServiceException):
    code = "ConflictException"


class ServiceQuotaExceededException(ServiceException):
    """botocore's bedrock model: HTTP 400, sender fault, one member ``message`` ("The number of requests exceeds the
    service quota. Resubmit your request later.")."""

    code = "ServiceQuotaExceededException"


# The model's JobName pattern backtracks exponentially on long runs of '-'; this one accepts the same strings.
_EQUIVALENT_PATTERNS = {r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*": r"[a-zA-Z0-9][a-zA-Z0-9+\-.]*"}


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_EQUIVALENT_PATTERNS.get(pattern, pattern))


def validate_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException like AWS's front end: '<n> validation error(s) detected: Value ... at ...'."""
    shape = _service_model(service).operation_model(operation).input_shape
    errors: list[str] = []
    if shape is not None:
        _check(shape, params, "", errors)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise ValidationException(f"{len(errors)} validation error{plural} detected: " + "; ".join(errors))


def _check(shape: Any, value: Any, path: str, errors: list[str]) -> None:
    meta = shape.metadata
    shown = f"'{value}'" if not isinstance(value, dict | list) else "'<...>'"
    at = f"Value {shown} at '{path}' failed to satisfy constraint: Member must"
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            errors.append(f"{at} be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), errors)
    elif shape.type_name == "list":
        if not isinstance(value, list):
            errors.append(f"{at} be a list")
            return
        _check_length(len(value), meta, at, errors)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif shape.type_name == "map":
        if not isinstance(value, dict):
            errors.append(f"{at} be a map")
            return
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", errors)
            _check(shape.value, item, f"{path}.{key}.member", errors)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            errors.append(f"{at} be a string")
            return
        if shape.enum and value not in shape.enum:
            errors.append(f"{at} satisfy enum value set: [{', '.join(shape.enum)}]")
        _check_length(len(value), meta, at, errors)
        pattern = meta.get("pattern")
        in_range = meta.get("min", 0) <= len(value) <= meta.get("max", len(value))
        if pattern and in_range and not _compiled(pattern).fullmatch(value):
            errors.append(f"{at} satisfy regular expression pattern: {pattern}")
    elif shape.type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{at} be an integer")
            return
        if "min" in meta and value < meta["min"]:
            errors.append(f"{at} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{at} have value less than or equal to {meta['max']}")


def _check_length(length: int, meta: dict[str, Any], at: str, errors: list[str]) -> None:
    if "min" in meta and length < meta["min"]:
        errors.append(f"{at} have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        errors.append(f"{at} have length less than or equal to {meta['max']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------------------------------------------------
# Foundation models: a small plausible catalog (reference §1.1). Customizable variants carry their Regions.
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FoundationModel:
    model_id: str
    name: str
    provider: str
    customizations: tuple[str, ...] = ()
    inference_types: tuple[str, ...] = ("ON_DEMAND",)
    regions: tuple[str, ...] = ()  # empty: every Region

    def summary(self, region: str, partition: str) -> dict[str, Any]:
        return {
            "modelArn": f"arn:{partition}:bedrock:{region}::foundation-model/{self.model_id}",
            "modelId": self.model_id,
            "modelName": self.name,
            "providerName": self.provider,
            "inputModalities": ["TEXT"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": "ON_DEMAND" in self.inference_types,
            "customizationsSupported": list(self.customizations),
            "inferenceTypesSupported": list(self.inference_types),
            "modelLifecycle": {"status": "ACTIVE"},
        }


def _customizable(model_id: str, name: str, provider: str, region: str) -> FoundationModel:
    return FoundationModel(model_id, name, provider, ("FINE_TUNING",), ("PROVISIONED",), (region,))


FOUNDATION_MODELS: tuple[FoundationModel, ...] = (
    FoundationModel("amazon.nova-micro-v1:0", "Nova Micro", "Amazon"),
    _customizable("amazon.nova-micro-v1:0:128k", "Nova Micro", "Amazon", "us-east-1"),
    FoundationModel("amazon.nova-lite-v1:0", "Nova Lite", "Amazon"),
    _customizable("amazon.nova-lite-v1:0:300k", "Nova Lite", "Amazon", "us-east-1"),
    FoundationModel("amazon.nova-pro-v1:0", "Nova Pro", "Amazon"),
    _customizable("amazon.nova-pro-v1:0:300k", "Nova Pro", "Amazon", "us-east-1"),
    FoundationModel("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic"),
    _customizable("anthropic.claude-3-haiku-20240307-v1:0:200k", "Claude 3 Haiku", "Anthropic", "us-west-2"),
    FoundationModel("meta.llama3-2-1b-instruct-v1:0", "Llama 3.2 1B Instruct", "Meta"),
    _customizable("meta.llama3-2-1b-instruct-v1:0:128k", "Llama 3.2 1B Instruct", "Meta", "us-west-2"),
)


# --------------------------------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------------------------------
_JOB_TERMINAL = ("Completed", "Failed", "Stopped")
#: Statuses in which a throughput or deployment cannot be deleted (DeleteProvisionedModelThroughput and
#: DeleteCustomModelDeployment answer ConflictException). They settle ``deploy_seconds`` after the Create or Update,
#: so a caller that waits and retries can delete it then.
_TRANSITIONAL_STATUSES = ("Creating", "Updating")
_COMMITMENT_DAYS = {"OneMonth": 31, "SixMonths": 183}
JOB_EVENT_DETAIL_TYPE = "Model Customization Job State Change"

# The simulated duration of a training job when the scenario sets none. AWS publishes no formula; this one is ours,
# stated so a test can rely on it: a fixed start (validation, data processing, provisioning the training instances),
# then the billable tokens (training bytes / 4 per token, times the epochs) at a throughput that depends on the model's
# size.
JOB_SETUP_SECONDS = 15 * 60
BYTES_PER_TOKEN = 4
#: Tokens per second by a marker in the base model id; the first marker found wins, else DEFAULT_TOKENS_PER_SECOND.
TOKENS_PER_SECOND = (
    ("70b", 150.0),
    ("90b", 150.0),
    ("pro", 400.0),
    ("premier", 300.0),
    ("8b", 600.0),
    ("11b", 500.0),
    ("express", 800.0),
    ("lite", 1_500.0),
    ("micro", 2_000.0),
    ("haiku", 1_500.0),
    ("1b", 2_500.0),
    ("3b", 2_000.0),
)
DEFAULT_TOKENS_PER_SECOND = 1_000.0
#: Of a job's duration, the share spent validating the data (its service role is checked then), at most 5 minutes.
VALIDATION_SHARE = 0.1
VALIDATION_MAX_SECONDS = 300.0


def job_duration_seconds(training_bytes: int, epochs: int, base_model_id: str) -> float:
    """The formula above: ``JOB_SETUP_SECONDS + training_bytes / BYTES_PER_TOKEN * epochs / tokens_per_second``."""
    model = base_model_id.lower()
    rate = next((rate for marker, rate in TOKENS_PER_SECOND if marker in model), DEFAULT_TOKENS_PER_SECOND)
    return JOB_SETUP_SECONDS + training_bytes / BYTES_PER_TOKEN * max(1, epochs) / rate


def _now() -> datetime:
    return CLOCK.datetime()


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


@dataclass
class Job:
    arn: str
    job_id: str
    request: dict[str, Any]
    base_model_arn: str
    base_model_id: str
    plan: LocalBedrockSettings
    creation_time: datetime
    last_modified_time: datetime
    #: Simulated moments (epoch seconds): data validated (the service role is checked then), and the planned end.
    validated_at: float = 0.0
    ends_at: float = 0.0
    status: str = "InProgress"
    validated: bool = False
    stop_requested_at: float | None = None
    end_time: datetime | None = None
    failure_message: str | None = None
    output_model_arn: str | None = None
    training_metrics: dict[str, float] | None = None
    validation_metrics: list[dict[str, float]] | None = None
    #: sha256 of the training data as the job read it when it was created: the loss curves' dataset seed.
    training_data_sha256: str | None = None
    stages: dict[str, str] = field(
        default_factory=lambda: {
            "validationDetails": "InProgress",
            "dataProcessingDetails": "NotStarted",
            "trainingDetails": "NotStarted",
        }
    )

    @property
    def name(self) -> str:
        return str(self.request["jobName"])

    @property
    def kms_key_arn(self) -> str | None:
        key = self.request.get("customModelKmsKeyId")
        if key is None or key.startswith("arn:"):
            return key
        region, account = self.arn.split(":")[3:5]
        return (
            f"arn:{self.arn.split(':')[1]}:kms:{region}:{account}:{key if key.startswith('alias/') else 'key/' + key}"
        )

    @property
    def validators(self) -> list[dict[str, str]]:
        return list((self.request.get("validationDataConfig") or {}).get("validators", []))

    def status_details(self) -> dict[str, Any]:
        return {
            stage: {"status": status, "creationTime": self.creation_time, "lastModifiedTime": self.last_modified_time}
            for stage, status in self.stages.items()
        }

    def describe(self) -> dict[str, Any]:
        request = self.request
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "outputModelName": request["customModelName"],
            "outputModelArn": self.output_model_arn,
            "clientRequestToken": request.get("clientRequestToken"),
            "roleArn": request["roleArn"],
            "status": self.status,
            "statusDetails": self.status_details(),
            "failureMessage": self.failure_message,
            "creationTime": self.creation_time,
            "lastModifiedTime": self.last_modified_time,
            "endTime": self.end_time,
            "baseModelArn": self.base_model_arn,
            "hyperParameters": request.get("hyperParameters") or {},
            "trainingDataConfig": request["trainingDataConfig"],
            "validationDataConfig": request.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": request["outputDataConfig"],
            "customizationType": request.get("customizationType", "FINE_TUNING"),
            "outputModelKmsKeyArn": self.kms_key_arn,
            "trainingMetrics": self.training_metrics,
            "validationMetrics": self.validation_metrics,
            "vpcConfig": request.get("vpcConfig"),
        }
        return _without_none(out)

    def summary(self) -> dict[str, Any]:
        return _without_none(
            {
                "jobArn": self.arn,
                "baseModelArn": self.base_model_arn,
                "jobName": self.name,
                "status": self.status,
                "statusDetails": self.status_details(),
                "lastModifiedTime": self.last_modified_time,
                "creationTime": self.creation_time,
                "endTime": self.end_time,
                "customModelArn": self.output_model_arn,
                "customModelName": self.request["customModelName"],
                "customizationType": self.request.get("customizationType", "FINE_TUNING"),
            }
        )


@dataclass
class CustomModel:
    arn: str
    name: str
    job: Job
    creation_time: datetime
    status: str = "Active"

    @property
    def base_model_arn(self) -> str:
        return self.job.base_model_arn

    def describe(self) -> dict[str, Any]:
        request = self.job.request
        return _without_none(
            {
                "modelArn": self.arn,
                "modelName": self.name,
                "jobName": self.job.name,
                "jobArn": self.job.arn,
                "baseModelArn": self.base_model_arn,
                "customizationType": request.get("customizationType", "FINE_TUNING"),
                "modelKmsKeyArn": self.job.kms_key_arn,
                "hyperParameters": request.get("hyperParameters") or {},
                "trainingDataConfig": request["trainingDataConfig"],
                "validationDataConfig": request.get("validationDataConfig") or {"validators": []},
                "outputDataConfig": request["outputDataConfig"],
                "trainingMetrics": self.job.training_metrics,
                "validationMetrics": self.job.validation_metrics,
                "creationTime": self.creation_time,
                "modelStatus": self.status,
            }
        )

    def summary(self, account_id: str) -> dict[str, Any]:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "creationTime": self.creation_time,
            "baseModelArn": self.base_model_arn,
            "baseModelName": self.job.base_model_id,
            "customizationType": self.job.request.get("customizationType", "FINE_TUNING"),
            "ownerAccountId": account_id,
            "modelStatus": self.status,
        }


@dataclass
class ProvisionedThroughput:
    arn: str
    name: str
    model_arn: str
    foundation_model_arn: str
    model_units: int
    commitment_duration: str | None
    plan: LocalBedrockSettings
    creation_time: datetime
    last_modified_time: datetime
    desired_model_arn: str = ""
    status: str = "Creating"
    #: The simulated moment the creation or update under way settles.
    settles_at: float = 0.0
    failure_message: str | None = None

    def __post_init__(self) -> None:
        self.desired_model_arn = self.desired_model_arn or self.model_arn

    @property
    def commitment_expiration_time(self) -> datetime | None:
        if self.commitment_duration is None:
            return None
        return self.creation_time + timedelta(days=_COMMITMENT_DAYS[self.commitment_duration])

    def summary(self) -> dict[str, Any]:
        return _without_none(
            {
                "provisionedModelName": self.name,
                "provisionedModelArn": self.arn,
                "modelArn": self.model_arn,
                "desiredModelArn": self.desired_model_arn,
                "foundationModelArn": self.foundation_model_arn,
                "modelUnits": self.model_units,
                "desiredModelUnits": self.model_units,
                "status": self.status,
                "commitmentDuration": self.commitment_duration,
                "commitmentExpirationTime": self.commitment_expiration_time,
                "creationTime": self.creation_time,
                "lastModifiedTime": self.last_modified_time,
            }
        )

    def describe(self) -> dict[str, Any]:
        return _without_none({**self.summary(), "failureMessage": self.failure_message})


@dataclass
class Deployment:
    arn: str
    name: str
    #: The custom model the deployment serves. During an update it stays the old model until the update completes
    #: (botocore documents ``modelArn`` as "the custom model associated with this deployment" and the model being
    #: rolled out as ``updateDetails.modelArn``, "the new custom model being deployed as part of the update").
    model_arn: str
    description: str | None
    #: The plan of the transition under way or last played: the creation, then each update (captured per Update).
    plan: LocalBedrockSettings
    created_at: datetime
    last_updated_at: datetime
    #: botocore's CustomModelDeploymentStatus: Creating | Active | Failed (no Updating: see ``update_status``).
    status: str = "Creating"
    #: The simulated moment the creation or update under way settles.
    settles_at: float = 0.0
    failure_message: str | None = None
    #: The base model of the served model, fixed at creation: an update must bring a model customized from it.
    base_model_arn: str = ""
    #: The last UpdateCustomModelDeployment: its model and botocore's CustomModelDeploymentUpdateStatus
    #: (Updating | UpdateCompleted | UpdateFailed); None until the deployment is first updated.
    update_model_arn: str | None = None
    update_status: str | None = None

    @property
    def updating(self) -> bool:
        return self.update_status == "Updating"

    @property
    def settling(self) -> bool:
        """Still being created or updated: it cannot be deleted or updated until it settles."""
        return self.status in _TRANSITIONAL_STATUSES or self.updating

    def models_in_use(self) -> tuple[str, ...]:
        """The served model and, while an update rolls out, the model it moves to."""
        if self.updating and self.update_model_arn is not None:
            return (self.model_arn, self.update_model_arn)
        return (self.model_arn,)

    def describe(self) -> dict[str, Any]:
        update: dict[str, Any] | None = None
        if self.update_model_arn is not None:
            update = {"modelArn": self.update_model_arn, "updateStatus": self.update_status}
        return _without_none(
            {
                "customModelDeploymentArn": self.arn,
                "modelDeploymentName": self.name,
                "modelArn": self.model_arn,
                "createdAt": self.created_at,
                "status": self.status,
                "description": self.description,
                "updateDetails": update,
                "failureMessage": self.failure_message,
                "lastUpdatedAt": self.last_updated_at,
            }
        )

    def summary(self) -> dict[str, Any]:
        return _without_none(
            {
                "customModelDeploymentArn": self.arn,
                "customModelDeploymentName": self.name,
                "modelArn": self.model_arn,
                "createdAt": self.created_at,
                "status": self.status,
                "lastUpdatedAt": self.last_updated_at,
                "failureMessage": self.failure_message,
            }
        )


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


# --------------------------------------------------------------------------------------------------------------------
# Metrics written at Completed: the curves of loss_model (deterministic in the data and the hyperparameters).
# --------------------------------------------------------------------------------------------------------------------
TRAINING_METRICS_KEY = "training_artifacts/step_wise_training_metrics.csv"
# The nested variant (reference §5 [CONFLICT]) so that consumers list the prefix instead of hard-coding the path.
VALIDATION_METRICS_KEY = "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"


def _metric_rows(job: Job) -> tuple[list[list[Any]], list[list[Any]]]:
    hyper_parameters = job.request.get("hyperParameters") or {}
    try:
        epochs = min(max(int(hyper_parameters.get("epochCount", "2")), 1), 20)
    except ValueError:
        epochs = 2
    per_epoch = job.plan.steps_per_epoch
    curves = loss_model.loss_curves(
        dataset_sha256=_dataset_fingerprint(job),
        base_model_id=job.base_model_id,
        customization_type=job.request.get("customizationType", "FINE_TUNING"),
        hyper_parameters=hyper_parameters,
        epochs=epochs,
        steps_per_epoch=per_epoch,
    )
    training = []
    for step, raw in enumerate(curves.training):
        loss = round(raw, 6)
        training.append([step, step // per_epoch, loss, round(math.exp(loss), 6)])
    validation = []
    for epoch, raw in enumerate(curves.validation):
        loss = round(raw, 6)
        validation.append([(epoch + 1) * per_epoch - 1, epoch, loss, round(math.exp(loss), 6)])
    return training, validation


def _dataset_fingerprint(job: Job) -> str:
    """The training data's sha256, read when the job was created; its URI's if the bytes were not read. Never the
    job name: sweep variants of one dataset have different names and must see the same data."""
    if job.training_data_sha256 is not None:
        return job.training_data_sha256
    return hashlib.sha256(str(job.request["trainingDataConfig"].get("s3Uri")).encode()).hexdigest()


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


#: How many attempts Bedrock makes at one S3 call of its own before the job fails (a service retries throttling and
#: 5xx answers internally; the number is ours, AWS does not publish it).
SERVICE_S3_ATTEMPTS = 3


def _service_call_fault(service: str, operation: str) -> str | None:
    """``--fault`` applies to Bedrock's own S3 calls too (it reads the data and writes the output for the workflow):
    the error code that made the call fail, or None. Transient codes are retried up to SERVICE_S3_ATTEMPTS times,
    each attempt one firing; any other code fails at once."""
    from bedrock_finetune_local.aws import faults  # noqa: PLC0415 - faults import iam, which imports this module

    code = None
    for _ in range(SERVICE_S3_ATTEMPTS):
        fault = faults.take_service_fault(service, operation)
        if fault is None:
            return None
        code = fault.error_code
        if not faults.is_transient_code(service, code):
            break
    return code


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# --------------------------------------------------------------------------------------------------------------------
# Backend
# --------------------------------------------------------------------------------------------------------------------
class LocalBedrockBackend(BedrockBackend):
    """One account and Region of local Bedrock. Public methods take the parsed request and return the response."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.models: dict[str, CustomModel] = {}
        self.provisioned: dict[str, ProvisionedThroughput] = {}
        self.deployments: dict[str, Deployment] = {}
        self._tokens: dict[tuple[str, str], tuple[str, str]] = {}
        self._sequence = 0
        #: The most jobs InProgress at once since the backend was created (jobs start InProgress, so the count can
        #: only reach a new high when a job is created).
        self.max_jobs_in_progress = 0
        #: Job state change events waiting to be published (by the clock's timer at the transition's moment).
        self.pending_events: list[dict[str, Any]] = []
        #: Every event published, and every event dropped by the scenario (for tests and reports).
        self.published_events: list[dict[str, Any]] = []
        self.dropped_events: list[dict[str, Any]] = []

    @property
    def _url_module(self) -> Any:
        # BaseBackend derives the URL module from the class's module, which is ours, not moto's.
        return moto.bedrock.urls

    def _list_arns(self) -> list[str]:
        return [*self.jobs, *self.models, *self.provisioned, *self.deployments]

    # ---- helpers --------------------------------------------------------------------------------------------------
    def _arn(self, resource: str) -> str:
        return f"arn:{self.partition}:bedrock:{self.region_name}:{self.account_id}:{resource}"

    def _new_id(self, kind: str, name: str) -> str:
        self._sequence += 1
        seed = f"{kind}|{self.account_id}|{self.region_name}|{name}|{self._sequence}"
        return hashlib.sha256(seed.encode()).hexdigest()[:12]

    def _idempotent(
        self, operation: str, params: dict[str, Any], create: Callable[[], str], mismatch: type[ServiceException]
    ) -> str:
        token = params.get("clientRequestToken")
        if token is None:
            return create()
        fingerprint = json.dumps(params, sort_keys=True, default=str)
        seen = self._tokens.get((operation, token))
        if seen is not None:
            if seen[0] != fingerprint:
                raise mismatch(
                    f"The clientRequestToken {token} was already used for a different {operation} request. "
                    "Use a new token for a new request."
                )
            return seen[1]
        arn = create()
        self._tokens[(operation, token)] = (fingerprint, arn)
        return arn

    def _s3(self) -> Any:
        return s3_backends[self.account_id][get_partition(self.region_name)]

    def _s3_object_exists(self, uri: str) -> bool:
        bucket, key = _split_s3_uri(uri)
        try:
            return bool(key) and self._s3().get_object(bucket, key) is not None
        except Exception:
            return False

    def _s3_object_sha256(self, uri: str) -> str | None:
        """The object's content hash (never its content: the data may hold personal data), or None if unreadable."""
        bucket, key = _split_s3_uri(uri)
        try:
            found = self._s3().get_object(bucket, key)
        except Exception:
            return None
        return None if found is None else hashlib.sha256(found.value).hexdigest()

    def _s3_object_size(self, uri: str) -> int:
        bucket, key = _split_s3_uri(uri)
        try:
            found = self._s3().get_object(bucket, key)
        except Exception:
            return 0
        return 0 if found is None else int(found.size)

    def _s3_bucket_exists(self, uri: str) -> bool:
        try:
            self._s3().get_bucket(_split_s3_uri(uri)[0])
        except Exception:
            return False
        return True

    def _tag(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        if tags:
            self.tag_resource(arn, tags)

    def _forget(self, arn: str) -> None:
        self.tagger.delete_all_tags_for_resource(arn)

    # ---- lookups --------------------------------------------------------------------------------------------------
    def find_job(self, identifier: str) -> Job:
        job = self.jobs.get(identifier) or next((j for j in self.jobs.values() if j.name == identifier), None)
        if job is None:
            raise ResourceNotFoundException(f"Model customization job {identifier} not found.")
        return job

    def find_model(self, identifier: str) -> CustomModel:
        model = self.models.get(identifier) or next((m for m in self.models.values() if m.name == identifier), None)
        if model is None:
            raise ResourceNotFoundException(f"Custom model {identifier} not found.")
        return model

    def find_provisioned(self, identifier: str) -> ProvisionedThroughput:
        found = self.provisioned.get(identifier) or next(
            (p for p in self.provisioned.values() if p.name == identifier), None
        )
        if found is None:
            raise ResourceNotFoundException(f"Provisioned model {identifier} not found.")
        return found

    def find_deployment(self, identifier: str) -> Deployment:
        found = self.deployments.get(identifier) or next(
            (d for d in self.deployments.values() if d.name == identifier), None
        )
        if found is None:
            raise ResourceNotFoundException(f"Custom model deployment {identifier} not found.")
        return found

    # ---- model customization jobs ---------------------------------------------------------------------------------
    def create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("bedrock", "CreateModelCustomizationJob", params)
        arn = self._idempotent(
            "CreateModelCustomizationJob", params, lambda: self._create_job(params), mismatch=ConflictException
        )
        return {"jobArn": arn}

    def _create_job(self, params: dict[str, Any]) -> str:
        name, model_name = params["jobName"], params["customModelName"]
        if any(job.name == name for job in self.jobs.values()):
            raise ConflictException(f"A model customization job named {name} already exists.")
        taken = {m.name for m in self.models.values()} | {
            j.request["customModelName"] for j in self.jobs.values() if j.status in ("InProgress", "Stopping")
        }
        if model_name in taken:
            raise ConflictException(f"A custom model named {model_name} already exists or is being created.")
        active = sum(1 for job in self.jobs.values() if job.status in ("InProgress", "Stopping"))
        quota = current_settings().job_quota
        if active >= quota:
            # Bedrock's exact wording for this quota is not published; the code and shape are botocore's.
            raise ServiceQuotaExceededException(
                f"The number of requests exceeds the service quota: {active} model customization jobs are in "
                f"progress and the account's quota of concurrent jobs is {quota}. Resubmit your request later."
            )
        base_model_id, base_model_arn = self._resolve_base_model(params["baseModelIdentifier"])
        uris = [("trainingDataConfig", params["trainingDataConfig"].get("s3Uri"))]
        uris += [
            ("validationDataConfig", v["s3Uri"])
            for v in (params.get("validationDataConfig") or {}).get("validators", [])
        ]
        for where, uri in uris:
            if uri is None:
                raise ValidationException(
                    f"Value null at '{where}.s3Uri' failed to satisfy constraint: Member must not be null"
                )
            if not self._s3_object_exists(uri):
                raise ValidationException(
                    f"Unable to access the {where.removesuffix('DataConfig')} data at {uri}. Check that the S3 object "
                    "exists and that the service role can read it."
                )
        output_uri = params["outputDataConfig"]["s3Uri"]
        if not self._s3_bucket_exists(output_uri):
            raise ValidationException(f"Unable to access the output location {output_uri}: the bucket does not exist.")
        job_id = self._new_id("job", name)
        now = _now()
        plan = current_settings()
        duration = plan.job_duration_seconds or job_duration_seconds(
            self._s3_object_size(params["trainingDataConfig"]["s3Uri"]),
            _epochs(params.get("hyperParameters") or {}),
            base_model_id,
        )
        start = now.timestamp()
        job = Job(
            arn=self._arn(f"model-customization-job/{base_model_id}/{job_id}"),
            job_id=job_id,
            request=params,
            base_model_arn=base_model_arn,
            base_model_id=base_model_id,
            plan=plan,
            creation_time=now,
            last_modified_time=now,
            training_data_sha256=self._s3_object_sha256(params["trainingDataConfig"]["s3Uri"]),
            validated_at=start + min(VALIDATION_MAX_SECONDS, duration * VALIDATION_SHARE),
            ends_at=start + duration,
        )
        self.jobs[job.arn] = job
        self._wake_at(job.validated_at, job.ends_at - plan.stop_seconds, job.ends_at)
        in_progress = sum(1 for item in self.jobs.values() if item.status == "InProgress")
        self.max_jobs_in_progress = max(self.max_jobs_in_progress, in_progress)
        self._tag(job.arn, params.get("jobTags"))
        return job.arn

    def _resolve_base_model(self, identifier: str) -> tuple[str, str]:
        if ":custom-model/" in identifier or "." not in identifier:
            model = self.find_model(identifier)  # continued customization of one of our models
            return model.job.base_model_id, model.job.base_model_arn
        model_id = identifier.rsplit("foundation-model/", maxsplit=1)[-1]
        return model_id, f"arn:{self.partition}:bedrock:{self.region_name}::foundation-model/{model_id}"

    def get_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.find_job(params["jobIdentifier"]).describe()

    def _settle_job(self, job: Job, now: float) -> None:
        """Play the job's lifecycle up to the simulated moment ``now``."""
        if job.status in _JOB_TERMINAL:
            return
        if job.stop_requested_at is not None:
            stopped_at = job.stop_requested_at + job.plan.stop_seconds
            if now >= stopped_at:
                self._finish_job(job, "Stopped", stopped_at)
            return
        if not job.validated and now >= job.validated_at:
            job.validated = True
            denied = self._service_role_denial(job)
            if denied is not None:
                self._fail_job(job, denied, stage="validationDetails", at=job.validated_at)
                return
            job.stages = {
                "validationDetails": "Completed",
                "dataProcessingDetails": "Completed",
                "trainingDetails": "InProgress",
            }
            job.last_modified_time = _at(job.validated_at)
        plan = job.plan
        outcome = "Failed" if any(part in job.name for part in plan.failing_jobs) else plan.job_outcome
        if now >= job.ends_at:
            self._finish_job(job, outcome, job.ends_at)
        elif outcome == "Stopped" and now >= job.ends_at - plan.stop_seconds and job.status != "Stopping":
            self._set_job_status(job, "Stopping", job.ends_at - plan.stop_seconds)
            job.stages = {**job.stages, "trainingDetails": "Stopping"}

    def _set_job_status(self, job: Job, status: str, at: float) -> None:
        job.status, job.last_modified_time = status, _at(at)
        self._job_event(job)

    def _job_event(self, job: Job) -> None:
        """Bedrock's "Model Customization Job State Change" event for the job's new status (Amazon Bedrock User
        Guide, "How EventBridge for Amazon Bedrock works": source aws.bedrock, the job in ``resources``, its status
        in ``detail.jobStatus``)."""
        detail = _without_none(
            {
                "version": "0.0",
                "jobName": job.name,
                "jobArn": job.arn,
                "outputModelName": job.request["customModelName"],
                "outputModelArn": job.output_model_arn,
                "roleArn": job.request["roleArn"],
                "jobStatus": job.status,
                "failureMessage": job.failure_message,
                "creationTime": job.creation_time.isoformat(),
                "lastModifiedTime": job.last_modified_time.isoformat(),
                "endTime": None if job.end_time is None else job.end_time.isoformat(),
                "baseModelArn": job.base_model_arn,
                "hyperParameters": job.request.get("hyperParameters") or {},
                "trainingDataConfig": job.request["trainingDataConfig"],
                "validationDataConfig": job.request.get("validationDataConfig") or {"validators": []},
                "outputDataConfig": job.request["outputDataConfig"],
            }
        )
        event = {
            "Source": "aws.bedrock",
            "DetailType": JOB_EVENT_DETAIL_TYPE,
            "Resources": [job.arn],
            "Detail": json.dumps(detail, default=str),
            "Time": job.last_modified_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        (self.dropped_events if job.plan.drop_events else self.pending_events).append(event)

    def settle(self) -> None:
        """Bring every resource up to the current simulated time (called under ``lock`` before each request)."""
        now = CLOCK.now()
        for job in list(self.jobs.values()):
            self._settle_job(job, now)
        for pt in self.provisioned.values():
            self._settle_provisioned(pt, now)
        for deployment in self.deployments.values():
            self._settle_deployment(deployment, now)

    def _wake_at(self, *moments: float) -> None:
        for moment in sorted(set(moments)):
            CLOCK.call_at(moment, self.on_timer, name=f"local bedrock {self.account_id}/{self.region_name}")

    def on_timer(self) -> None:
        """A lifecycle moment: settle, then publish the state change events it produced (outside the lock: the
        events' rules invoke targets, which may call Bedrock)."""
        with self.lock:
            self.settle()
            events, self.pending_events = sorted(self.pending_events, key=lambda event: event["Time"]), []
        if events:
            self.published_events.extend(events)
            publish_events(self.account_id, self.region_name, events)

    def _finish_job(self, job: Job, outcome: str, at: float) -> None:
        now = _at(at)
        job.end_time = now
        if outcome == "Failed":
            job.failure_message = job.plan.failure_message
            job.stages = {
                "validationDetails": "Completed",
                "dataProcessingDetails": "Failed",
                "trainingDetails": "NotStarted",
            }
            self._set_job_status(job, "Failed", at)
            return
        if outcome == "Stopped":
            job.stages = {
                stage: ("Stopped" if status in ("InProgress", "Stopping") else status)
                for stage, status in job.stages.items()
            }
            self._set_job_status(job, "Stopped", at)
            return
        training, validation = _metric_rows(job)
        try:
            self._write_metrics(job, training, validation)
        except Exception as error:
            job.failure_message = (
                f"Unable to write the job output to {job.request['outputDataConfig']['s3Uri']}: {error}"
            )
            job.stages = {
                "validationDetails": "Completed",
                "dataProcessingDetails": "Completed",
                "trainingDetails": "Failed",
            }
            self._set_job_status(job, "Failed", at)
            return
        job.stages = dict.fromkeys(job.stages, "Completed")
        job.training_metrics = {"trainingLoss": training[-1][2]}
        if job.validators:
            job.validation_metrics = [{"validationLoss": validation[-1][2]} for _ in job.validators]
        model_name = job.request["customModelName"]
        model = CustomModel(
            arn=self._arn(f"custom-model/{job.base_model_id}/{self._new_id('model', model_name)}"),
            name=model_name,
            job=job,
            creation_time=now,
        )
        job.output_model_arn = model.arn
        self.models[model.arn] = model
        self._tag(model.arn, job.request.get("customModelTags"))
        self._set_job_status(job, "Completed", at)

    # ---- the service role: Bedrock reads the data and writes the output as the job's role -----------------------
    def _service_role_denial(self, job: Job) -> str | None:
        """Why the job's service role cannot be used for its data, or None. Checked as the job starts, as Bedrock
        does when it validates the data (a job whose role cannot read it fails in validation)."""
        from bedrock_finetune_local.aws import iam  # noqa: PLC0415 - IAM is evaluated only when the runner enforces it

        if not iam.enforcing():
            return None
        role_arn = job.request["roleArn"]
        allowed, reason = iam.trust_allows(
            role_arn, "bedrock.amazonaws.com", source_account=self.account_id, source_arn=job.arn
        )
        if not allowed:
            return (
                f"Bedrock could not assume the service role {role_arn}: its trust policy does not allow it ({reason})."
            )
        uris = [job.request["trainingDataConfig"].get("s3Uri")]
        uris += [item.get("s3Uri") for item in job.validators]
        for uri in [u for u in uris if u]:
            bucket, key = _split_s3_uri(uri)
            denial = iam.service_role_denial(role_arn, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", job.arn)
            if denial is not None:
                return f"Insufficient permissions to read the data at {uri}: {denial}"
            failed = _service_call_fault("s3", "GetObject")
            if failed is not None:
                return f"Bedrock could not read the data at {uri}: S3 answered {failed}."
        return None

    def _output_denial(self, job: Job, key: str) -> str | None:
        from bedrock_finetune_local.aws import iam  # noqa: PLC0415

        if not iam.enforcing():
            return None
        bucket, _ = _split_s3_uri(job.request["outputDataConfig"]["s3Uri"])
        denial = iam.service_role_denial(
            job.request["roleArn"], "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", job.arn
        )
        if denial is not None:
            return denial
        failed = _service_call_fault("s3", "PutObject")
        return None if failed is None else f"S3 answered {failed}"

    def _fail_job(self, job: Job, message: str, *, stage: str, at: float) -> None:
        job.end_time = _at(at)
        job.failure_message = message
        job.stages = {name: ("Failed" if name == stage else "NotStarted") for name in job.stages}
        if stage != "validationDetails":
            job.stages["validationDetails"] = "Completed"
        self._set_job_status(job, "Failed", at)

    def _write_metrics(self, job: Job, training: list[list[Any]], validation: list[list[Any]]) -> None:
        bucket, prefix = _split_s3_uri(job.request["outputDataConfig"]["s3Uri"])
        root = f"{prefix.rstrip('/')}/" if prefix.rstrip("/") else ""
        root += f"model-customization-job-{job.job_id}/"
        denial = self._output_denial(job, root + TRAINING_METRICS_KEY)
        if denial is not None:
            raise PermissionError(denial)
        s3 = self._s3()
        s3.put_object(
            bucket,
            root + TRAINING_METRICS_KEY,
            _csv(["step_number", "epoch_number", "training_loss", "perplexity"], training),
        )
        if job.validators:
            header = ["step_number", "epoch_number", "validation_loss", "perplexity"]
            s3.put_object(bucket, root + VALIDATION_METRICS_KEY, _csv(header, validation))

    def list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        jobs = [
            job
            for job in self.jobs.values()
            if (params.get("statusEquals") in (None, job.status))
            and (params.get("nameContains") is None or params["nameContains"] in job.name)
            and _created_between(job.creation_time, params.get("creationTimeAfter"), params.get("creationTimeBefore"))
        ]
        page, token = _page(_sorted(jobs, params, lambda j: j.creation_time), params)
        return _without_none({"modelCustomizationJobSummaries": [j.summary() for j in page], "nextToken": token})

    def stop_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self.find_job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise ValidationException(f"Cannot stop model customization job {job.name}: its status is {job.status}.")
        now = CLOCK.now()
        job.stop_requested_at = now
        job.stages = {stage: ("Stopping" if s == "InProgress" else s) for stage, s in job.stages.items()}
        self._set_job_status(job, "Stopping", now)
        self._wake_at(now, now + job.plan.stop_seconds)
        return {}

    # ---- custom models --------------------------------------------------------------------------------------------
    def get_model(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.find_model(params["modelIdentifier"]).describe()

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [
            model
            for model in self.models.values()
            if (params.get("nameContains") is None or params["nameContains"] in model.name)
            and params.get("baseModelArnEquals") in (None, model.base_model_arn)
            and params.get("foundationModelArnEquals") in (None, model.base_model_arn)
            and params.get("modelStatus") in (None, model.status)
            and _created_between(model.creation_time, params.get("creationTimeAfter"), params.get("creationTimeBefore"))
        ]
        page, token = _page(_sorted(models, params, lambda m: m.creation_time), params)
        return _without_none({"modelSummaries": [m.summary(self.account_id) for m in page], "nextToken": token})

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self.find_model(params["modelIdentifier"])
        users = [p.name for p in self.provisioned.values() if model.arn in (p.model_arn, p.desired_model_arn)]
        users += [d.name for d in self.deployments.values() if model.arn in d.models_in_use()]
        if users:
            raise ConflictException(
                f"Custom model {model.name} is in use by {', '.join(sorted(users))}; delete those first."
            )
        del self.models[model.arn]
        self._forget(model.arn)
        return {}

    def _active_custom_model(self, identifier: str) -> CustomModel:
        model = self.find_model(identifier)
        if model.status != "Active":
            raise ValidationException(f"Custom model {model.name} is not Active (status {model.status}).")
        return model

    # ---- provisioned throughput -----------------------------------------------------------------------------------
    def create_provisioned(self, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("bedrock", "CreateProvisionedModelThroughput", params)
        arn = self._idempotent(
            "CreateProvisionedModelThroughput", params, lambda: self._create_provisioned(params), ValidationException
        )
        return {"provisionedModelArn": arn}

    def _create_provisioned(self, params: dict[str, Any]) -> str:
        name = params["provisionedModelName"]
        if any(p.name == name for p in self.provisioned.values()):
            raise ValidationException(f"A provisioned model named {name} already exists.")
        model_arn, foundation_model_arn = self._resolve_served_model(params["modelId"])
        now = _now()
        plan = current_settings()
        pt = ProvisionedThroughput(
            arn=self._arn(f"provisioned-model/{self._new_id('pt', name)}"),
            name=name,
            model_arn=model_arn,
            foundation_model_arn=foundation_model_arn,
            model_units=params["modelUnits"],
            commitment_duration=params.get("commitmentDuration"),
            plan=plan,
            creation_time=now,
            last_modified_time=now,
            settles_at=now.timestamp() + plan.deploy_seconds,
        )
        self.provisioned[pt.arn] = pt
        self._wake_at(pt.settles_at)
        self._tag(pt.arn, params.get("tags"))
        return pt.arn

    def _resolve_served_model(self, model_id: str) -> tuple[str, str]:
        """(modelArn, foundationModelArn) for a custom model name/ARN or a foundation model id/ARN."""
        if ":custom-model/" in model_id or "." not in model_id:
            model = self._active_custom_model(model_id)
            return model.arn, model.base_model_arn
        _, arn = self._resolve_base_model(model_id)
        return arn, arn

    def get_provisioned(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.find_provisioned(params["provisionedModelId"]).describe()

    @staticmethod
    def _settle_provisioned(pt: ProvisionedThroughput, now: float) -> None:
        # Creating and Updating both settle after the plan's deploy_seconds. Until an update completes, modelArn is
        # the old model and desiredModelArn the new one; a failed update leaves the throughput Failed on the old
        # model (botocore's failureMessage covers "creation, updating, or deletion").
        if pt.status in _TRANSITIONAL_STATUSES and now >= pt.settles_at:
            pt.status, pt.last_modified_time = pt.plan.deploy_outcome, _at(pt.settles_at)
            if pt.status == "Failed":
                pt.failure_message = pt.plan.deploy_failure_message
            else:
                pt.model_arn = pt.desired_model_arn

    def list_provisioned(self, params: dict[str, Any]) -> dict[str, Any]:
        pts = [
            pt
            for pt in self.provisioned.values()
            if (params.get("nameContains") is None or params["nameContains"] in pt.name)
            and params.get("statusEquals") in (None, pt.status)
            and params.get("modelArnEquals") in (None, pt.model_arn)
            and _created_between(pt.creation_time, params.get("creationTimeAfter"), params.get("creationTimeBefore"))
        ]
        page, token = _page(_sorted(pts, params, lambda p: p.creation_time), params)
        return _without_none({"provisionedModelSummaries": [p.summary() for p in page], "nextToken": token})

    def update_provisioned(self, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("bedrock", "UpdateProvisionedModelThroughput", params)
        pt = self.find_provisioned(params["provisionedModelId"])
        if pt.status != "InService":
            raise ValidationException(f"Provisioned model {pt.name} cannot be updated in status {pt.status}.")
        new_name = params.get("desiredProvisionedModelName")
        if new_name and new_name != pt.name and any(p.name == new_name for p in self.provisioned.values()):
            raise ValidationException(f"A provisioned model named {new_name} already exists.")
        if params.get("desiredModelId"):
            if ":foundation-model/" in pt.model_arn:
                # botocore, desiredModelId: "You can't specify this field if this Provisioned Throughput is
                # associated with a base model."
                raise ValidationException(
                    f"Provisioned model {pt.name} is associated with the base model {pt.model_arn}; "
                    "its model cannot be changed."
                )
            # botocore, desiredModelId: the base model the custom model was customized from, or another custom model
            # customized from the same base model. A custom model must be Active (as for CreateProvisioned...).
            model_arn, foundation_model_arn = self._resolve_served_model(params["desiredModelId"])
            if foundation_model_arn != pt.foundation_model_arn:
                raise ValidationException(
                    f"The desired model must be customized from {pt.foundation_model_arn}, not {foundation_model_arn}."
                )
            if model_arn != pt.model_arn:
                pt.desired_model_arn, pt.status = model_arn, "Updating"
                pt.plan = current_settings()
                pt.settles_at = CLOCK.now() + pt.plan.deploy_seconds
                self._wake_at(pt.settles_at)
        pt.name = new_name or pt.name
        pt.last_modified_time = _now()
        return {}

    def delete_provisioned(self, params: dict[str, Any]) -> dict[str, Any]:
        pt = self.find_provisioned(params["provisionedModelId"])
        if pt.status in _TRANSITIONAL_STATUSES:
            # botocore models ConflictException for DeleteProvisionedModelThroughput: a throughput still being
            # created or updated cannot be deleted until it settles (InService or Failed).
            raise ConflictException(
                f"Provisioned model {pt.name} cannot be deleted while its status is {pt.status}; "
                "try again once it is InService or Failed."
            )
        expires = pt.commitment_expiration_time
        if expires is not None and expires > _now():
            raise ValidationException(
                f"Provisioned model {pt.name} has a {pt.commitment_duration} commitment that expires at "
                f"{expires.isoformat()}; it cannot be deleted before the commitment term ends."
            )
        del self.provisioned[pt.arn]
        self._forget(pt.arn)
        return {}

    # ---- custom model deployments ---------------------------------------------------------------------------------
    def create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        validate_request("bedrock", "CreateCustomModelDeployment", params)
        arn = self._idempotent(
            "CreateCustomModelDeployment", params, lambda: self._create_deployment(params), ValidationException
        )
        return {"customModelDeploymentArn": arn}

    def _create_deployment(self, params: dict[str, Any]) -> str:
        name = params["modelDeploymentName"]
        if any(d.name == name for d in self.deployments.values()):
            raise ValidationException(f"A custom model deployment named {name} already exists.")
        model = self._active_custom_model(params["modelArn"])
        now = _now()
        plan = current_settings()
        deployment = Deployment(
            arn=self._arn(f"custom-model-deployment/{self._new_id('deployment', name)}"),
            name=name,
            model_arn=model.arn,
            description=params.get("description"),
            plan=plan,
            created_at=now,
            last_updated_at=now,
            base_model_arn=model.base_model_arn,
            settles_at=now.timestamp() + plan.deploy_seconds,
        )
        self.deployments[deployment.arn] = deployment
        self._wake_at(deployment.settles_at)
        self._tag(deployment.arn, params.get("tags"))
        return deployment.arn

    def get_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.find_deployment(params["customModelDeploymentIdentifier"]).describe()

    @staticmethod
    def _settle_deployment(deployment: Deployment, now: float) -> None:
        if not deployment.settling or now < deployment.settles_at:
            return
        failed = deployment.plan.deploy_outcome == "Failed"
        if deployment.updating:
            # A failed update leaves the deployment Active on its old model: botocore documents status Failed (and
            # failureMessage) for a deployment that "failed to be created or became unavailable", and gives the
            # update its own UpdateFailed status.
            deployment.update_status = "UpdateFailed" if failed else "UpdateCompleted"
            if not failed and deployment.update_model_arn is not None:
                deployment.model_arn = deployment.update_model_arn
        else:
            deployment.status = "Failed" if failed else "Active"
            deployment.failure_message = deployment.plan.deploy_failure_message if failed else None
        deployment.last_updated_at = _at(deployment.settles_at)

    def list_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        deployments = [
            d
            for d in self.deployments.values()
            if (params.get("nameContains") is None or params["nameContains"] in d.name)
            and params.get("statusEquals") in (None, d.status)
            and params.get("modelArnEquals") in (None, d.model_arn)
            and _created_between(d.created_at, params.get("createdAfter"), params.get("createdBefore"))
        ]
        page, token = _page(_sorted(deployments, params, lambda d: d.created_at), params)
        return _without_none({"modelDeploymentSummaries": [d.summary() for d in page], "nextToken": token})

    def update_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateCustomModelDeployment: move an Active deployment to another Active custom model of the same base.

        botocore models only ResourceNotFoundException, AccessDeniedException, ValidationException,
        InternalServerException and ThrottlingException for this operation (no ConflictException, unlike
        DeleteCustomModelDeployment), so every refusal of a well-formed request for existing resources is a
        ValidationException. The answer is HTTP 202 (the operation's responseCode) with customModelDeploymentArn.
        """
        validate_request("bedrock", "UpdateCustomModelDeployment", params)
        deployment = self.find_deployment(params["customModelDeploymentIdentifier"])
        model = self.find_model(params["modelArn"])
        if deployment.updating and deployment.update_model_arn == model.arn:
            return {"customModelDeploymentArn": deployment.arn}  # a retry (the operation is idempotent)
        if deployment.settling or deployment.status != "Active":
            what = "being updated" if deployment.updating else f"in status {deployment.status}"
            raise ValidationException(
                f"Custom model deployment {deployment.name} cannot be updated while it is {what}; "
                "it must be Active with no update in progress."
            )
        if model.arn == deployment.model_arn:
            return {"customModelDeploymentArn": deployment.arn}  # already serves it: nothing to roll out
        if model.status != "Active":
            raise ValidationException(f"Custom model {model.name} is not Active (status {model.status}).")
        if model.base_model_arn != deployment.base_model_arn:
            raise ValidationException(
                f"Custom model deployment {deployment.name} serves a model customized from "
                f"{deployment.base_model_arn}; the new model {model.name} was customized from {model.base_model_arn}."
            )
        deployment.update_model_arn, deployment.update_status = model.arn, "Updating"
        deployment.plan = current_settings()
        deployment.last_updated_at = _now()
        deployment.settles_at = CLOCK.now() + deployment.plan.deploy_seconds
        self._wake_at(deployment.settles_at)
        return {"customModelDeploymentArn": deployment.arn}

    def delete_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        deployment = self.find_deployment(params["customModelDeploymentIdentifier"])
        if deployment.settling:
            # botocore models ConflictException for DeleteCustomModelDeployment (see delete_provisioned); an update
            # still rolling out counts as in progress like Creating does.
            what = "an update is in progress" if deployment.updating else f"its status is {deployment.status}"
            raise ConflictException(
                f"Custom model deployment {deployment.name} cannot be deleted while {what}; "
                "try again once it is Active or Failed."
            )
        del self.deployments[deployment.arn]
        self._forget(deployment.arn)
        return {}

    # ---- foundation models ----------------------------------------------------------------------------------------
    def list_foundation(self, params: dict[str, Any]) -> dict[str, Any]:
        provider = (params.get("byProvider") or "").lower()
        summaries = [
            model.summary(self.region_name, self.partition)
            for model in FOUNDATION_MODELS
            if (not model.regions or self.region_name in model.regions)
            and (not provider or model.provider.lower() == provider)
            and params.get("byCustomizationType") in (None, *model.customizations)
            and params.get("byInferenceType") in (None, *model.inference_types)
            and params.get("byOutputModality") in (None, "TEXT")
        ]
        return {"modelSummaries": summaries}


T = TypeVar("T")


def _created_between(created: datetime, after: datetime | None, before: datetime | None) -> bool:
    def aware(moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    return (after is None or created > aware(after)) and (before is None or created < aware(before))


def _sorted(items: list[T], params: dict[str, Any], key: Callable[[T], datetime]) -> list[T]:
    # Bedrock's List* default: newest first.
    return sorted(items, key=key, reverse=params.get("sortOrder", "Descending") == "Descending")


def _page(items: list[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    token = params.get("nextToken") or "0"
    if not token.isdigit():
        raise ValidationException(f"Invalid pagination token {token}.")
    start = int(token)
    size = params.get("maxResults") or 1000
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


# --------------------------------------------------------------------------------------------------------------------
# Installing into moto
# --------------------------------------------------------------------------------------------------------------------
_OPERATIONS: dict[str, Callable[[LocalBedrockBackend, dict[str, Any]], dict[str, Any]]] = {
    "create_model_customization_job": LocalBedrockBackend.create_job,
    "get_model_customization_job": LocalBedrockBackend.get_job,
    "list_model_customization_jobs": LocalBedrockBackend.list_jobs,
    "stop_model_customization_job": LocalBedrockBackend.stop_job,
    "get_custom_model": LocalBedrockBackend.get_model,
    "list_custom_models": LocalBedrockBackend.list_models,
    "delete_custom_model": LocalBedrockBackend.delete_model,
    "create_provisioned_model_throughput": LocalBedrockBackend.create_provisioned,
    "get_provisioned_model_throughput": LocalBedrockBackend.get_provisioned,
    "list_provisioned_model_throughputs": LocalBedrockBackend.list_provisioned,
    "update_provisioned_model_throughput": LocalBedrockBackend.update_provisioned,
    "delete_provisioned_model_throughput": LocalBedrockBackend.delete_provisioned,
    "create_custom_model_deployment": LocalBedrockBackend.create_deployment,
    "get_custom_model_deployment": LocalBedrockBackend.get_deployment,
    "list_custom_model_deployments": LocalBedrockBackend.list_deployments,
    "update_custom_model_deployment": LocalBedrockBackend.update_deployment,
    "delete_custom_model_deployment": LocalBedrockBackend.delete_deployment,
    "list_foundation_models": LocalBedrockBackend.list_foundation,
}


def arn_for_name(kind: str, identifier: str, account_id: str = "123456789012", region: str = "us-east-1") -> str | None:
    """The ARN of a local Bedrock resource called ``identifier`` (its name or ARN), or None (for local IAM)."""
    try:
        backend = backend_for(account_id, region)
    except Exception:
        return None
    finders: dict[str, Callable[[str], Any]] = {
        "model-customization-job": backend.find_job,
        "custom-model": backend.find_model,
        "provisioned-model": backend.find_provisioned,
        "custom-model-deployment": backend.find_deployment,
    }
    finder = finders.get(kind)
    if finder is None:
        return None
    try:
        return str(finder(identifier).arn)
    except ServiceException:
        return None


def _epochs(hyperparameters: dict[str, str]) -> int:
    try:
        return int(hyperparameters.get("epochCount") or hyperparameters.get("epochs") or 1)
    except ValueError:
        return 1


def publish_events(account_id: str, region: str, events: list[dict[str, Any]]) -> None:
    """Put events on the account's default bus as the service does (no caller's credentials: moto's backend)."""
    from moto.events.models import events_backends  # noqa: PLC0415 - only when a lifecycle moment produced events

    entries = [{**event, "EventBusName": "default"} for event in events]
    events_backends[account_id][region].put_events(entries)


def backend_for(account_id: str, region: str) -> LocalBedrockBackend:
    backend = bedrock_backends[account_id][region]
    if not isinstance(backend, LocalBedrockBackend):  # pragma: no cover - install_control_plane() guarantees it
        raise RuntimeError("local Bedrock is not installed: call bedrock_finetune_local.aws.install() first")
    return backend


def _response_method(
    name: str, operation: Callable[[LocalBedrockBackend, dict[str, Any]], dict[str, Any]]
) -> Callable[[BedrockResponse], ActionResult]:
    def method(self: BedrockResponse) -> ActionResult:
        self.parse_parameters(self.normalized_request)
        backend = backend_for(self.current_account, self.region)
        with backend.lock:
            backend.settle()
            return ActionResult(operation(backend, dict(self.params)))

    method.__name__ = method.__qualname__ = name
    return method


_installed = False


def install_control_plane() -> None:
    """Make moto's Bedrock the local Bedrock (idempotent). Backends created before this call are dropped."""
    global _installed  # noqa: PLW0603
    if _installed:
        return
    bedrock_backends.backend = LocalBedrockBackend
    for account_backends in bedrock_backends.values():
        account_backends.backend = LocalBedrockBackend
        account_backends.clear()
    for name, operation in _OPERATIONS.items():
        setattr(BedrockResponse, name, _response_method(name, operation))
    _installed = True
