"""``bedrock-finetune local run`` and ``bedrock-finetune demo``: the real workflow on local AWS.

Registering these subcommands must stay cheap: ``bedrock-finetune --help``, ``validate`` and ``models`` build the
same parser. The local AWS (moto, the runner, the emulated Bedrock: about 3 s and 180 MB to import) is therefore
imported inside the command functions, only when a ``local run`` or ``demo`` actually runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bedrock_finetune_cli.common import UsageError

if TYPE_CHECKING:
    from bedrock_finetune_local import runner

GREEN, RED, YELLOW, DIM, BOLD, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m", "\033[0m"


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="run the workflow on local AWS (moto), no account needed")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    run = local_commands.add_parser(
        "run",
        help="deploy template.yaml locally, drop a dataset and run the real state machine",
        description="Runs statemachine/finetune.asl.json with the real handlers against moto, with Bedrock "
        "emulated. Several --dataset files are dropped in order into one local account; the command returns when "
        "every execution has ended, after the reconciler's schedule has fired once. Exit 0 if every run succeeded, "
        "1 otherwise, 2 on usage errors.",
    )
    run.add_argument(
        "--dataset",
        required=True,
        type=Path,
        action="append",
        help="a .jsonl file to drop (or start, with --via console); repeatable, dropped in order",
    )
    run.add_argument("--config", type=Path, help="JSON file with console input fields (except datasetUri)")
    run.add_argument("--via", choices=["inbox", "console"], default="inbox")
    run.add_argument("--key", help="S3 key to upload to (default inbox/<file name>, or uploads/<file name>)")
    run.add_argument("--job-outcome", choices=["Completed", "Failed", "Stopped"], default="Completed")
    run.add_argument("--deploy-outcome", choices=["InService", "Failed"], default="InService")
    run.add_argument(
        "--deliveries",
        type=_positive,
        default=1,
        metavar="N",
        help="EventBridge delivers every inbox event N times (at-least-once delivery; default 1)",
    )
    run.add_argument(
        "--job-quota",
        type=_positive,
        default=None,
        metavar="N",
        help="the local Bedrock's quota of concurrent customization jobs (default 2)",
    )
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SERVICE:Operation=ErrorCode[*N]",
        help="make an AWS operation answer an error code (first N calls, or all); repeatable",
    )
    run.add_argument(
        "--then",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="after the executions above ended, start the execution FILE describes in the same local account: "
        '{"stateMachine": "<logical id in template.yaml>", "input": {...}}, where {{run.N.runId}}, '
        "{{run.N.modelArn}} and {{run.N.deploymentArn}} name earlier executions (0-based); repeatable, in order",
    )
    run.add_argument(
        "--job-duration",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="simulated duration of each training job, e.g. 4h, 90m, 3600s (default: the local Bedrock's formula "
        "from the training data's size, the epochs and the model)",
    )
    run.add_argument(
        "--drop-events",
        action="store_true",
        help="the local Bedrock publishes no job state change events (Bedrock delivers them best effort): the "
        "workflow finds the job's end with its fallback check (stack parameter JobEventFallbackSeconds)",
    )
    run.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a stack parameter of template.yaml for the local deploy, e.g. JobEventFallbackSeconds=3600; repeatable",
    )
    run.add_argument("--json", action="store_true", help="print exactly one JSON object")
    run.set_defaults(func=_run_command)

    serve = local_commands.add_parser(
        "serve",
        help="the local AWS as an HTTP endpoint (stack deployed from template.yaml) for the stack commands and boto3",
        description="Deploys template.yaml into a local account under samconfig.toml's stack name and serves it on "
        "127.0.0.1 (moto's server mode, with the real handlers, the local Bedrock and IAM for the workflow's own "
        "principals). Prints AWS_ENDPOINT_URL=... when ready; Ctrl-C stops it and removes everything.",
    )
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    serve.set_defaults(func=_serve_command)

    demo = subparsers.add_parser("demo", help="a successful run and a failing run of the sample datasets")
    demo.set_defaults(func=_demo_command)


def _serve_command(args: argparse.Namespace) -> int:
    from bedrock_finetune_local import serve  # noqa: PLC0415 - imports moto: only when serving

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a TCP port")
    try:
        serve.serve(args.port, lambda line: print(line, flush=True))
    except OSError as exc:
        raise UsageError(f"--port {args.port}: {exc.strerror or exc}") from exc
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def _load_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--config {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UsageError(f"--config {path}: must hold a JSON object")
    if "datasetUri" in value:
        raise UsageError(f"--config {path}: datasetUri comes from --dataset, remove it")
    return value


def _load_then(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--then {path}: {exc}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("input", {}), dict):
        raise UsageError(f'--then {path}: must hold {{"stateMachine": "<logical id>", "input": {{...}}}}')
    unknown = set(value) - {"stateMachine", "input"}
    if unknown:
        raise UsageError(f"--then {path}: unknown field(s) {', '.join(sorted(unknown))}")
    return value


def _colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _paint(text: str, code: str, on: bool) -> str:
    return f"{code}{text}{RESET}" if on else text


def print_state(line: runner.StateLine, stream: TextIO | None = None, prefix: str = "") -> None:
    stream = stream or sys.stdout
    on = _colour(stream)
    if line.outcome == "ok":
        mark = _paint("ok    ", GREEN, on)
    elif line.outcome.startswith("retried"):
        mark = _paint("retry ", YELLOW, on)
    else:
        mark = _paint("caught", RED, on)
    label = f"{line.outcome}: " if line.outcome.startswith("retried") else ""
    detail = f"  {_paint(label + line.detail, DIM, on)}" if line.detail else ""
    print(f"  {prefix}{mark} {line.name:<26} {line.seconds:6.2f}s{detail}", file=stream, flush=True)


def _hours(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def print_summary(result: runner.RunResult, stream: TextIO | None = None, *, last: bool = True) -> None:
    from bedrock_finetune.logic.reporting import readable_cause  # noqa: PLC0415 - keeps the parser light

    stream = stream or sys.stdout
    on = _colour(stream)
    verdict = _paint(result.status, GREEN if result.status == "SUCCEEDED" else RED, on)
    print(f"\n  Result: {_paint(verdict, BOLD, on)} in {result.seconds:.1f}s", file=stream)
    measured = result.clock
    if measured is not None and measured.simulated_seconds is not None:
        heard = (
            f"; the job's end acted on {measured.detection_lag_seconds:.0f} s after it"
            if measured.detection_lag_seconds is not None
            else ""
        )
        print(
            f"  Simulated:      {_hours(measured.simulated_seconds)} on the local AWS's virtual clock, "
            f"{measured.transitions} state transitions{heard}",
            file=stream,
        )
    if result.error:
        print(f"  Error:  {result.error.get('error')}", file=stream)
        for line in str(readable_cause(result.error.get("cause")) or "").splitlines()[:8]:
            print(f"          {line}", file=stream)
    print(f"  Dataset now at: {result.dataset_uri}", file=stream)
    report = result.report or {}
    model = (report.get("model") or {}).get("arn")
    if model:
        print(f"  Custom model:   {model}", file=stream)
    metrics = report.get("metrics") or {}
    if metrics:
        print(
            f"  Losses:         training {metrics.get('trainingLoss')}, validation {metrics.get('validationLoss')}",
            file=stream,
        )
    smoke = report.get("smokeTest") or {}
    if smoke:
        print(
            f"  Smoke test:     {smoke.get('answered')}/{smoke.get('prompts')} answered, "
            f"median {smoke.get('medianLatencyMs')} ms",
            file=stream,
        )
    for action in (report.get("cleanup") or {}).get("actions", []):
        print(f"  Cleanup:        {action}", file=stream)
    left = {name: items for name, items in result.resources.items() if items and name != "custom_models"}
    if left:
        for name, items in left.items():
            print(f"  Still running:  {name}: {', '.join(item['arn'] for item in items)}", file=stream)
    else:
        print("  Still running:  nothing (no throughput, deployment or job left)", file=stream)
    for subject in result.notifications:
        print(f"  Notification:   {subject}", file=stream)
    if result.faults_fired:
        fired = ", ".join(f"{name} x{count}" for name, count in result.faults_fired.items())
        print(f"  Faults fired:   {fired}", file=stream)
    if last:
        print(f"  Lambda logs:    {result.log_file}", file=stream)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    """``4h``, ``90m``, ``3600s`` or ``3600`` → seconds (positive, at most 30 days)."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 4h, 90m or 3600s")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 0 < seconds <= 30 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: a job's duration must be more than 0 and at most 30 days")
    return seconds


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--parameter {pair!r}: expected NAME=VALUE")
        parameters[name.strip()] = value
    return parameters


