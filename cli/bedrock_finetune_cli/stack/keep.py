"""``keep``: how long a run's kept provisioned throughput stays (README "Kept deployments and their deadline").

A run that keeps its provisioned throughput with ``budget.maxDeploymentHours`` tags it ``keep-until=<UTC time>``; the
reconciler deletes it once that time has passed. ``keep RUN --hours H`` moves the time to H hours from now (renews),
``--until TIME`` to a given time, ``--forever`` tags it ``keep=true`` instead (then nothing deletes it but a person or
``retire --force``). Only this stack's throughput is touched (its ``managed-by`` and ``stack`` tags).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import naming
from bedrock_finetune.config import MAX_DEPLOYMENT_HOURS
from bedrock_finetune_cli.common import EXIT_FAILED, EXIT_OK, UsageError
from bedrock_finetune_cli.stack.aws import Stack, aws_errors, connect, get_json, is_error

PROVISIONED_MARKER = ":provisioned-model/"


def deadline(args: argparse.Namespace, now: datetime) -> datetime | None:
    """The new keep-until time (None: kept for good); UsageError for a bad value."""
    if args.forever:
        return None
    if args.until is not None:
        try:
            moment = datetime.strptime(args.until.strip(), naming.KEEP_UNTIL_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise UsageError(f"--until expects a UTC time such as 2026-12-31T18:00:00Z, got {args.until!r}") from None
        if moment <= now:
            raise UsageError(f"--until {args.until} has passed: the reconciler would delete the throughput at once")
        if moment > now + timedelta(hours=MAX_DEPLOYMENT_HOURS):
            raise UsageError(f"--until {args.until} is more than {MAX_DEPLOYMENT_HOURS} hours away: use --forever")
        return moment
    hours = args.hours
    if not 0 < hours <= MAX_DEPLOYMENT_HOURS:
        raise UsageError(f"--hours expects more than 0 and at most {MAX_DEPLOYMENT_HOURS}, got {hours:g}")
    return (now + timedelta(hours=hours)).replace(microsecond=0)


def throughput_of(stack: Stack, target: str) -> str:
    """The provisioned throughput ARN ``target`` names: itself, or the one run ``target``'s report kept."""
    if PROVISIONED_MARKER in target:
        return target
    report = get_json(stack.client("s3"), stack.bucket, f"reports/{target}/report.json")
    if report is None:
        raise UsageError(f"run {target} has no report (reports/{target}/report.json): is the run id right?")
    deployment = report.get("deployment") or {}
    arn = str(deployment.get("arn") or "")
    if not deployment.get("kept") or PROVISIONED_MARKER not in arn:
        raise UsageError(f"run {target} kept no provisioned throughput (its report's deployment: {deployment})")
    return arn


@aws_errors
def keep_command(args: argparse.Namespace, now: datetime | None = None) -> int:
    until = deadline(args, now or datetime.now(UTC))
    stack = connect(args.stack, args.region, args.profile)
    arn = throughput_of(stack, args.target)
    bedrock = stack.client("bedrock")
    try:
        tags = naming.tag_map(bedrock.list_tags_for_resource(resourceARN=arn).get("tags", []))
    except ClientError as error:
        if is_error(error, "ResourceNotFoundException"):
            print(f"{arn} no longer exists: nothing to keep")
            return EXIT_FAILED
        raise
    if not naming.belongs_to_stack(tags, stack.name):
        raise UsageError(f"{arn} is not a throughput of stack {stack.name} (its managed-by and stack tags): untouched")
    if until is None:
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": naming.TAG_KEEP, "value": "true"}])
        if naming.TAG_KEEP_UNTIL in tags:
            bedrock.untag_resource(resourceARN=arn, tagKeys=[naming.TAG_KEEP_UNTIL])
    else:
        bedrock.tag_resource(
            resourceARN=arn, tags=[{"key": naming.TAG_KEEP_UNTIL, "value": naming.format_keep_until(until)}]
        )
        if naming.TAG_KEEP in tags:
            bedrock.untag_resource(resourceARN=arn, tagKeys=[naming.TAG_KEEP])
    result: dict[str, Any] = {
        "arn": arn,
        "keptUntil": naming.format_keep_until(until) if until else None,
        "keptForGood": until is None,
    }
    if args.json:
        print(json.dumps(result))
    elif until is None:
        print(f"Kept for good (keep=true): {arn}. It bills every hour until you delete it.")
    else:
        print(
            f"Kept until {result['keptUntil']}: {arn}. The reconciler deletes it after that, "
            f"unless you run `bedrock-finetune keep {args.target}` again."
        )
    return EXIT_OK
