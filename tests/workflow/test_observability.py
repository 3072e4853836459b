"""What the dashboard and the alarms read: the handlers' embedded-metric-format (EMF) records in the Lambda log, the
alarms and dashboard of template.yaml, all deployed into the IAM-enforcing local AWS."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bedrock_finetune import cost, metrics
from bedrock_finetune_local import runner, stack

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"


def emitted(result: runner.RunResult) -> dict[str, float]:
    """Every metric value the run's functions emitted, summed by name (as CloudWatch's Sum would)."""
    totals: dict[str, float] = {}
    for line in Path(result.log_file).read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        for directive in (record.get("_aws") or {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == metrics.NAMESPACE
            assert directive["Dimensions"] == [["service"]]
            assert record["service"] == "bedrock-finetune"
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]  # a number, or a list of values (EMF allows both)
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(float(item) for item in values)
    return totals


def test_a_successful_run_counts_one_start_and_one_success_and_a_kept_throughput_shows_its_model_units() -> None:
    result = runner.run(
        runner.RunOptions(dataset=VALID, config={"deployment": {"mode": "provisioned", "modelUnits": 1, "keep": True}})
    )
    assert result.status == "SUCCEEDED", result.error
    counted = emitted(result)
    assert counted[metrics.RUNS_STARTED] == 1
    assert counted[metrics.RUNS_SUCCEEDED] == 1
    assert metrics.RUNS_FAILED not in counted
    # The reconciler's sweep after the run: the kept throughput's model unit, for the schedule's 15 minutes
    assert counted[metrics.PROVISIONED_MODEL_UNITS] == 1
    assert counted[metrics.PROVISIONED_MODEL_UNIT_HOURS] == 0.25
    assert counted[metrics.RECONCILER_DELETIONS] == 0
    # And what it costs per hour at the catalog's price (the dashboard's running cost across runs)
    price = cost.load_table().region_prices("amazon.nova-micro-v1:0:128k", "us-east-1")
    assert counted[metrics.PROVISIONED_USD_PER_HOUR] == price[cost.PROVISIONED_PER_MODEL_UNIT_HOUR].usd


def test_a_failed_run_counts_a_failure_and_its_leftovers() -> None:
    result = runner.run(runner.RunOptions(dataset=VALID, job_outcome="Failed"))
    assert result.status == "FAILED"
    counted = emitted(result)
    assert (counted[metrics.RUNS_FAILED], counted[metrics.CLEANUP_LEFTOVERS]) == (1, 0)
    assert metrics.RUNS_SUCCEEDED not in counted


def test_every_metric_the_alarms_and_the_dashboard_read_is_one_the_handlers_emit(tmp_path: Path) -> None:
    # Given the template's alarms and dashboard as the local deploy creates them
    template = stack.load_template(ROOT)
    resources = template["Resources"]
    alarms = {
        props["Properties"]["MetricName"]
        for props in resources.values()
        if props["Type"] == "AWS::CloudWatch::Alarm" and props["Properties"]["Namespace"] == metrics.NAMESPACE
    }
    body = json.dumps(resources["OperationsDashboard"]["Properties"]["DashboardBody"])
    on_dashboard = set(re.findall(r'\\"BedrockFinetune\\", \\"(\w+)\\"', body))
    # Then each is a name of functions/bedrock_finetune/metrics.py that some handler records
    names = {value for key, value in vars(metrics).items() if key.isupper() and isinstance(value, str)}
    sources = "\n".join(path.read_text() for path in (ROOT / "functions" / "bedrock_finetune").rglob("*.py"))
    for name in alarms | on_dashboard:
        assert name in names, name
        constant = next(key for key, value in vars(metrics).items() if value == name and key.isupper())
        assert re.search(rf"metrics\.{constant}\b|\b{constant}\b.*:", sources), f"{name} is never emitted"
    assert {"RunsFailed", "CleanupLeftovers", "ReconcilerDeletions"} <= alarms
    assert len(on_dashboard) >= 9
    # And the local AWS accepts the dashboard and the alarms (each notifies the stack's topic)
    options = runner.RunOptions(dataset=VALID)
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        cloudwatch: Any = runner.admin_client("cloudwatch")
        dashboard = cloudwatch.get_dashboard(DashboardName=deployed.physical["OperationsDashboard"])
        assert len(json.loads(dashboard["DashboardBody"])["widgets"]) == 5
        described = cloudwatch.describe_alarms()["MetricAlarms"]
        notifying = {alarm["MetricName"] for alarm in described if deployed.topic_arn in alarm.get("AlarmActions", [])}
        assert {
            "RunsFailed",
            "CleanupLeftovers",
            "ReconcilerDeletions",
            "ApproximateNumberOfMessagesVisible",
        } <= notifying
