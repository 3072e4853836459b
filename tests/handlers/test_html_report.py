"""The HTML run report (issue 10, item 4): rendered from report.json's content and the run's CSVs, every dataset- or
model-derived string escaped, charts with one point per CSV row, nothing fetched from the network, and written best
effort: a failing input or a failing render never fails the step or loses report.json."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bedrock_finetune import naming
from bedrock_finetune.logic import html_report, outcome, smoke_test
from bedrock_finetune.models import RunState
from bedrock_finetune.validation.tokens import TokenHistogram
from bedrock_finetune_local.aws.faults import Fault, inject_faults

from .conftest import BUCKET, EXECUTION_ARN, REGION, Account

PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
ARN = "arn:aws:bedrock:us-east-1:123456789012"
TRAINING_CSV = "step_number,epoch_number,training_loss,perplexity\n" + "".join(
    f"{step},{step // 5},{2.0 - step * 0.1:.4f},{1.5:.4f}\n" for step in range(12)
)
VALIDATION_CSV = "step_number,epoch_number,validation_loss,perplexity\n4,0,1.80,6.0\n9,1,1.40,4.0\n11,2,1.30,3.6\n"


def succeeded_report(**extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "outcome": "SUCCEEDED",
        "runId": "orders-1",
        "executionArn": EXECUTION_ARN,
        "startedAt": "2026-11-25T05:00:00Z",
        "finishedAt": "2026-11-25T05:40:00Z",
        "dataset": {"source": f"s3://{BUCKET}/inbox/orders.jsonl", "finalUri": f"s3://{BUCKET}/processed/orders-1/o"},
        "baseModelId": "amazon.nova-micro-v1:0:128k",
        "customizationType": "FINE_TUNING",
        "hyperParameters": {"epochCount": "2"},
        "validation": {"files": [], "estimatedTokens": 100},
        "model": {"arn": f"{ARN}:custom-model/m1", "name": "m1"},
        "metrics": {
            "trainingLoss": 0.9,
            "validationLoss": 1.3,
            "trainingCsv": {"key": "outputs/orders-1/step_wise_training_metrics.csv", "rows": 12, "finalLoss": 0.9},
            "validationCsv": {"key": "outputs/orders-1/validation_metrics.csv", "rows": 3, "finalLoss": 1.3},
        },
        "deployment": {"mode": "on-demand", "arn": f"{ARN}:custom-model-deployment/d1", "kept": False},
        "smokeTest": {"prompts": 2, "answered": 2, "medianLatencyMs": 12, "baseModelAnswered": 2},
    }
    report.update(extra)
    return report


def smoke_details(answer: str = PAYLOAD) -> dict[str, Any]:
    return {
        "modelId": f"{ARN}:custom-model-deployment/d1",
        "baseModelId": "amazon.nova-micro-v1:0",
        "results": [
            {
                "prompt": "How do I reset my password?",
                "answer": answer,
                "baseAnswer": f"base {PAYLOAD}",
                "latencyMs": 9,
            },
            {"prompt": f"prompt {PAYLOAD}", "answer": "Go to settings.", "baseAnswer": "Settings.", "latencyMs": 15},
        ],
    }


def histogram_validation() -> dict[str, Any]:
    histogram = TokenHistogram()
    histogram.add_many([40, 42, 55, 60, 61, 61, 90, 120, 121, 300])
    return {
        "stats": {"tokens": histogram.stats("characters/4").model_dump()},
        "token_histogram": [bucket.model_dump() for bucket in histogram.buckets()],
    }


def full_inputs() -> html_report.Inputs:
    return html_report.Inputs(
        training_csv=TRAINING_CSV,
        validation_csv=VALIDATION_CSV,
        validation=histogram_validation(),
        smoke=smoke_details(),
        history=history_events(),
    )


def history_events() -> list[dict[str, Any]]:
    start = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
    events: list[dict[str, Any]] = []

    def add(kind: str, second: float, **details: Any) -> None:
        events.append({"type": kind, "timestamp": start + timedelta(seconds=second), **details})

    add("ExecutionStarted", 0)
    add("TaskStateEntered", 0, stateEnteredEventDetails={"name": "ResolveConfig"})
    add("TaskStateExited", 1, stateExitedEventDetails={"name": "ResolveConfig"})
    for poll in range(5):  # a polling loop: one row each, with a count
        add("TaskStateEntered", 2 + poll * 60, stateEnteredEventDetails={"name": "PollJob"})
        add("TaskStateExited", 3 + poll * 60, stateExitedEventDetails={"name": "PollJob"})
        add("WaitStateEntered", 3 + poll * 60, stateEnteredEventDetails={"name": "WaitForJob"})
        add("WaitStateExited", 62 + poll * 60, stateExitedEventDetails={"name": "WaitForJob"})
    add("TaskStateEntered", 400, stateEnteredEventDetails={"name": "DeployModel"})
    add("LambdaFunctionScheduled", 400)
    add("LambdaFunctionFailed", 401, lambdaFunctionFailedEventDetails={"error": "TransientAwsError"})
    add("LambdaFunctionScheduled", 402)
    add("LambdaFunctionSucceeded", 403)
    add("TaskStateExited", 403, stateExitedEventDetails={"name": "DeployModel"})
    add("TaskStateEntered", 404, stateEnteredEventDetails={"name": "SmokeTest"})
    add("LambdaFunctionScheduled", 404)
    add("LambdaFunctionFailed", 405, lambdaFunctionFailedEventDetails={"error": "SmokeTestFailed"})
    add("TaskStateExited", 405, stateExitedEventDetails={"name": "SmokeTest"})
    add("TaskStateEntered", 406, stateEnteredEventDetails={"name": "Finalize"})
    return events


def polyline_points(page: str) -> dict[str, int]:
    """series → the number of x,y pairs its polyline draws (checked against its data-points attribute)."""
    found = {}
    for match in re.finditer(r"<polyline ([^>]*)>", page):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
        pairs = attributes["points"].split()
        assert all(re.fullmatch(r"-?[\d.]+,-?[\d.]+", pair) for pair in pairs)
        assert int(attributes["data-points"]) == len(pairs)
        found[attributes["data-series"]] = len(pairs)
    return found


def csv_rows(text: str) -> int:
    return len(text.strip().splitlines()) - 1


# --- rendering --------------------------------------------------------------------------------------------------------
def test_model_answers_and_prompts_are_escaped_never_markup() -> None:
    # Given smoke-test answers, a base answer and a prompt carrying script and an onerror image
    page = html_report.render(succeeded_report(), full_inputs())

    # Then none of them is markup: each appears escaped, as text
    assert "<script" not in page
    assert "<img" not in page
    assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert page.count("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;") == 3
    # And the fine-tuned and base answers stand next to each other
    assert "<th>fine-tuned model</th><th>base model</th>" in page


def test_a_dataset_derived_validation_message_and_error_cause_are_escaped() -> None:
    # Given a rejected dataset whose error message and cause quote markup
    report = succeeded_report(
        outcome="FAILED",
        error={"error": "DatasetInvalid", "cause": f"1 error(s); first: {PAYLOAD}"},
        validation={
            "valid": False,
            "errorCounts": {"E_JSON": 1},
            "errors": [{"file": "inbox/o.jsonl", "line": 3, "code": "E_JSON", "message": PAYLOAD, "path": "$"}],
        },
        cleanup={"complete": True, "actions": ["moved the dataset"], "leftovers": [], "problems": []},
    )

    # When rendered
    page = html_report.render(report, html_report.Inputs())

    # Then the message and the cause are text, and the page says what to do
    assert "<script" not in page
    assert "<img" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    assert "Fix the dataset errors listed below" in page
    assert f"it is at s3://{BUCKET}/processed/orders-1/o" in page


def test_each_loss_curve_has_one_point_per_csv_row() -> None:
    page = html_report.render(succeeded_report(), full_inputs())

    assert polyline_points(page) == {"training": csv_rows(TRAINING_CSV), "validation": csv_rows(VALIDATION_CSV)}
    # And the token histogram has one bar per bucket of the validation report
    assert page.count('<rect class="bar"') == len(histogram_validation()["token_histogram"])


def test_the_page_fetches_nothing_and_runs_no_script() -> None:
    page = html_report.render(succeeded_report(), full_inputs())

    assert "http://" not in page
    assert "https://" not in page
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)  # the markup (escaped text is not markup)
    names = {tag[1:].split()[0].rstrip(">").lower() for tag in tags}
    assert names.isdisjoint({"script", "link", "iframe", "object", "embed", "img", "image", "use", "base", "form"})
    assert not [tag for tag in tags if re.search(r"\s(src|href|xlink:href|action|srcset)=", tag)]
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style
    assert "@import" not in style
    # And a phone gets a viewport, and scripts and fetches are forbidden even if something slipped through
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "default-src 'none'" in page


def test_leftovers_are_in_a_red_box_with_their_delete_commands() -> None:
    leftover = {
        "kind": "provisioned-throughput",
        "arn": f"{ARN}:provisioned-model/p1",
        "state": "Creating",
        "cost": outcome.COSTS["provisioned-throughput"],
        "command": outcome.remove_command("provisioned-throughput", f"{ARN}:provisioned-model/p1"),
        "reason": "DeleteProvisionedModelThroughput answered ConflictException",
    }
    report = succeeded_report(
        outcome="FAILED",
        error={"error": "JobFailed", "cause": "the job failed"},
        cleanup={"complete": False, "actions": [], "leftovers": [leftover], "problems": []},
    )

    page = html_report.render(report, html_report.Inputs())
    without = html_report.render(succeeded_report(), html_report.Inputs())

    box = page[page.index('<div class="box danger" id="leftovers">') :]
    box = box[: box.index("</div>\n  </div>")]
    assert leftover["command"] in box
    assert "provisioned throughput bills hourly" in box
    assert 'id="leftovers"' not in without


def test_a_kept_deployment_warns_of_its_cost_and_gives_its_delete_command() -> None:
    arn = f"{ARN}:provisioned-model/kept"
    report = succeeded_report(deployment={"mode": "provisioned", "arn": arn, "kept": True, "modelUnits": 1})

    page = html_report.render(report, html_report.Inputs())

    assert 'id="kept-deployment"' in page
    assert outcome.remove_command("provisioned-throughput", arn) in page
    assert "bills hourly" in page


def test_the_sweep_shows_every_variants_losses_and_the_best() -> None:
    sweep = {
        "lossUsed": "validation",
        "stages": [
            {
                "parameter": "learningRate",
                "best": 1e-05,
                "variants": [
                    {"value": 1e-05, "status": "Completed", "trainingLoss": 0.8, "validationLoss": 1.1},
                    {"value": 0.0001, "status": "Completed", "trainingLoss": 0.7, "validationLoss": 1.4},
                    {"value": 0.001, "status": "Failed", "trainingLoss": None, "validationLoss": None},
                ],
            }
        ],
        "winner": {"hyperParameters": {"learningRate": "1e-05"}},
        "deletedModels": ["m2"],
        "keptModels": [],
    }

    page = html_report.render(succeeded_report(sweep=sweep), html_report.Inputs())

    section = page[page.index('<section id="sweep">') :]
    assert section.count('<tr class="variant">') == 3
    assert "1.1000" in section
    assert "1.4000" in section
    assert section.count("<strong>best</strong>") == 1


def test_the_timeline_merges_polling_loops_and_names_retries_and_caught_errors() -> None:
    rows = html_report.timeline(history_events())["rows"]

    assert [(row["name"], row["count"], row["outcome"]) for row in rows] == [
        ("ResolveConfig", 1, "ok"),
        ("PollJob", 5, "ok"),
        ("WaitForJob", 5, "ok"),
        ("DeployModel", 1, "retried"),
        ("SmokeTest", 1, "caught"),
        ("Finalize", 1, "running"),
    ]
    assert rows[3]["detail"] == "1x: TransientAwsError"
    assert rows[4]["detail"] == "SmokeTestFailed"


def test_the_token_histogram_counts_every_record_in_contiguous_ranges() -> None:
    # Given token estimates with many distinct values / When bucketed
    histogram = TokenHistogram()
    histogram.add_many([7, *range(50, 950, 3), 2000])
    buckets = histogram.buckets()

    # Then at most 20 equal ranges from the smallest to the largest estimate hold every record, counts only
    assert 1 < len(buckets) <= 20
    assert sum(bucket.records for bucket in buckets) == histogram.count
    assert (buckets[0].low, buckets[-1].high >= 2000) == (7, True)
    assert all(later.low == earlier.high + 1 for earlier, later in itertools.pairwise(buckets))
    assert TokenHistogram().buckets() == []


def test_the_page_reads_the_answers_where_the_smoke_test_writes_them() -> None:
    assert html_report.SMOKE_RESULTS == smoke_test.RESULTS_NAME


def test_a_csv_with_steps_that_restart_is_drawn_in_row_order_and_bad_rows_are_skipped() -> None:
    text = "step_number,epoch_number,training_loss,perplexity\n0,0,2.0,7\n1,0,1.5,4\n0,1,1.2,3\n1,1,nan,x\n"

    assert html_report.parse_curve(text, "training_loss") == [(0.0, 2.0), (1.0, 1.5), (2.0, 1.2)]


# --- writing, best effort ---------------------------------------------------------------------------------------------
def put_inputs(account: Account, report: dict[str, Any]) -> None:
    """The run's objects, and its execution (moto answers GetExecutionHistory with a short history of its own)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {"StartAt": "ResolveConfig", "States": {"ResolveConfig": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(
        name="finetune", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    assert sfn.start_execution(stateMachineArn=machine, name="run-0001")["executionArn"] == EXECUTION_ARN
    account.put(report["metrics"]["trainingCsv"]["key"], TRAINING_CSV.encode())
    account.put(report["metrics"]["validationCsv"]["key"], VALIDATION_CSV.encode())
    account.put(naming.report_key("orders-1", naming.VALIDATION_REPORT), json.dumps(histogram_validation()).encode())
    account.put(naming.report_key("orders-1", smoke_test.RESULTS_NAME), json.dumps(smoke_details()).encode())


