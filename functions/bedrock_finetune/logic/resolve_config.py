"""ResolveConfig: an inbox drop or a console start, plus the stack defaults, becomes one checked RunConfig.

Everything a later step could reject is checked here, before anything is created: the model id, the
customization type, the hyperparameters, the deployment mode the model offers, validation data allowed or not,
that the stack's Region can customize the model, and that the dataset objects exist.

The dropped key itself is not checked against Bedrock's S3Uri pattern (spaces, ``=``, ``+``, Unicode and ``.JSONL``
are fine): Bedrock reads the staged copy under ``datasets/<sha256>/``, whose key always matches it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, unquote_plus

from pydantic import ValidationError

from bedrock_finetune import aws, naming
from bedrock_finetune.catalog import ModelSpec, customizable_in, get_model
from bedrock_finetune.config import (
    INBOX_PREFIX,
    METADATA_KEY,
    ConsoleInput,
    DeploymentSettings,
    RunConfig,
    RunOverrides,
    S3Location,
    SmokeTestSettings,
    StackSettings,
    Trigger,
    describe_validation_error,
    is_s3_event,
    source_from_event,
    utc_instant,
)
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.hyperparameters import resolve_hyperparameters
from bedrock_finetune.models import ExecutionContext


def parse_overrides(raw: dict[str, Any], *, origin: str) -> RunOverrides:
    try:
        return RunOverrides.model_validate(raw)
    except ValidationError as exc:
        raise ConfigInvalid(f"{origin}: {describe_validation_error(exc)}") from exc


def resolve(raw: dict[str, Any], execution: ExecutionContext, settings: StackSettings, region: str) -> RunConfig:
    trigger: Trigger
    dropped_at = utc_instant(execution.start_time)
    if is_s3_event(raw):
        trigger = "inbox"
        dropped_at = utc_instant(raw.get("time")) or dropped_at
        source, head = _existing_event_object(source_from_event(raw))
        overrides = _metadata_overrides(head, source)
    else:
        trigger = "console"
        try:
            console = ConsoleInput.model_validate(raw)
        except ValidationError as exc:
            raise ConfigInvalid(f"console input: {describe_validation_error(exc)}") from exc
        source = S3Location.from_uri(console.dataset_uri, field="datasetUri")
        if aws.head_object(source) is None:
            raise ConfigInvalid(f"datasetUri: {source.uri} does not exist or is not readable by the workflow")
        overrides = RunOverrides.model_validate(console.model_dump(exclude={"dataset_uri"}))
    config = build_config(
        source=source, trigger=trigger, overrides=overrides, execution=execution, settings=settings, region=region
    )
    return config.model_copy(update={"dropped_at": dropped_at})


def build_config(
    *,
    source: S3Location,
    trigger: Trigger,
    overrides: RunOverrides,
    execution: ExecutionContext,
    settings: StackSettings,
    region: str,
) -> RunConfig:
    spec = get_model(overrides.base_model_id or settings.default_base_model_id)
    customization_type = overrides.customization_type or settings.default_customization_type
    if not spec.supports(customization_type):
        raise ConfigInvalid(f"customizationType: {spec.id} does not support {customization_type}")

    validation_source = None
    if overrides.validation_dataset_uri:
        validation_source = S3Location.from_uri(overrides.validation_dataset_uri, field="validationDatasetUri")
        if not spec.validation_allowed(customization_type):
            raise ConfigInvalid(f"validationDatasetUri: {spec.id} does not accept validation data")
        if aws.head_object(validation_source) is None:
            raise ConfigInvalid(f"validationDatasetUri: {validation_source.uri} does not exist")

    hyper_overrides = {**settings.default_hyperparameter_overrides(), **(overrides.hyper_parameters or {})}
    split_percent = (
        overrides.validation_split_percent
        if overrides.validation_split_percent is not None
        else settings.default_validation_split_percent
    )
    will_have_validation = validation_source is not None or (
        split_percent > 0 and spec.validation_allowed(customization_type)
    )
    hyper_parameters = resolve_hyperparameters(
        spec, customization_type, hyper_overrides, has_validation=will_have_validation
    )
    deployment = _deployment(spec, overrides, settings)
    _check_region(spec, region)
    smoke = overrides.smoke_test
    smoke_test = SmokeTestSettings(
        prompts=list(smoke.prompts or []) if smoke else [],
        count=smoke.count if smoke and smoke.count is not None else settings.default_smoke_test_count,
        compare_with_base=bool(smoke and smoke.compare_with_base),
    )
    return RunConfig(
        run_id=naming.run_id(execution.name),
        execution_arn=execution.id,
        region=region,
        bucket=settings.bucket_name,
        trigger=trigger,
        source=source,
        source_in_inbox=source.bucket == settings.bucket_name and source.key.startswith(INBOX_PREFIX),
        validation_source=validation_source,
        dataset_name=naming.dataset_name(source.key),
        base_model_id=spec.id,
        customization_type=customization_type,
        hyper_parameters=hyper_parameters,
        deployment=deployment,
        smoke_test=smoke_test,
        polling=settings.polling,
        model_name=overrides.model_name,
        validation_split_percent=split_percent,
        stack_name=settings.stack_name,
        force=bool(overrides.force),
        started_at=utc_instant(execution.start_time),
    )


def _deployment(spec: ModelSpec, overrides: RunOverrides, settings: StackSettings) -> DeploymentSettings:
    given = overrides.deployment
    requested = (given.mode if given else None) or settings.default_deployment_mode
    offered = tuple(spec.deployment_modes)
    auto_mode = "on-demand" if "on-demand" in offered else "provisioned"
    mode = auto_mode if requested == "auto" else requested
    if mode != "none" and mode not in offered:
        raise ConfigInvalid(f"deployment.mode: {spec.id} offers {', '.join(offered) or 'no deployment'}, not {mode}")
    units = given.model_units if given and given.model_units is not None else settings.default_model_units
    keep = given.keep if given and given.keep is not None else settings.default_keep_deployment
    return DeploymentSettings(requested_mode=requested, mode=mode, model_units=units, keep=keep)


def _check_region(spec: ModelSpec, region: str) -> None:
    """A customization job runs in the stack's Region: refuse a base model that Region cannot customize."""
    if spec.customizable_in(region):
        return
    here = [other.id for other in customizable_in(region)]
    alternatives = f"; models {region} can customize: {', '.join(here)}" if here else ""
    raise ConfigInvalid(
        f"baseModelId: {spec.id} ({spec.name}) cannot be customized in {region}, the stack's Region; "
        f"it can be customized in {', '.join(spec.regions)}: deploy the stack there or choose another model"
        f"{alternatives}"
    )


