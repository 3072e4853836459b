"""The run report as one self-contained HTML page, ``reports/<run>/report.html``, next to ``report.json``.

The step that writes ``report.json`` (Finalize, Cleanup, and through Cleanup the recovery path) writes the page right
after it, best effort, in two calls:

* :func:`prepare` reads what the page draws (the job's metric CSVs, ``validation.json`` for the token histogram,
  ``smoke-test.json`` for the answers, the execution's history for the timeline) before ``report.json`` is written;
  an input that cannot be read leaves its section out and is named with its error code in the report's
  ``htmlReport.missing`` (so the notification says so too). It never raises.
* :func:`publish` renders and writes the page after ``report.json`` was written; any error is logged with its code
  and nothing else happens. It never raises.

The page needs no network: inline CSS and inline SVG, no script, no external resource, and a Content-Security-Policy
that forbids scripts and every fetch. Every string that comes from the dataset or the model (smoke-test prompts and
answers, validation messages, error causes, names, keys) goes through Jinja2's autoescape; the charts are SVG
polylines and rectangles whose coordinates are computed here from numbers only. Logs carry codes and counts only.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.errors import TransientAwsError
from bedrock_finetune.models import LeftoverKind

HTML_NAME = "report.html"
TEMPLATE = "report.html.j2"
#: The smoke test's answers next to report.json (``smoke_test.RESULTS_NAME``; not imported: it loads the catalog).
SMOKE_RESULTS = "smoke-test.json"
#: GetExecutionHistory pages read at most (1,000 events each): a long run's polling loops stay bounded.
MAX_HISTORY_PAGES = 10
HISTORY_PAGE_SIZE = 1000
#: States merged into one timeline row when they repeat within this many rows (PollJob ⟲ WaitForJob loops).
LOOP_LENGTH = 3
MAX_SMOKE_RESULTS = 50
MAX_TEXT_CHARS = 4000
MAX_VALIDATION_ERRORS = 100
CHART_WIDTH, CHART_HEIGHT = 640, 260
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 60, 16, 14, 36
_FAILED_EVENTS = frozenset(
    {"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut", "MapRunFailed", "MapStateFailed"}
)
_SCHEDULED_EVENTS = frozenset({"LambdaFunctionScheduled", "TaskScheduled"})
_ENDED_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut", "ExecutionSucceeded"})


def _logger() -> Logger:
    """The handlers' logger: it carries the run's ids and, in local runs, writes to the run's log file."""
    from bedrock_finetune.handlers._step import logger  # noqa: PLC0415 - read when logging, never at import

    return logger


def html_key(run: str) -> str:
    return naming.report_key(run, HTML_NAME)


@dataclass
class Inputs:
    """What the page draws besides report.json; None where it was not there or could not be read."""

    training_csv: str | None = None
    validation_csv: str | None = None
    validation: dict[str, Any] | None = None
    smoke: dict[str, Any] | None = None
    history: list[dict[str, Any]] | None = None
    missing: list[str] = field(default_factory=list)


# --- reading the inputs -----------------------------------------------------------------------------------------------
def prepare(bucket: str, run: str, report: dict[str, Any]) -> Inputs:
    """Read the page's inputs and add ``htmlReport`` (the page's URI, and what could not be read) to ``report``.
    Never raises: the page is best effort."""
    inputs = Inputs()
    try:
        _gather(bucket, run, report, inputs)
    except Exception as exc:  # anything at all: the report must still be written
        inputs.missing.append(f"inputs: {error_code(exc)}")
    section: dict[str, Any] = {"uri": f"s3://{bucket}/{html_key(run)}"}
    if inputs.missing:
        section["missing"] = list(inputs.missing)
    report["htmlReport"] = section
    return inputs