def _run_command(args: argparse.Namespace) -> int:
    from bedrock_finetune_local import runner  # noqa: PLC0415 - imports moto: only when a local run starts
    from bedrock_finetune_local.aws.faults import Fault  # noqa: PLC0415

    datasets: list[Path] = list(args.dataset)
    for dataset in datasets:
        if not dataset.is_file():
            raise UsageError(f"--dataset {dataset}: no such file")
    if args.key and len(datasets) > 1:
        raise UsageError("--key names one object: it cannot be used with several --dataset files")
    for text in args.fault:
        try:
            Fault.parse(text)
        except ValueError as exc:
            raise UsageError(f"--fault {text}: {exc}") from exc
    options = runner.RunOptions(
        dataset=datasets[0],
        extra_datasets=datasets[1:],
        config=_load_config(args.config),
        via=args.via,
        key=args.key,
        job_outcome=args.job_outcome,
        deploy_outcome=args.deploy_outcome,
        faults=list(args.fault),
        deliveries=args.deliveries,
        job_quota=args.job_quota,
        then=[_load_then(path) for path in args.then],
        job_duration_seconds=args.job_duration,
        drop_events=args.drop_events,
        stack_parameters=_parameters(args.parameter),
    )
    several = len(datasets) > 1
    try:
        if args.json:
            result = runner.run_many(options)
            if options.then:
                full = result.to_json()
                print(json.dumps({key: full[key] for key in ("status", "runs", "resources")}, default=str))
            else:
                print(json.dumps(result.to_json() if several else result.runs[0].to_json(), default=str))
        else:
            names = ", ".join(str(dataset) for dataset in datasets)
            print(f"Local run of {names} via {args.via} (real state machine, real handlers, moto):")
            labels = [str(dataset) for dataset in datasets] + [
                f"{step.get('stateMachine') or 'FineTuneStateMachine'} ({path.name})"
                for step, path in zip(options.then, args.then, strict=True)
            ]
            result = runner.run_many(options, on_state=_state_printer(labels))
            print_many(result, labels)
    except runner.ChainError as exc:
        raise UsageError(str(exc)) from exc
    return 0 if result.status == "SUCCEEDED" else 1