def event_key_candidates(key: str) -> list[str]:
    """The object keys an S3 event's ``detail.object.key`` may stand for, most literal first.

    AWS documents URL-encoding (form style: a space as ``+``) for the S3 notification format sent to SNS, SQS and
    Lambda (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). The
    EventBridge event page (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) says nothing; reports
    of real EventBridge events show the key as stored. So the key is tried as given, then form-decoded, then
    percent-decoded; the pinned ``version-id`` makes a match on the wrong one of two look-alike keys impossible.
    """
    return list(dict.fromkeys([key, unquote_plus(key), unquote(key)]))


def _existing_event_object(source: S3Location) -> tuple[S3Location, dict[str, Any]]:
    """The event's object: its key as given or URL-decoded (see :func:`event_key_candidates`)."""
    for key in event_key_candidates(source.key):
        candidate = source.model_copy(update={"key": key})
        head = aws.head_object(candidate)
        if head is not None:
            return candidate, head
    raise ConfigInvalid(f"S3 event: {source.uri} no longer exists (moved or deleted before the run started)")


def _metadata_overrides(head: dict[str, Any], source: S3Location) -> RunOverrides:
    text = (head.get("Metadata") or {}).get(METADATA_KEY)
    if not text:
        return RunOverrides()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigInvalid(f"x-amz-meta-{METADATA_KEY} of {source.uri}: not JSON ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise ConfigInvalid(f"x-amz-meta-{METADATA_KEY} of {source.uri}: must be a JSON object")
    return parse_overrides(raw, origin=f"x-amz-meta-{METADATA_KEY} of {source.uri}")
