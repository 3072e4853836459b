"""``submit`` and ``sweep``: validate a dataset locally, then drop it into the stack's inbox with its settings.

The file is checked first with the workflow's own validator against the run's base model (the configuration's
``baseModelId``, else the stack's ``BaseModelId`` parameter): an invalid file is refused (exit 1) and nothing is
uploaded. A valid one goes to ``inbox/<file name>`` with the run configuration as ``finetune-config`` metadata, in the
same request (it cannot race the upload). The inbox rule starts one execution per object version, named by
:func:`bedrock_finetune.naming.inbox_execution_name` from the bucket, key and version id, so the run id is known as
soon as S3 answers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from bedrock_finetune_cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError, colour_wanted
from bedrock_finetune_cli.stack import follow
from bedrock_finetune_cli.stack.aws import Stack, aws_errors, connect, console_url, execution_arn, get_json
from bedrock_finetune_cli.validate import model, render_report, report_json, validate_files

INBOX = "inbox/"
UPLOADS = "uploads/"
SUFFIX = ".jsonl"
#: S3 user-defined metadata: at most 2 KB, keys and values counted in UTF-8 (S3 User Guide, "Object metadata").
METADATA_LIMIT = 2048
#: A single PutObject carries at most 5 GB.
PUT_LIMIT = 5 * 1024**3


# --- the run configuration: --config and --set ----------------------------------------------------------------------
def load_config(text: str | None) -> dict[str, Any]:
    """``--config``: a JSON object given inline (``'{"deployment": {"mode": "none"}}'``) or as a UTF-8 file."""
    if text is None:
        return {}
    if text.lstrip().startswith(("{", "[")):
        raw = text
    else:
        try:
            data = Path(text).read_bytes()
        except OSError as error:
            raise UsageError(f"--config {text}: {error.strerror or error}") from error
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UsageError(
                f"--config {text}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
            ) from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise UsageError(f"--config {text}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--config {text}: must hold a JSON object")
    return value


def apply_settings(config: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE``: a dotted key (``deployment.mode``, ``hyperParameters.epochCount``) set to the value as JSON
    when it parses (``3``, ``true``, ``1e-5``, ``["a"]``), else as the string."""
    for pair in pairs:
        key, separator, text = pair.partition("=")
        path = key.strip().split(".")
        if not separator or not all(part.strip() for part in path):
            raise UsageError(f"--set expects KEY=VALUE with a dotted KEY, got {pair!r}")
        target = config
        for depth, part in enumerate(path[:-1]):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {pair}: {'.'.join(path[: depth + 1])} is not an object")
            target = child
        target[path[-1]] = parse_value(text)
    return config


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return apply_settings(load_config(args.config), list(args.set or []))


def check_overrides(config: dict[str, Any]) -> None:
    """The configuration as ResolveConfig will read it (field names, types, ranges), before anything is uploaded."""
    from pydantic import ValidationError  # noqa: PLC0415

    from bedrock_finetune.config import RunOverrides, describe_validation_error  # noqa: PLC0415

    if "datasetUri" in config:
        raise UsageError("the run configuration must not name datasetUri: the dataset is the FILE argument")
    try:
        RunOverrides.model_validate(config)
    except ValidationError as error:
        raise UsageError(f"run configuration: {describe_validation_error(error)}") from None


def parse_vary(text: str) -> dict[str, Any]:
    """``--vary learningRate=1e-6,1e-5,1e-4`` → ``{"parameter": "learningRate", "values": [1e-06, 1e-05, 0.0001]}``."""
    parameter, separator, values = text.partition("=")
    items = [item.strip() for item in values.split(",")]
    if not separator or not parameter.strip() or not all(items):
        raise UsageError(f"--vary expects PARAMETER=VALUE,VALUE,..., got {text!r}")
    return {"parameter": parameter.strip(), "values": [parse_value(item) for item in items]}


# --- the commands -----------------------------------------------------------------------------------------------------
@aws_errors
def submit_command(args: argparse.Namespace) -> int:
    return submit(args, config_from_args(args))