def _gather(bucket: str, run: str, report: dict[str, Any], inputs: Inputs) -> None:
    metrics = report.get("metrics") or {}
    training_key = (metrics.get("trainingCsv") or {}).get("key")
    validation_key = (metrics.get("validationCsv") or {}).get("key")
    if training_key:
        inputs.training_csv = _read(bucket, str(training_key), "training metrics", inputs)
    if validation_key:
        inputs.validation_csv = _read(bucket, str(validation_key), "validation metrics", inputs)
    if report.get("validation"):
        text = _read(bucket, naming.report_key(run, naming.VALIDATION_REPORT), "validation report", inputs)
        inputs.validation = aws.json_object(text)
    smoke = report.get("smokeTest") or {}
    # A run that failed may have written answers before its smoke test failed (Cleanup may list reports/: a missing
    # object answers 404). Finalize reads them only when the smoke test ran.
    if (smoke and not smoke.get("skippedReason")) or report.get("outcome") == "FAILED":
        inputs.smoke = aws.json_object(_read(bucket, naming.report_key(run, SMOKE_RESULTS), "smoke test", inputs))
    execution_arn = report.get("executionArn")
    if isinstance(execution_arn, str) and execution_arn:
        inputs.history = _history(execution_arn, inputs)


def _read(bucket: str, key: str, what: str, inputs: Inputs) -> str | None:
    """The object's text; None when it does not exist (not a problem) or cannot be read (named in ``missing``)."""
    try:
        with aws.transient_errors():
            body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        return str(body.read().decode("utf-8", errors="replace"))
    except ClientError as exc:
        if aws.is_not_found(exc):
            return None
        inputs.missing.append(f"{what}: {error_code(exc)}")
    except (TransientAwsError, BotoCoreError) as exc:
        inputs.missing.append(f"{what}: {error_code(exc)}")
    return None