def _state_printer(datasets: list[Path] | list[str]) -> Any:
    """One line per state; with several datasets each line says which run it belongs to."""

    def on_state(index: int, line: runner.StateLine) -> None:
        print_state(line, prefix=f"[{index + 1}] " if len(datasets) > 1 else "")

    return on_state


def print_many(result: runner.MultiRunResult, datasets: list[Path] | list[str], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for index, run in enumerate(result.runs):
        if len(result.runs) > 1:
            print(f"\n  [{index + 1}] {datasets[index]}", file=stream, end="")
        print_summary(run, stream, last=index == len(result.runs) - 1)
    print_reconciler(result, stream)


def print_reconciler(result: runner.MultiRunResult, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    print(f"  Executions:     {result.executions_started} started", file=stream)
    print(f"  Jobs at once:   at most {result.max_concurrent_jobs}", file=stream)
    refresh = result.price_refresh
    if refresh is not None:
        if refresh.get("error"):
            print(f"  Price List:     FAILED {refresh.get('error')}: prices from the table", file=stream)
        else:
            fallbacks = refresh.get("fallbacks") or {}
            table_only = refresh.get("notInPriceList") or []
            print(
                f"  Price List:     {len(refresh.get('refreshed') or [])} models priced from the (local) Price List, "
                f"{len(fallbacks)} fell back to the table, {len(table_only)} priced by the table alone",
                file=stream,
            )
    sweep = result.reconciler
    if sweep is None:
        return
    if sweep.get("error"):
        print(f"  Reconciler:     FAILED {sweep.get('error')}: {sweep.get('cause')}", file=stream)
        return
    acted = sweep.get("acted") or []
    if not acted:
        print(f"  Reconciler:     nothing to do ({sweep.get('examined', 0)} resources examined)", file=stream)
    for item in acted:
        print(f"  Reconciler:     {item.get('action')} {item.get('kind')} {item.get('arn')}", file=stream)
    for problem in sweep.get("problems") or []:
        print(f"  Reconciler:     problem: {problem}", file=stream)


def _demo_command(args: argparse.Namespace) -> int:
    from bedrock_finetune_local import runner  # noqa: PLC0415 - imports moto: only when the demo starts

    root = Path(__file__).resolve().parents[2]
    datasets = root / "events" / "datasets"
    scenarios = [
        (
            "1. A valid dataset dropped into inbox/: validate, stage, train, deploy, smoke-test, release",
            runner.RunOptions(dataset=datasets / "support-chat.jsonl"),
            "SUCCEEDED",
        ),
        (
            "2. An invalid dataset dropped into inbox/: rejected before any job, quarantined with its report",
            runner.RunOptions(dataset=datasets / "support-chat-broken.jsonl"),
            "FAILED",
        ),
        (
            "3. A valid dataset whose training job fails: nothing left running, dataset in failed/",
            runner.RunOptions(
                dataset=datasets / "support-chat.jsonl", key="inbox/support-chat-2.jsonl", job_outcome="Failed"
            ),
            "FAILED",
        ),
    ]
    as_expected = True
    page: Path | None = None  # the HTML report of the successful run (a copy in its artifacts folder)
    for title, options, expected in scenarios:
        print(f"\n{title}")
        result = runner.run(options, on_state=print_state)
        print_summary(result)
        as_expected &= result.status == expected
        if page is None and result.status == "SUCCEEDED" and result.artifacts_dir:
            page = Path(result.artifacts_dir) / "report.html"
    as_expected &= _demo_duplicates_and_queue(datasets / "support-chat.jsonl")
    as_expected &= _demo_iterate(datasets / "support-chat.jsonl")
    print("\nDemo finished: every scenario ended as expected." if as_expected else "\nDemo: UNEXPECTED outcome.")
    if page is not None and page.exists():
        print(f"Open the report of the successful run: {page.as_uri()}")
    return 0 if as_expected else 1


def _demo_duplicates_and_queue(sample: Path) -> bool:
    """Two different datasets dropped at once with a job quota of 1 and every inbox event delivered twice: one
    execution per drop, and the second run waits for the first one's job slot."""
    from bedrock_finetune_local import runner  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="bedrock-finetune-demo-"))
    first, second = folder / "support-chat-a.jsonl", folder / "support-chat-b.jsonl"
    lines = sample.read_bytes().splitlines(keepends=True)
    first.write_bytes(b"".join(lines))
    second.write_bytes(b"".join(lines[1:]))  # other content: a run of its own, not a duplicate of the first
    print(
        "\n4. Two datasets dropped at once, each inbox event delivered twice, a quota of 1 training job: the duplicate"
        " deliveries start nothing new, and the second run waits for the first one's job slot"
    )
    # Both runs reach their job request at the same simulated moment; the only slot goes to the first drop.
    options = runner.RunOptions(dataset=first, extra_datasets=[second], deliveries=2, job_quota=1)
    result = runner.run_many(options, on_state=_state_printer([first, second]))
    print_many(result, [first, second])
    queued = [line for run in result.runs for line in run.timeline if line.name.startswith("WaitForTraining")]
    print(
        f"  Duplicates:     {options.deliveries} deliveries of each of {len(result.runs)} drops started "
        f"{result.executions_started} execution(s)"
    )
    print(f"  Queued:         {len(queued)} wait(s) for a free job slot")
    return result.status == "SUCCEEDED" and result.executions_started == len(result.runs)


