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
    DeploymentInput,
    DeploymentSettings,
    RetrainInput,
    RetrainPlan,
    RunConfig,
    RunOverrides,
    S3Location,
    SmokeTestSettings,
    StackSettings,
    SweepInput,
    SweepPlan,
    SweepStagePlan,
    Trigger,
    describe_validation_error,
    is_s3_event,
    source_from_event,
    utc_instant,
)
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.hyperparameters import HyperparameterValue, check_hyperparameters, resolve_hyperparameters
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
    elif "retrainFrom" in raw:
        return _retrain(raw, execution, settings, region).model_copy(update={"dropped_at": dropped_at})
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
    sweep = _sweep_plan(spec, customization_type, overrides.sweep, hyper_overrides, has_validation=will_have_validation)
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
        sweep=sweep,
        max_usd=(overrides.budget.max_usd if overrides.budget else None) or (settings.default_max_usd or None),
        max_deployment_hours=(overrides.budget.max_deployment_hours if overrides.budget else None)
        or (settings.default_max_deployment_hours or None),
    )


def _sweep_plan(
    spec: ModelSpec,
    customization_type: str,
    given: SweepInput | None,
    base: dict[str, HyperparameterValue],
    *,
    has_validation: bool,
) -> SweepPlan | None:
    """Every value of every stage checked against the model's ranges before the first job starts; each problem
    names its place (``sweep.vary[1].values[2]``)."""
    if given is None:
        return None
    known = [param.name for param in spec.hyperparameters(customization_type)]
    problems: list[str] = []
    stages: list[SweepStagePlan] = []
    for index, stage in enumerate(given.vary):
        where = f"sweep.vary[{index}]"
        if stage.parameter not in known:
            problems.append(
                f"{where}.parameter: {stage.parameter} is not a hyperparameter of {spec.id} ({customization_type}); "
                f"it has {', '.join(known) or 'none'}"
            )
            continue
        if any(done.parameter == stage.parameter for done in stages):
            problems.append(f"{where}.parameter: {stage.parameter} is already varied by an earlier stage")
            continue
        values: list[str] = []
        for position, value in enumerate(stage.values):
            resolved, found = check_hyperparameters(
                spec, customization_type, {**base, stage.parameter: value}, has_validation=has_validation
            )
            own = [problem.message for problem in found if problem.name == stage.parameter]
            if own or stage.parameter not in resolved:
                problems.append(f"{where}.values[{position}]: {'; '.join(own) or 'not accepted with this data'}")
            elif resolved[stage.parameter] in values:
                problems.append(f"{where}.values[{position}]: {resolved[stage.parameter]} is given twice")
            else:
                values.append(resolved[stage.parameter])
        stages.append(SweepStagePlan(parameter=stage.parameter, values=values))
    if problems:
        raise ConfigInvalid("; ".join(problems))
    return SweepPlan(stages=stages, keep_all=given.keep_all)


def _retrain(raw: dict[str, Any], execution: ExecutionContext, settings: StackSettings, region: str) -> RunConfig:
    """A retrain: the earlier run's staged data (rebuilt and filtered by PrepareRetrainDataset into a new source under
    ``retrain/<run>/``), its base model, type and hyperparameters (the hyperparameters overridable), and, with
    ``swapDeployment``, a temporary deployment of the new model for the smoke test before the earlier run's kept one
    is moved to it."""
    try:
        request = RetrainInput.model_validate(raw)
    except ValidationError as exc:
        raise ConfigInvalid(f"retrain input: {describe_validation_error(exc)}") from exc
    exclude = request.exclude_records
    if bool(exclude.lines) == bool(exclude.sha256):
        raise ConfigInvalid("excludeRecords: give either lines (1-based line numbers) or sha256 (record hashes)")
    earlier = _earlier_report(request.retrain_from, settings)
    staged = (earlier.get("dataset") or {}).get("staged")
    if not isinstance(staged, dict) or not staged.get("train"):
        raise ConfigInvalid(f"retrainFrom: run {request.retrain_from} staged no dataset (it ended before StageDataset)")
    split = staged.get("split") or None
    original_records = int(staged.get("trainRecords") or 0) + (
        int(staged.get("validationRecords") or 0) if split else 0
    )
    beyond = sorted({line for line in exclude.lines or [] if line > original_records})
    if beyond:
        raise ConfigInvalid(
            f"excludeRecords.lines: {', '.join(map(str, beyond[:10]))} beyond the {original_records} records of run "
            f"{request.retrain_from}'s training file"
        )
    base_model = request.base_model_id or str(earlier.get("baseModelId") or "")
    deployment = earlier.get("deployment") or {}
    deployment_input = request.deployment
    if request.swap_deployment:
        if not (deployment.get("kept") and deployment.get("arn")):
            raise ConfigInvalid(
                f"swapDeployment: run {request.retrain_from} kept no deployment to move to the new model"
            )
        if base_model != earlier.get("baseModelId"):
            raise ConfigInvalid("swapDeployment: a deployment serves one base model; baseModelId cannot change")
        # A temporary deployment of the new model carries the smoke test; the kept one moves after it passes.
        deployment_input = DeploymentInput(
            mode=deployment.get("mode"), model_units=deployment.get("modelUnits"), keep=False
        )
    source_name = naming.dataset_name(str((earlier.get("dataset") or {}).get("source") or "dataset.jsonl"))
    run = naming.run_id(execution.name)
    source = S3Location(bucket=settings.bucket_name, key=f"retrain/{run}/{source_name}-retrain.jsonl")
    validation = staged.get("validation") if not split else None
    overrides = RunOverrides(
        validation_dataset_uri=S3Location.model_validate(validation).uri if validation else None,
        base_model_id=base_model,
        customization_type=request.customization_type or earlier.get("customizationType"),
        hyper_parameters={**(earlier.get("hyperParameters") or {}), **(request.hyper_parameters or {})},
        deployment=deployment_input,
        smoke_test=request.smoke_test,
        model_name=request.model_name,
        validation_split_percent=(
            request.validation_split_percent
            if request.validation_split_percent is not None
            else int(split["percent"])
            if split
            else 0
        ),
        force=request.force,
    )
    config = build_config(
        source=source, trigger="console", overrides=overrides, execution=execution, settings=settings, region=region
    )
    plan = RetrainPlan(
        from_run=request.retrain_from,
        from_model_arn=(earlier.get("model") or {}).get("arn"),
        staged_train=S3Location.model_validate(staged["train"]),
        staged_split_validation=S3Location.model_validate(staged["validation"]) if split else None,
        split_seed=str(split["seed"]) if split else None,
        split_validation_records=int(staged.get("validationRecords") or 0) if split else 0,
        original_records=original_records,
        exclude_lines=sorted(set(exclude.lines or [])),
        exclude_sha256=sorted(set(exclude.sha256 or [])),
        swap_deployment=request.swap_deployment,
        deployment_arn=deployment.get("arn") if request.swap_deployment else None,
        deployment_mode=deployment.get("mode") if request.swap_deployment else None,
    )
    return config.model_copy(update={"retrain": plan, "dataset_name": f"{source_name}-retrain"[:40]})


def _earlier_report(run: str, settings: StackSettings) -> dict[str, Any]:
    text = aws.get_text(settings.bucket_name, naming.report_key(run, "report.json"))
    if text is None:
        raise ConfigInvalid(f"retrainFrom: run {run} has no report in s3://{settings.bucket_name}/reports/{run}/")
    report = json.loads(text)
    if not isinstance(report, dict):
        raise ConfigInvalid(f"retrainFrom: the report of run {run} is not a JSON object")
    return report


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
