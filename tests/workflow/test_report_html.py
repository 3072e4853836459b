"""A local run writes the HTML run report next to report.json (issue 10, item 4): the real state machine, handlers
and IAM; the runner copies the run's reports/<run>/ objects into its artifacts folder before the local AWS goes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
BROKEN = ROOT / "events" / "datasets" / "support-chat-broken.jsonl"


def points(page: str) -> dict[str, int]:
    return {
        series: len(pairs.split())
        for series, pairs in re.findall(r'<polyline class="curve \w+" data-series="(\w+)"[^>]* points="([^"]*)"', page)
    }


def test_a_successful_run_writes_report_html_next_to_report_json() -> None:
    # When a valid dataset runs through the local workflow
    result = runner.run(runner.RunOptions(dataset=VALID))
    assert result.status == "SUCCEEDED", result.error
    assert result.report is not None

    # Then report.json names reports/<run>/report.html in the run's bucket, nothing it could not read, and the
    # runner's copy of reports/<run>/ holds the page
    run = result.report["runId"]
    assert result.report["htmlReport"] == {"uri": f"s3://{result.bucket}/reports/{run}/report.html"}
    assert result.artifacts_dir is not None
    folder = Path(result.artifacts_dir)
    assert folder.parent.parent == Path(result.log_file).parent
    assert {"report.json", "report.html", "validation.json", "smoke-test.json"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "report.json").read_text()) == result.report
    page = (folder / "report.html").read_text()
    # And the page draws each metric CSV with one point per row, the token histogram, and the states so far
    metrics = result.report["metrics"]
    assert points(page) == {
        "training": metrics["trainingCsv"]["rows"],
        "validation": metrics["validationCsv"]["rows"],
    }
    assert page.count('<rect class="bar"') >= 1
    timeline = re.findall(r'<tr class="state"><td>(\w+)', page)
    assert timeline[0] == "ResolveConfig"
    assert timeline[-1] == "Finalize"
    assert {"ValidateDataset", "CreateCustomizationJob", "SmokeTest"} <= set(timeline)


def test_a_rejected_dataset_gets_a_page_with_its_errors() -> None:
    # When the invalid sample runs
    result = runner.run(runner.RunOptions(dataset=BROKEN))
    assert result.status == "FAILED"
    assert result.report is not None

    # Then Cleanup wrote the page, with the dataset's errors, where the dataset is, and the timeline up to Cleanup
    assert result.artifacts_dir is not None
    page = (Path(result.artifacts_dir) / "report.html").read_text()
    assert ">FAILED</span>" in page
    assert "Fix the dataset errors listed below" in page
    assert result.report["dataset"]["finalUri"] in page
    assert page.count('<td><code class="rule">E_') >= 1
    timeline = re.findall(r'<tr class="state"><td>(\w+)', page)
    assert timeline[-1] == "Cleanup"
    assert "ValidateDataset" in timeline