def _demo_iterate(sample: Path) -> bool:
    """The how-to's loop: a two-stage sweep keeps the best of each hyperparameter and deploys only the winner; a
    retrain without three records moves the kept deployment to the new model in place; the old model is retired."""
    from bedrock_finetune.logic.reporting import sweep_lines  # noqa: PLC0415
    from bedrock_finetune_local import runner  # noqa: PLC0415

    print(
        "\n5. Iterate: a two-stage sweep (learning rate, then epochs) deploys only the best variant; a retrain without"
        " records 2, 5 and 7 moves that deployment to the new model in place; the old model is retired"
    )
    sweep = {
        "vary": [
            {"parameter": "learningRate", "values": [1e-6, 1e-5, 1e-4]},
            {"parameter": "epochCount", "values": [1, 3, 5]},
        ]
    }
    then: list[dict[str, Any]] = [
        {"input": {"retrainFrom": "{{run.0.runId}}", "excludeRecords": {"lines": [2, 5, 7]}, "swapDeployment": True}},
        {"stateMachine": "RetireStateMachine", "input": {"retire": "{{run.0.modelArn}}"}},
    ]
    options = runner.RunOptions(
        dataset=sample,
        key="inbox/support-chat-sweep.jsonl",
        config={"sweep": sweep, "deployment": {"mode": "on-demand", "keep": True}},
        then=then,
    )
    labels = ["sweep", "retrain", "retire"]
    result = runner.run_many(options, on_state=_state_printer(labels))
    swept, retrained, retired = result.runs
    for line in sweep_lines((swept.report or {}).get("sweep") or {}):
        print(f"  {line}")
    deployment = ((swept.report or {}).get("deployment") or {}).get("arn")
    retrain = (retrained.report or {}).get("retrain") or {}
    swap = retrain.get("swap") or {}
    print(f"  Kept deployment: {deployment}")
    print(
        f"  Retrain:         {retrained.status}, {retrain.get('recordsBefore')} → {retrain.get('recordsAfter')} "
        f"records; deployment {swap.get('status')}: now serves {swap.get('toModelArn')}"
    )
    for model in (retired.report or {}).get("models") or []:
        print(f"  Retired:         {model.get('arn')} ({'deleted' if model.get('deleted') else 'already gone'})")
    if retired.status != "SUCCEEDED":
        print(f"  Retire:          {retired.status} {retired.error}")
    served = [item.get("modelArn") for item in result.resources.get("custom_model_deployments", [])]
    print(f"  Still deployed:  {served}")
    return result.status == "SUCCEEDED" and swap.get("status") == "Swapped" and served == [swap.get("toModelArn")]
