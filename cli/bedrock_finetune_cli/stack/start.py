"""``retrain`` and ``retire``: StartExecution with the inputs the console takes (README "Retrain without records",
"Retire a model")."""

from __future__ import annotations

import argparse
import json
import re
import uuid
from typing import Any

from bedrock_finetune_cli.common import UsageError
from bedrock_finetune_cli.stack.aws import Stack, aws_errors, connect, get_json
from bedrock_finetune_cli.stack.submit import config_from_args, started

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def execution_name(prefix: str, target: str) -> str:
    """``<prefix>-<readable target>-<12 hex>``: unique, readable, within Step Functions' 80 characters."""
    readable = re.sub(r"[^A-Za-z0-9]+", "-", target.rsplit("/", 1)[-1]).strip("-")[:40].strip("-") or "run"
    return f"{prefix}-{readable}-{uuid.uuid4().hex[:12]}"


def parse_lines(text: str) -> list[int]:
    try:
        lines = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise UsageError(f"--exclude-lines expects line numbers like 2,5,7, got {text!r}") from None
    if not lines or min(lines) < 1:
        raise UsageError(f"--exclude-lines expects 1-based line numbers like 2,5,7, got {text!r}")
    return lines


def parse_hashes(text: str) -> list[str]:
    hashes = [item.strip().lower() for item in text.split(",") if item.strip()]
    bad = [item for item in hashes if not SHA256.match(item)]
    if not hashes or bad:
        raise UsageError(f"--exclude-sha256 expects 64-hex-digit sha256 values, got {', '.join(bad) or repr(text)}")
    return hashes


def retrain_input(args: argparse.Namespace) -> dict[str, Any]:
    """``{"retrainFrom", "excludeRecords", "swapDeployment"}`` plus any ``--config`` / ``--set`` overrides."""
    from pydantic import ValidationError  # noqa: PLC0415

    from bedrock_finetune.config import RetrainInput, describe_validation_error  # noqa: PLC0415

    payload = config_from_args(args)
    excluded: dict[str, Any] = {"lines": parse_lines(args.exclude_lines)} if args.exclude_lines else {}
    if args.exclude_sha256:
        excluded = {"sha256": parse_hashes(args.exclude_sha256)}
    payload.update(retrainFrom=args.run, excludeRecords=excluded, swapDeployment=bool(args.swap_deployment))
    try:
        RetrainInput.model_validate(payload)
    except ValidationError as error:
        raise UsageError(f"retrain input: {describe_validation_error(error)}") from None
    return payload


@aws_errors
def retrain_command(args: argparse.Namespace) -> int:
    payload = retrain_input(args)
    stack = connect(args.stack, args.region, args.profile)
    if get_json(stack.client("s3"), stack.bucket, f"reports/{args.run}/report.json") is None:
        raise UsageError(f"run {args.run} has no report (reports/{args.run}/report.json): retrain an ended run")
    return _start(args, stack, stack.state_machine_arn, execution_name("retrain", args.run), payload)


@aws_errors
def retire_command(args: argparse.Namespace) -> int:
    payload = {"retire": args.target, "force": bool(args.force)}
    stack = connect(args.stack, args.region, args.profile)
    return _start(args, stack, stack.retire_state_machine_arn, execution_name("retire", args.target), payload)


def _start(args: argparse.Namespace, stack: Stack, machine: str, name: str, payload: dict[str, Any]) -> int:
    sfn = stack.client("stepfunctions")
    sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
    result: dict[str, Any] = {"started": True, "input": payload}
    return started(args, stack, result, candidates=[name], what="StartExecution", machine=machine)