def _history(execution_arn: str, inputs: Inputs) -> list[dict[str, Any]] | None:
    """The execution's events in order (without their input and output data), at most ``MAX_HISTORY_PAGES`` pages."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": HISTORY_PAGE_SIZE,
        "includeExecutionData": False,
    }
    try:
        for _ in range(MAX_HISTORY_PAGES):
            with aws.transient_errors():
                page = aws.client("stepfunctions").get_execution_history(**kwargs)
            events.extend(page.get("events") or [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except (ClientError, TransientAwsError, BotoCoreError) as exc:
        inputs.missing.append(f"execution history: {error_code(exc)}")
        return None
    return events


def error_code(exc: BaseException) -> str:
    """The AWS error code (or HTTP status) of an error, else its class name: never a message, which may quote data."""
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    if isinstance(cause, ClientError):
        return aws.error_code(cause) or str(aws.http_status(cause) or type(cause).__name__)
    return type(exc).__name__


# --- writing the page -------------------------------------------------------------------------------------------------
def publish(bucket: str, run: str, report: dict[str, Any], inputs: Inputs) -> bool:
    """Render and write the page; False (logged with the error's code) when it could not be. Never raises."""
    try:
        page = render(report, inputs)
        with aws.transient_errors():
            aws.client("s3").put_object(
                Bucket=bucket, Key=html_key(run), Body=page.encode("utf-8"), ContentType="text/html; charset=utf-8"
            )
    except Exception as exc:  # anything at all: the page is best effort
        _logger().error("html report not written", extra={"error": error_code(exc), "missing": inputs.missing})
        return False
    if inputs.missing:
        _logger().warning("html report written without some sections", extra={"missing": inputs.missing})
    return True


@functools.cache
def _environment() -> Any:
    # Imported here: only the steps that write a report pay for Jinja2 at cold start.
    import jinja2  # noqa: PLC0415

    return jinja2.Environment(
        loader=jinja2.PackageLoader("bedrock_finetune", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(report: dict[str, Any], inputs: Inputs) -> str:
    """The page as text (every dataset- or model-derived string escaped by the template's autoescape)."""
    return str(_environment().get_template(TEMPLATE).render(view(report, inputs)))


# --- the page's content -----------------------------------------------------------------------------------------------
def view(report: dict[str, Any], inputs: Inputs) -> dict[str, Any]:
    """Everything the template shows, as plain values (strings are escaped by the template, never here)."""
    outcome = str(report.get("outcome") or "UNKNOWN")
    dataset = report.get("dataset") or {}
    cleanup = report.get("cleanup") or {}
    error = report.get("error") or {}
    validation = report.get("validation") or {}
    training = parse_curve(inputs.training_csv, "training_loss")
    validation_curve = parse_curve(inputs.validation_csv, "validation_loss")
    return {
        "outcome": outcome,
        "succeeded": outcome == "SUCCEEDED",
        "title": f"bedrock-finetune {outcome}: {report.get('runId') or 'run'}",
        "heading": f"Run {report.get('runId') or 'unknown'}",
        "facts": _facts(report),
        "next_steps": next_steps(report),
        "kept": _kept_deployment(report),
        "error": {"name": error.get("error"), "cause": error.get("cause")} if error else None,
        "late_error": (report.get("lateError") or {}).get("error"),
        "dataset_at": dataset.get("finalUri") or dataset.get("note"),
        "leftovers": [_leftover(item) for item in cleanup.get("leftovers") or []],
        "problems": [str(item) for item in cleanup.get("problems") or []],
        "actions": [str(item) for item in cleanup.get("actions") or []],
        "cleanup_error": cleanup.get("error"),
        "validation_errors": [_issue(item) for item in (validation.get("errors") or [])[:MAX_VALIDATION_ERRORS]],
        "validation_error_counts": sorted((validation.get("errorCounts") or {}).items()),
        "timeline": timeline(inputs.history) if inputs.history is not None else None,
        "losses": loss_chart(training, validation_curve),
        "final_losses": _final_losses(report),
        "histogram": token_histogram(inputs.validation),
        "token_stats": _token_stats(inputs.validation),
        "smoke": _smoke(report.get("smokeTest") or {}, inputs.smoke),
        "sweep": _sweep(report.get("sweep") or {}),
        "missing": list(inputs.missing),
        "generated_at": clock.now().strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _facts(report: dict[str, Any]) -> list[tuple[str, Any]]:
    dataset = report.get("dataset") or {}
    model = report.get("model") or {}
    deployment = report.get("deployment") or {}
    facts = [
        ("Run", report.get("runId")),
        ("Execution", report.get("executionArn")),
        ("Started", report.get("startedAt")),
        ("Finished", report.get("finishedAt")),
        ("Dataset", dataset.get("source")),
        ("Dataset now at", dataset.get("finalUri") or dataset.get("note") or "not known"),
        ("Base model", report.get("baseModelId")),
        ("Customization", report.get("customizationType")),
        ("Hyperparameters", ", ".join(f"{k}={v}" for k, v in sorted((report.get("hyperParameters") or {}).items()))),
        ("Custom model", model.get("arn") or model.get("name")),
        ("Deployment", f"{deployment.get('mode')}: {deployment.get('arn')}" if deployment.get("arn") else None),
    ]
    queue = report.get("queue") or {}
    if queue.get("waitedSeconds"):
        facts.append(("Training queue", f"waited {queue['waitedSeconds']} s (position {queue.get('position')})"))
    return [(label, value) for label, value in facts if value not in (None, "")]


def next_steps(report: dict[str, Any]) -> list[str]:
    """What the person reading the report should do now, in order."""
    steps: list[str] = []
    dataset = report.get("dataset") or {}
    where = dataset.get("finalUri") or dataset.get("note") or "not known"
    duplicate = report.get("duplicate") or {}
    if report.get("outcome") == "SUCCEEDED" and duplicate:
        earlier = duplicate.get("model") or {}
        steps.append(
            f"Not trained again: run {duplicate.get('runId')} ({duplicate.get('status')}) trained the same content "
            f"with the same settings. Its model: {earlier.get('arn') or earlier.get('name')}."
        )
        steps.append('To train anyway, start again with "force": true in the run configuration.')
    elif report.get("outcome") == "SUCCEEDED":
        model = (report.get("model") or {}).get("arn")
        deployment = report.get("deployment") or {}
        steps.append(f"The custom model is ready: {model}." if model else "The run succeeded.")
        if deployment.get("kept") and deployment.get("arn"):
            steps.append(f"The deployment was kept and serves the model: {deployment['arn']} (see the warning below).")
        elif deployment.get("arn"):
            steps.append("The deployment used for the smoke test was deleted: deploy the model again to use it.")
        steps.append(f"The dataset is at {where}.")
    else:
        error = report.get("error") or {}
        steps.append(f"The run failed with {error.get('error') or 'an error'} (details below).")
        if error.get("error") == "DatasetInvalid":
            steps.append("Fix the dataset errors listed below, then drop the corrected file into inbox/ again.")
        steps.append(f"The dataset is kept, never deleted: it is at {where}.")
        leftovers = (report.get("cleanup") or {}).get("leftovers") or []
        if leftovers:
            steps.append(f"{len(leftovers)} resource(s) may still cost money: run the commands in the red box.")
        elif report.get("cleanup"):
            steps.append("Nothing of this run is left running.")
    return steps


def _kept_deployment(report: dict[str, Any]) -> dict[str, Any] | None:
    """A deployment the run kept: what it costs while it exists and the command that deletes it."""
    deployment = report.get("deployment") or {}
    if not (deployment.get("kept") and deployment.get("arn")):
        return None
    # outcome imports this module: its cost texts and commands are read when needed, not at import.
    from bedrock_finetune.logic.outcome import COSTS  # noqa: PLC0415
    from bedrock_finetune.logic.reporting import remove_command  # noqa: PLC0415

    kind: LeftoverKind = (
        "provisioned-throughput" if deployment.get("mode") == "provisioned" else "custom-model-deployment"
    )
    arn = str(deployment["arn"])
    return {
        "arn": arn,
        "mode": deployment.get("mode"),
        "cost": COSTS[kind],
        "command": remove_command(kind, arn),
        "keptUntil": deployment.get("keptUntil"),
        "usdPerHour": (report.get("cost") or {}).get("keptDeploymentUsdPerHour"),
    }


def _leftover(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"kind": None, "arn": str(item), "state": None, "cost": None, "reason": None, "command": None}
    return {key: item.get(key) for key in ("kind", "arn", "state", "cost", "reason", "command")}


def _issue(item: Any) -> dict[str, Any]:
    item = item if isinstance(item, dict) else {"message": str(item)}
    return {key: item.get(key) for key in ("file", "line", "code", "message", "path")}


def _token_stats(validation: dict[str, Any] | None) -> str:
    tokens = ((validation or {}).get("stats") or {}).get("tokens") or {}
    parts = [
        f"{label} {tokens[key]}" for label, key in (("median", "p50"), ("p95", "p95"), ("max", "max")) if key in tokens
    ]
    if not parts:
        return ""
    estimator = f" (estimated as {tokens['estimator']})" if tokens.get("estimator") else ""
    return f"{', '.join(parts)} tokens per record{estimator}."


def _final_losses(report: dict[str, Any]) -> dict[str, str]:
    metrics = report.get("metrics") or {}
    return {"training": _loss(metrics.get("trainingLoss")), "validation": _loss(metrics.get("validationLoss"))}


def _loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and math.isfinite(value) else "-"


def _smoke(summary: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not summary and not details:
        return None
    results = [item for item in (details or {}).get("results") or [] if isinstance(item, dict)]
    compared = any("baseAnswer" in item for item in results)
    line = ""
    if summary:
        line = f"{summary.get('answered')}/{summary.get('prompts')} prompt(s) answered"
        if summary.get("medianLatencyMs") is not None:
            line += f", median latency {summary['medianLatencyMs']} ms"
        if summary.get("baseModelAnswered") is not None:
            line += f"; the base model answered {summary['baseModelAnswered']}"
        if summary.get("skippedReason"):
            line += f" (skipped: {summary['skippedReason']})"
        line += "."
    return {
        "summary": line,
        "compared": compared,
        "results": [
            {
                "prompt": _clip(item.get("prompt")),
                "answer": _clip(item.get("answer")),
                "base_answer": _clip(item.get("baseAnswer")) if compared else None,
                "latency_ms": item.get("latencyMs"),
            }
            for item in results[:MAX_SMOKE_RESULTS]
        ],
        "more": max(0, len(results) - MAX_SMOKE_RESULTS),
    }


def _clip(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " …"


def _sweep(sweep: dict[str, Any]) -> dict[str, Any] | None:
    if not sweep:
        return None
    stages = []
    for number, stage in enumerate(sweep.get("stages") or [], start=1):
        variants = [
            {
                "value": variant.get("value"),
                "status": variant.get("status"),
                "training": _loss(variant.get("trainingLoss")),
                "validation": _loss(variant.get("validationLoss")),
                "best": variant.get("value") == stage.get("best"),
                "message": variant.get("message"),
            }
            for variant in stage.get("variants") or []
        ]
        stages.append({"number": number, "parameter": stage.get("parameter"), "variants": variants})
    winner = sweep.get("winner") or {}
    return {
        "loss_used": sweep.get("lossUsed") or "validation",
        "stages": stages,
        "winner": ", ".join(f"{k}={v}" for k, v in sorted((winner.get("hyperParameters") or {}).items())),
        "deleted": len(sweep.get("deletedModels") or []),
        "kept": len(sweep.get("keptModels") or []),
        "undeleted": [str(item) for item in sweep.get("undeletedModels") or []],
    }


# --- the timeline -----------------------------------------------------------------------------------------------------
def timeline(events: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per state (loops of up to ``LOOP_LENGTH`` states merged into their first rows, with a count): its
    start and time in the state, how it ended (ok, retried, caught with the error's name, running), and a bar."""
    rows: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    start = _time(events[0]) if events else None
    last = start
    for event in events:
        kind = str(event.get("type") or "")
        stamp = _time(event)
        last = stamp or last
        if kind.endswith("StateEntered"):
            name = str((event.get("stateEnteredEventDetails") or {}).get("name") or "?")
            current = {"name": name, "start": stamp, "end": None, "errors": [], "failed_last": False}
            rows.append(current)
        elif current is None:
            continue
        elif kind in _FAILED_EVENTS:
            details = next((value for key, value in event.items() if key.endswith("EventDetails")), None) or {}
            current["errors"].append(str(details.get("error") or kind))
            current["failed_last"] = True
        elif kind in _SCHEDULED_EVENTS:
            current["failed_last"] = False
        elif kind.endswith("StateExited") or kind in _ENDED_EVENTS:
            current["end"] = stamp
            current = None
    total = max(1e-9, (last - start).total_seconds()) if start and last else 1.0
    merged: list[dict[str, Any]] = []
    for row in rows:
        shown = _row(row, start, last)
        loop = next(
            (
                earlier
                for earlier in merged[-LOOP_LENGTH:]
                if earlier["name"] == shown["name"] and earlier["outcome"] == shown["outcome"] == "ok"
            ),
            None,
        )
        if loop is None:
            merged.append(shown)
        else:
            loop["count"] += 1
            loop["seconds"] += shown["seconds"]
            loop["until"] = shown["until"]
    for row in merged:
        row["left"] = f"{100 * row['offset'] / total:.2f}"
        row["width"] = f"{max(0.4, 100 * (row['until'] - row['offset']) / total):.2f}"
        row["duration"] = _duration(row["seconds"])
        row["at"] = _duration(row["offset"])
    return {"rows": merged, "states": len(rows), "total": _duration(total if start else 0.0)}


def _time(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("timestamp")
    if isinstance(stamp, datetime):
        return stamp
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            return None
    return None


def _row(row: dict[str, Any], start: datetime | None, last: datetime | None) -> dict[str, Any]:
    began, ended = row["start"] or start, row["end"]
    offset = (began - start).total_seconds() if began and start else 0.0
    end = ended or last
    seconds = max(0.0, (end - began).total_seconds()) if end and began else 0.0
    errors: list[str] = row["errors"]
    if ended is None:
        outcome, detail = "running", ""
    elif row["failed_last"]:
        retries = len(errors) - 1
        outcome, detail = "caught", errors[-1] + (f" (after {retries} retries)" if retries else "")
    elif errors:
        outcome, detail = "retried", f"{len(errors)}x: " + ", ".join(errors)
    else:
        outcome, detail = "ok", ""
    return {
        "name": row["name"],
        "outcome": outcome,
        "detail": detail,
        "offset": max(0.0, offset),
        "until": max(0.0, offset) + seconds,
        "seconds": seconds,
        "count": 1,
    }


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


# --- the charts -------------------------------------------------------------------------------------------------------
def parse_curve(text: str | None, column: str) -> list[tuple[float, float]]:
    """(step, loss) for each row of a metric CSV with a numeric loss: ``step_number`` when it never decreases, else
    the row's position (a CSV that restarts its steps per epoch)."""
    if not text:
        return []
    rows = list(csv.DictReader(io.StringIO(text)))
    values = [(_number(row.get("step_number")), _number(row.get(column))) for row in rows]
    points = [(step, loss) for step, loss in values if loss is not None]
    steps = [step for step, _ in points]
    known = [step for step in steps if step is not None]
    ordered = len(known) == len(steps) and all(a <= b for a, b in itertools.pairwise(known))
    return [
        (float(step) if ordered and step is not None else float(index), loss)
        for index, (step, loss) in enumerate(points)
    ]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    return [low + (high - low) * index / count for index in range(count + 1)]


def loss_chart(training: list[tuple[float, float]], validation: list[tuple[float, float]]) -> dict[str, Any] | None:
    """Both curves on one pair of axes: an SVG polyline per curve with one point per CSV row."""
    every = training + validation
    if not every:
        return None
    x_low, x_high = min(x for x, _ in every), max(x for x, _ in every)
    y_low, y_high = min(y for _, y in every), max(y for _, y in every)
    pad = (y_high - y_low) * 0.05 or abs(y_high) * 0.05 or 0.5
    y_low, y_high = y_low - pad, y_high + pad
    x_span = (x_high - x_low) or 1.0
    plot_w = CHART_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = CHART_HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM

    def x_of(x: float) -> float:
        return _MARGIN_LEFT + (x - x_low) / x_span * plot_w

    def y_of(y: float) -> float:
        return _MARGIN_TOP + (y_high - y) / (y_high - y_low) * plot_h

    series = [
        {
            "name": name,
            "points": " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in points),
            "count": len(points),
            "last": _loss(points[-1][1]),
        }
        for name, points in (("training", training), ("validation", validation))
        if points
    ]
    return {
        **_FRAME,
        "series": series,
        "y_ticks": [{"y": f"{y_of(value):.1f}", "label": f"{value:.3g}"} for value in _ticks(y_low, y_high)],
        "x_ticks": [{"x": f"{x_of(value):.1f}", "label": f"{value:.0f}"} for value in _ticks(x_low, x_high)],
    }


#: The plot area every chart shares (its SVG size and the margins around the plot).
_FRAME = {
    "width": CHART_WIDTH,
    "height": CHART_HEIGHT,
    "left": _MARGIN_LEFT,
    "right": CHART_WIDTH - _MARGIN_RIGHT,
    "top": _MARGIN_TOP,
    "bottom": CHART_HEIGHT - _MARGIN_BOTTOM,
}


def token_histogram(validation: dict[str, Any] | None) -> dict[str, Any] | None:
    """The validation report's ``token_histogram`` (records per range of token estimates) as SVG bars."""
    buckets = [item for item in (validation or {}).get("token_histogram") or [] if isinstance(item, dict)]
    counts = [int(item.get("records") or 0) for item in buckets]
    if not buckets or not any(counts):
        return None
    plot_w = CHART_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = CHART_HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM
    slot = plot_w / len(buckets)
    peak = max(counts)
    bars = []
    for index, (item, count) in enumerate(zip(buckets, counts, strict=True)):
        height = count / peak * plot_h
        bars.append(
            {
                "x": f"{_MARGIN_LEFT + index * slot + 1:.1f}",
                "y": f"{_MARGIN_TOP + plot_h - height:.1f}",
                "width": f"{max(1.0, slot - 2):.1f}",
                "height": f"{height:.1f}",
                "label": f"{item.get('low')}–{item.get('high')} tokens: {count} record(s)",
            }
        )
    return {
        **_FRAME,
        "bars": bars,
        "peak": peak,
        "low": buckets[0].get("low"),
        "high": buckets[-1].get("high"),
        "records": sum(counts),
    }
