"""The parsers of the stack commands. Nothing here imports boto3: each command's module is imported when it runs."""

from __future__ import annotations

import argparse
from typing import Any

STACK_HELP = "Uses boto3's default credentials; AWS_ENDPOINT_URL points it at another endpoint (e.g. a local AWS)."


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    stack = argparse.ArgumentParser(add_help=False)
    where = stack.add_argument_group("stack")
    where.add_argument("--stack", metavar="NAME", help="the stack's name (default: stack_name in samconfig.toml)")
    where.add_argument("--region", help="its Region (default: AWS_REGION / the profile's, else samconfig.toml's)")
    where.add_argument("--profile", help="an AWS profile (default: AWS_PROFILE or the default chain)")
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument(
        "--wait", action="store_true", help="follow the execution to its end; exit 0 if it succeeded, 1 if not"
    )
    wait.add_argument("--json", action="store_true", help="print exactly one JSON object")
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", metavar="JSON", help="run configuration: a JSON object, inline or a file")
    config.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a (dotted) field of the configuration, e.g. deployment.mode=none, hyperParameters.epochCount=3; "
        "VALUE is JSON when it parses, else a string; repeatable",
    )
    dataset = argparse.ArgumentParser(add_help=False)
    dataset.add_argument("file", metavar="FILE.jsonl", help="training dataset")
    dataset.add_argument("--validation", metavar="FILE.jsonl", help="validation dataset, uploaded under uploads/")

    submit = subparsers.add_parser(
        "submit",
        parents=[dataset, config, wait, stack],
        help="validate a dataset, then drop it into the stack's inbox",
        description="Validate FILE against the run's base model (the configuration's baseModelId, else the stack's "
        "BaseModelId) and, if it is valid, upload it to inbox/<file name> with the configuration as its "
        "finetune-config metadata; print the run id and a console link. An invalid file is refused (exit 1) and "
        f"nothing is uploaded. {STACK_HELP}",
    )
    submit.set_defaults(func=_submit)

    sweep = subparsers.add_parser(
        "sweep",
        parents=[dataset, config, wait, stack],
        help="submit a dataset as a sweep, one hyperparameter at a time",
        description="Like submit, with a sweep configuration: each --vary is a stage; stage 2 varies its parameter "
        "with stage 1's best value fixed, and so on. Only the winner is deployed.",
    )
    sweep.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PARAMETER=V1,V2,...",
        help="a stage: e.g. learningRate=1e-6,1e-5,1e-4; repeatable, in order",
    )
    sweep.add_argument("--keep-all", action="store_true", help="keep the losing variants' custom models")
    sweep.set_defaults(func=_sweep)

    retrain = subparsers.add_parser(
        "retrain",
        parents=[config, wait, stack],
        help="train again from an earlier run's data without some records",
        description='Start the fine-tune state machine with {"retrainFrom", "excludeRecords", "swapDeployment"}.',
    )
    retrain.add_argument("run", metavar="RUN", help="the earlier run's id")
    excluded = retrain.add_mutually_exclusive_group(required=True)
    excluded.add_argument("--exclude-lines", metavar="N,N,...", help="1-based lines of the original training file")
    excluded.add_argument("--exclude-sha256", metavar="H,H,...", help="sha256 of the records' lines")
    retrain.add_argument(
        "--swap-deployment", action="store_true", help="move the earlier run's kept deployment to the new model"
    )
    retrain.set_defaults(func=_retrain)

    retire = subparsers.add_parser(
        "retire",
        parents=[wait, stack],
        help="delete a model and what serves it",
        description='Start the retire state machine with {"retire": RUN_OR_MODEL_ARN, "force": ...}.',
    )
    retire.add_argument("target", metavar="RUN_OR_MODEL_ARN")
    retire.add_argument("--force", action="store_true", help="retire even what is tagged keep=true")
    retire.set_defaults(func=_retire)

    keep = subparsers.add_parser(
        "keep",
        parents=[stack],
        help="how long a run's kept provisioned throughput stays (renew its deadline)",
        description="A run that keeps its provisioned throughput with budget.maxDeploymentHours tags it keep-until; "
        "the reconciler deletes it once that time has passed. Move the time (--hours, --until) or keep it for good "
        "(--forever: tagged keep=true). Only this stack's throughput is touched.",
    )
    keep.add_argument("target", metavar="RUN_OR_THROUGHPUT_ARN")
    until = keep.add_mutually_exclusive_group(required=True)
    until.add_argument("--hours", type=float, metavar="H", help="keep it H hours from now")
    until.add_argument("--until", metavar="TIME", help="keep it until TIME, UTC: 2026-12-31T18:00:00Z")
    until.add_argument("--forever", action="store_true", help="keep it until deleted by hand (keep=true)")
    keep.add_argument("--json", action="store_true", help="print exactly one JSON object")
    keep.set_defaults(func=_keep)

    runs = subparsers.add_parser(
        "runs", parents=[stack], help="recent runs of the stack", description="The stack's recent executions."
    )
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="at most N runs, newest first (default 20)")
    runs.add_argument("--json", action="store_true", help="print exactly one JSON object")
    runs.set_defaults(func=_runs)

    status = subparsers.add_parser(
        "status",
        parents=[stack],
        help="one run: status, current state, timeline, report",
        description="Exit 0 if the run succeeded or is running, 1 if it failed.",
    )
    status.add_argument("run", metavar="RUN", help="a run id (the execution name) or an execution ARN")
    status.add_argument("--json", action="store_true", help="print exactly one JSON object")
    status.set_defaults(func=_status)

    report = subparsers.add_parser(
        "report",
        parents=[stack],
        help="a run's report.json (or report.html)",
        description="Print reports/RUN/report.json.",
    )
    report.add_argument("run", metavar="RUN")
    html = report.add_mutually_exclusive_group()
    html.add_argument("--html", metavar="FILE", help="download reports/RUN/report.html to FILE")
    html.add_argument("--open", action="store_true", help="open reports/RUN/report.html in a browser")
    report.set_defaults(func=_report)


def _submit(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import submit  # noqa: PLC0415 - imports boto3

    return submit.submit_command(args)


def _sweep(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import submit  # noqa: PLC0415

    return submit.sweep_command(args)


def _retrain(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import start  # noqa: PLC0415

    return start.retrain_command(args)


def _retire(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import start  # noqa: PLC0415

    return start.retire_command(args)


def _keep(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import keep  # noqa: PLC0415

    return keep.keep_command(args)


def _runs(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import runs  # noqa: PLC0415

    return runs.runs_command(args)


def _status(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import runs  # noqa: PLC0415

    return runs.status_command(args)


def _report(args: argparse.Namespace) -> int:
    from bedrock_finetune_cli.stack import runs  # noqa: PLC0415

    return runs.report_command(args)