@aws_errors
def sweep_command(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    sweep = dict(config.get("sweep") or {})
    sweep["vary"] = [parse_vary(text) for text in args.vary]
    if args.keep_all:
        sweep["keepAll"] = True
    config["sweep"] = sweep
    return submit(args, config)


def inbox_key(path: Path) -> str:
    """``inbox/<file name>``, its extension in lower case: the inbox rule matches ``inbox/*.jsonl`` exactly."""
    name = path.name
    if not name.lower().endswith(SUFFIX) or len(name) == len(SUFFIX):
        raise UsageError(f"{path}: only .jsonl files start a run")
    return INBOX + name[: -len(SUFFIX)] + SUFFIX


def submit(args: argparse.Namespace, config: dict[str, Any]) -> int:
    train = Path(args.file)
    key = inbox_key(train)
    if args.validation and config.get("validationDatasetUri"):
        raise UsageError("--validation and validationDatasetUri in the configuration: give one of them")
    check_overrides(config)
    stack = connect(args.stack, args.region, args.profile)
    model_id = config.get("baseModelId") or stack.parameters.get("BaseModelId")
    if not model_id:
        raise UsageError("no base model: set baseModelId (--set baseModelId=MODEL_ID) or the stack's BaseModelId")
    customization_type = config.get("customizationType") or stack.parameters.get("CustomizationType") or "FINE_TUNING"
    hyperparameters = {**_stack_hyperparameters(stack), **(config.get("hyperParameters") or {})}
    if config.get("sweep"):
        _check_sweep(config, stack, model_id, customization_type, hyperparameters, has_file=bool(args.validation))
    report = validate_files(
        str(train),
        args.validation,
        model_id=model_id,
        customization_type=customization_type,
        hyperparameters=hyperparameters,
    )
    result: dict[str, Any] = {"submitted": False, "validation": report_json(report)}
    if not args.json:
        print(render_report(report, colour=colour_wanted(sys.stdout)), end="")
    if not report.valid:
        if args.json:
            print(json.dumps(result))
        else:
            print("\nNot submitted: the dataset is invalid, nothing was uploaded.")
        return EXIT_FAILED

    s3 = stack.client("s3")
    if args.validation:
        validation_path = Path(args.validation)
        sha256 = next((file.sha256 for file in report.stats.files if file.role == "validation"), None) or "unhashed"
        validation_key = f"{UPLOADS}{sha256[:16]}/{validation_path.name}"
        _put(s3, stack.bucket, validation_key, validation_path, metadata={})
        config["validationDatasetUri"] = f"s3://{stack.bucket}/{validation_key}"
        result["validationDatasetUri"] = config["validationDatasetUri"]
    metadata = _metadata(config)
    answer = _put(s3, stack.bucket, key, train, metadata=metadata)
    version = answer.get("VersionId")
    result.update(submitted=True, datasetUri=f"s3://{stack.bucket}/{key}", versionId=version, config=config)
    if not args.json:
        print(f"\nUploaded  s3://{stack.bucket}/{key}" + (f" (version {version})" if version else ""))
    if not version:
        # Without versioning the starter names the run after the event's sequencer, which S3 does not return.
        message = "the bucket does not version objects: the run id is known only once the execution starts"
        if args.json:
            print(json.dumps({**result, "warning": message}))
        else:
            print(f"Run       unknown: {message} (see `bedrock-finetune runs`)")
        return EXIT_OK
    return started(args, stack, result, candidates=_candidate_names(stack.bucket, key, version), what="the upload")


def started(
    args: argparse.Namespace,
    stack: Stack,
    result: dict[str, Any],
    *,
    candidates: list[str],
    what: str,
    machine: str | None = None,
) -> int:
    """Say which run was started (its id, console link), and with ``--wait`` follow it to its end. ``candidates``
    are the names the execution may have, the likeliest first; ``machine`` is the fine-tune state machine unless
    given."""
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    name = candidates[0]
    machine = machine or stack.state_machine_arn
    arn = execution_arn(machine, name)
    result.update(runId=run_id(name), executionArn=arn, consoleUrl=console_url(arn))
    if not args.json:
        print(f"Run       {result['runId']}")
        print(f"Console   {result['consoleUrl']}")
    if not args.wait:
        if args.json:
            print(json.dumps(result))
        else:
            print(f"Follow it with `bedrock-finetune status {result['runId']}` (or add --wait).")
        return EXIT_OK
    sfn = stack.client("stepfunctions")
    try:
        arn = follow.wait_until_started(sfn, [execution_arn(machine, other) for other in candidates], what=what)
        if arn != result["executionArn"]:
            name = arn.rsplit(":", 1)[-1]
            result.update(runId=run_id(name), executionArn=arn, consoleUrl=console_url(arn))
        snapshot = follow.follow(sfn, arn)
    except KeyboardInterrupt:
        print(f"\nStopped following; the run goes on: `bedrock-finetune status {result['runId']}`.", file=sys.stderr)
        return EXIT_INTERRUPTED
    report = _final_report(stack, result["runId"]) if machine == stack.state_machine_arn else None
    result.update(status=snapshot.status, error=snapshot.error, cause=follow.readable(snapshot.cause), report=report)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(follow.outcome_line(snapshot, sys.stdout))
        for line in follow.report_summary(report, snapshot):
            print(f"  {line}")
    return follow.exit_code(snapshot)


def _final_report(stack: Stack, run: str) -> dict[str, Any] | None:
    return get_json(stack.client("s3"), stack.bucket, f"reports/{run}/report.json")


def _candidate_names(bucket: str, key: str, version: str) -> list[str]:
    """The execution names the starter may give this object version: the key as stored (what EventBridge's S3
    events carry), then URL-encoded as S3's other notifications carry it (see resolve_config.event_key_candidates)."""
    from bedrock_finetune.naming import inbox_execution_name  # noqa: PLC0415

    keys = [key, quote_plus(key, safe="/"), quote(key, safe="/")]
    return list(dict.fromkeys(inbox_execution_name(bucket, candidate, version) for candidate in keys))


def _metadata(config: dict[str, Any]) -> dict[str, str]:
    from bedrock_finetune.config import METADATA_KEY  # noqa: PLC0415

    if not config:
        return {}
    text = json.dumps(config, separators=(",", ":"))  # ASCII: HTTP headers carry it
    size = len(METADATA_KEY) + len(text)
    if size > METADATA_LIMIT:
        raise UsageError(
            f"the run configuration takes {size:,} bytes as S3 metadata, S3 allows {METADATA_LIMIT:,}: shorten it "
            "(e.g. fewer smoke-test prompts)"
        )
    return {METADATA_KEY: text}


def _put(s3: Any, bucket: str, key: str, path: Path, *, metadata: dict[str, str]) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > PUT_LIMIT:
            raise UsageError(f"{path}: {size:,} bytes; one upload carries at most 5 GB")
        with path.open("rb") as body:
            answer: dict[str, Any] = s3.put_object(
                Bucket=bucket, Key=key, Body=body, Metadata=metadata, ContentType="application/jsonl"
            )
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    return answer


def _stack_hyperparameters(stack: Stack) -> dict[str, Any]:
    try:
        value = json.loads(stack.parameters.get("HyperParameters") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_sweep(
    config: dict[str, Any],
    stack: Stack,
    model_id: str,
    customization_type: str,
    hyperparameters: dict[str, Any],
    *,
    has_file: bool,
) -> None:
    """Every swept value against the model's ranges, as ResolveConfig checks them (exit 2 before any upload)."""
    from bedrock_finetune.hyperparameters import check_hyperparameters  # noqa: PLC0415

    spec = model(model_id, customization_type)
    split = config.get("validationSplitPercent", stack.parameters.get("ValidationSplitPercent") or 0)
    try:
        split_percent = int(split)
    except (TypeError, ValueError):
        split_percent = 0
    has_validation = (
        has_file
        or bool(config.get("validationDatasetUri"))
        or (split_percent > 0 and spec.validation_allowed(customization_type))
    )
    known = [param.name for param in spec.hyperparameters(customization_type)]
    problems = []
    for stage in config["sweep"].get("vary") or []:
        parameter = stage.get("parameter")
        if parameter not in known:
            problems.append(f"{parameter} is not a hyperparameter of {spec.id}; it has {', '.join(known) or 'none'}")
            continue
        for value in stage.get("values") or []:
            _, found = check_hyperparameters(
                spec, customization_type, {**hyperparameters, parameter: value}, has_validation=has_validation
            )
            problems += [problem.message for problem in found if problem.name == parameter]
    if problems:
        raise UsageError("sweep: " + "; ".join(problems))