def read(account: Account, key: str) -> str:
    return str(account.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


def test_the_page_is_written_next_to_report_json_from_the_runs_objects(account: Account) -> None:
    # Given the run's metric CSVs, validation report and smoke-test answers in the bucket
    report = succeeded_report()
    put_inputs(account, report)

    # When the report is written
    outcome._write_report(account.settings, "orders-1", report, None)

    # Then report.json names the page (nothing missing), and the page draws the CSVs and the execution's states and
    # escapes the answers
    written = json.loads(read(account, "reports/orders-1/report.json"))
    assert written["htmlReport"] == {"uri": f"s3://{BUCKET}/reports/orders-1/report.html"}
    page = read(account, "reports/orders-1/report.html")
    assert polyline_points(page) == {"training": 12, "validation": 3}
    assert page.count('<tr class="state">') >= 1
    assert page.count('<rect class="bar"') == len(histogram_validation()["token_histogram"])
    assert "&lt;script&gt;" in page
    head = account.s3.head_object(Bucket=BUCKET, Key="reports/orders-1/report.html")
    assert head["ContentType"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "fault", ["stepfunctions:GetExecutionHistory=AccessDeniedException", "stepfunctions:GetExecutionHistory=Throttling"]
)
def test_a_history_read_that_fails_never_fails_the_step_nor_loses_report_json(account: Account, fault: str) -> None:
    # Given the execution's history refused (or throttled past the client's retries)
    report = succeeded_report()
    put_inputs(account, report)

    # When the report is written
    with inject_faults([Fault.parse(fault)]):
        outcome._write_report(account.settings, "orders-1", report, None)

    # Then report.json is there and says what the page lacks, with the error's code only
    code = fault.rsplit("=", 1)[1]
    written = json.loads(read(account, "reports/orders-1/report.json"))
    assert written["htmlReport"]["missing"] == [f"execution history: {code}"]
    # And the page is written without a timeline, with everything else
    page = read(account, "reports/orders-1/report.html")
    assert "history could not be read" in page
    assert polyline_points(page) == {"training": 12, "validation": 3}


def test_a_page_that_cannot_be_rendered_or_written_is_logged_and_report_json_stands(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given rendering that fails, and a logger that records what it is told
    logged: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def error(self, message: str, extra: dict[str, Any]) -> None:
            logged.append((message, extra))

        def warning(self, message: str, extra: dict[str, Any]) -> None:
            logged.append((message, extra))

    def broken(*_args: Any) -> str:
        raise RuntimeError(PAYLOAD)

    monkeypatch.setattr(html_report, "_logger", Recorder)
    monkeypatch.setattr(html_report, "render", broken)
    report = succeeded_report()

    # When the report is written
    uri = outcome._write_report(account.settings, "orders-1", report, None)

    # Then report.json is written, no page, and the log names the error's class, never its message
    assert uri == f"s3://{BUCKET}/reports/orders-1/report.json"
    assert json.loads(read(account, "reports/orders-1/report.json"))["runId"] == "orders-1"
    assert "reports/orders-1/report.html" not in account.keys("reports/")
    assert logged[0][0] == "html report not written"
    assert logged[0][1]["error"] == "RuntimeError"
    assert "pwned" not in json.dumps(logged)


def test_a_denied_metric_csv_leaves_the_chart_out_and_names_the_code(account: Account) -> None:
    # Given a training CSV S3 refuses to hand out
    report = succeeded_report()
    put_inputs(account, report)

    with inject_faults([Fault.parse("s3:GetObject=AccessDenied*1")]):
        outcome._write_report(account.settings, "orders-1", report, None)

    written = json.loads(read(account, "reports/orders-1/report.json"))
    assert written["htmlReport"]["missing"] == ["training metrics: AccessDenied"]
    assert polyline_points(read(account, "reports/orders-1/report.html")) == {"validation": 3}


def test_cleanup_writes_the_page_for_a_failed_run(account: Account) -> None:
    # When Cleanup runs for a run that failed before it had a configuration
    result = outcome.cleanup(RunState(), account.execution, account.settings)

    # Then the page is next to report.json and says the run failed
    run = naming.run_id(account.execution.name)
    assert result.report["htmlReport"]["uri"] == f"s3://{BUCKET}/reports/{run}/report.html"
    page = read(account, f"reports/{run}/report.html")
    assert ">FAILED</span>" in page
    assert "What to do next" in page
