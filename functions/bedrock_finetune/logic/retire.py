"""Retire a custom model: what serves it first, then the model (the retire state machine, statemachine/retire.asl.json).

A custom model cannot be reset; the how-to's way back from bad training data is to delete it and train again. Bedrock
refuses to delete a model that a provisioned throughput or a custom model deployment still uses (the local Bedrock
answers ConflictException, as botocore models for DeleteCustomModel), so the order is fixed:

1. resolve what to retire: a custom model ARN, or a run id (its report's model, and a sweep's kept variant models);
2. find every provisioned throughput and custom model deployment serving each model (ListProvisionedModelThroughputs
   and ListCustomModelDeployments filtered by ``modelArnEquals``);
3. refuse, before deleting anything, when one of them (or the model) is tagged ``keep`` and the request has no
   ``"force": true``: RetireRefused names them;
4. delete them (a resource still Creating or Updating is waited for: ConflictException → TransientAwsError, retried by
   the state machine), then the model;
5. write ``reports/retire/<run or model>/report.json`` and return the notice for the state machine to publish.

Only this stack's models are retired: a model without the stack's ``managed-by``/``stack`` tags is refused here, and
IAM refuses the deletes anyway (template.yaml conditions them on the tags). Safe to repeat: what is gone is skipped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.config import StackSettings
from bedrock_finetune.errors import ConfigInvalid, RetireRefused
from bedrock_finetune.logic import deployment as deployments
from bedrock_finetune.logic import training
from bedrock_finetune.models import DeploymentKind, RetiredModel, RetireInput, RetireOutput

CUSTOM_MODEL_MARKER = ":custom-model/"


def retire(request: RetireInput, settings: StackSettings, now: datetime | None = None) -> RetireOutput:
    now = now or clock.now()
    target = request.retire.strip()
    run, arns = _models_of(target, settings)
    models = [_serving(arn, settings) for arn in arns]
    kept = [
        f"{kind} {arn}"
        for model in models
        for kind, arn, is_kept in [("custom model", model.arn, model.kept), *model.kept_servers]
        if is_kept
    ]
    if kept and not request.force:
        raise RetireRefused(
            f"{', '.join(kept)} tagged keep=true (or keep-until a time to come): nothing was deleted. Start again "
            'with "force": true to retire it anyway, or remove the keep tag'
        )
    done = [_retire_one(model) for model in models]
    report = {
        "retire": target,
        "runId": run,
        "force": request.force,
        "retiredAt": now.isoformat(),
        "models": [model.model_dump(mode="json", by_alias=True) for model in done],
    }
    key = naming.report_key(f"retire/{run or _model_id(target)}", "report.json")
    aws.put_json(settings.bucket_name, key, json.dumps(report, indent=2))
    lines = [f"Retired {len(done)} custom model(s) of {'run ' + run if run else target}:"]
    for model in done:
        lines.append(f"- {model.arn}: {'deleted' if model.deleted else 'already gone'}")
        lines.extend(f"  deleted what served it first: {server}" for server in model.deleted_servers)
    lines.append(f"Report: s3://{settings.bucket_name}/{key}")
    return RetireOutput(
        run_id=run,
        models=done,
        report_uri=f"s3://{settings.bucket_name}/{key}",
        subject=f"bedrock-finetune RETIRED: {run or _model_id(target)}"[:100],
        message="\n".join(lines),
    )


def _models_of(target: str, settings: StackSettings) -> tuple[str | None, list[str]]:
    """The run (None for a model ARN) and the custom models to retire."""
    if target.startswith("arn:") and CUSTOM_MODEL_MARKER in target:
        return None, [target]
    if target.startswith("arn:"):
        raise ConfigInvalid(f"retire: {target} is not a custom model ARN (…:custom-model/…) nor a run id")
    text = aws.get_text(settings.bucket_name, naming.report_key(target, "report.json"))
    if text is None:
        raise ConfigInvalid(f"retire: run {target} has no report in s3://{settings.bucket_name}/reports/{target}/")
    report: dict[str, Any] = json.loads(text)
    arns = [str((report.get("model") or {}).get("arn") or "")]
    arns += [str(arn) for arn in (report.get("sweep") or {}).get("keptModels") or []]
    arns = [arn for arn in dict.fromkeys(arns) if arn]
    if not arns:
        raise ConfigInvalid(f"retire: run {target} has no custom model (its report names none)")
    return target, arns


class _Served:
    def __init__(self, arn: str, kept: bool, servers: list[tuple[DeploymentKind, str, bool]]) -> None:
        self.arn, self.kept, self.servers = arn, kept, servers

    @property
    def kept_servers(self) -> list[tuple[str, str, bool]]:
        return [(deployments.KIND_NAMES[kind], arn, is_kept) for kind, arn, is_kept in self.servers]


def _serving(arn: str, settings: StackSettings) -> _Served:
    """The model, whether it is kept, and what serves it; a model of another stack is refused."""
    tags = aws.bedrock_tags(arn)
    if tags is None:
        return _Served(arn, False, [])
    if not naming.belongs_to_stack(tags, settings.stack_name):
        raise RetireRefused(
            f"{arn} was not created by stack {settings.stack_name} (its tags say otherwise): not retired"
        )
    bedrock = aws.client("bedrock")
    servers: list[tuple[DeploymentKind, str, bool]] = []
    with aws.transient_errors():
        for page in bedrock.get_paginator("list_provisioned_model_throughputs").paginate(modelArnEquals=arn):
            for item in page.get("provisionedModelSummaries", []):
                server = str(item["provisionedModelArn"])
                servers.append(("provisioned", server, naming.kept_now(aws.bedrock_tags(server) or {}, clock.now())))
        for page in bedrock.get_paginator("list_custom_model_deployments").paginate(modelArnEquals=arn):
            for item in page.get("modelDeploymentSummaries", []):
                server = str(item["customModelDeploymentArn"])
                servers.append(("on-demand", server, naming.kept_now(aws.bedrock_tags(server) or {}, clock.now())))
    return _Served(arn, naming.is_kept(tags), servers)


def _retire_one(model: _Served) -> RetiredModel:
    deleted_servers = [
        f"{deployments.KIND_NAMES[kind]} {arn}" for kind, arn, _ in model.servers if deployments.delete(kind, arn)
    ]
    deleted = training.delete_custom_model(model.arn)
    return RetiredModel(arn=model.arn, deleted=deleted, deleted_servers=deleted_servers)


def _model_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1][:64]
