"""``bedrock-finetune local serve``: the local AWS as an HTTP endpoint, driven from another process as a person's
scripts and the AWS CLI would, and stopped cleanly with Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
COMMAND = Path(sys.executable).parent / "bedrock-finetune"


def temp_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("bedrock-finetune-serve-*")}


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    before = temp_folders()
    process = subprocess.Popen(
        [str(COMMAND), "local", "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    endpoint = None
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while endpoint is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("AWS_ENDPOINT_URL="):
            endpoint = line.strip().split("=", 1)[1]
    if endpoint is None:
        process.kill()
        pytest.fail(f"no AWS_ENDPOINT_URL line; stderr: {process.communicate()[1][-2000:]}")
    try:
        yield endpoint, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # as Ctrl-C would
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert temp_folders() <= before, "local serve left its temporary folder behind"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_drop_through_the_endpoint_runs_the_workflow_and_ctrl_c_stops_it_cleanly(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    endpoint, process = served
    # Given the stack as CloudFormation describes it, under samconfig.toml's stack name
    cloudformation = client("cloudformation", endpoint)
    (described,) = cloudformation.describe_stacks(StackName="bedrock-finetune")["Stacks"]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in described["Outputs"]}
    assert set(outputs) >= {"BucketName", "StateMachineArn", "NotificationTopicArn", "RetireStateMachineArn"}

    # When a dataset is dropped into inbox/ through the endpoint (as `aws s3 cp` would)
    s3 = client("s3", endpoint)
    s3.put_object(Bucket=outputs["BucketName"], Key="inbox/support-chat.jsonl", Body=VALID.read_bytes())

    # Then the real workflow runs to SUCCEEDED and its report is in the bucket
    sfn = client("stepfunctions", endpoint)
    deadline = time.monotonic() + 120
    executions: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
        if executions and all(item["status"] != "RUNNING" for item in executions):
            break
        time.sleep(0.3)
    assert [item["status"] for item in executions] == ["SUCCEEDED"]
    run = executions[0]["name"]
    body = s3.get_object(Bucket=outputs["BucketName"], Key=f"reports/{run}/report.json")["Body"].read()
    assert json.loads(body)["outcome"] == "SUCCEEDED"

    # When Ctrl-C is pressed
    process.send_signal(signal.SIGINT)

    # Then it stops cleanly (exit 0) and the endpoint is gone
    assert process.wait(timeout=30) == 0
    with pytest.raises(EndpointConnectionError):
        sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])


def cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``bedrock-finetune`` as a person runs it against the served endpoint (no --stack: samconfig.toml's name)."""
    env = {
        "PATH": str(COMMAND.parent),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": tempfile.gettempdir(),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(COMMAND), *args], check=False, capture_output=True, text=True, cwd=ROOT, env=env, timeout=240
    )


def test_submit_wait_runs_status_and_report_work_against_the_served_stack(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    endpoint, _ = served
    s3 = client("s3", endpoint)
    cloudformation = client("cloudformation", endpoint)
    (described,) = cloudformation.describe_stacks(StackName="bedrock-finetune")["Stacks"]
    bucket = next(item["OutputValue"] for item in described["Outputs"] if item["OutputKey"] == "BucketName")

    # When an invalid dataset is submitted, it is refused before any upload
    broken = cli(endpoint, "submit", str(ROOT / "events" / "datasets" / "support-chat-broken.jsonl"))
    assert broken.returncode == 1, broken.stderr
    assert s3.list_objects_v2(Bucket=bucket, Prefix="inbox/").get("KeyCount", 0) == 0

    # When the sample is submitted with --wait, it trains and exits 0
    submitted = cli(endpoint, "submit", str(VALID), "--set", "deployment.mode=none", "--wait")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr

    # Then runs lists it as SUCCEEDED
    runs = cli(endpoint, "runs", "--json")
    assert runs.returncode == 0, runs.stderr
    listed = json.loads(runs.stdout)
    rows = listed["runs"] if isinstance(listed, dict) else listed
    (row,) = [item for item in rows if "support-chat" in json.dumps(item)]
    assert "SUCCEEDED" in json.dumps(row)
    run = next(value for key, value in row.items() if key in {"run", "runId"})

    # And status shows it: SUCCEEDED, with its timeline
    status = cli(endpoint, "status", str(run))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "SUCCEEDED" in status.stdout
    assert "Finalize" in status.stdout

    # And report --html writes the run's page
    page = tmp_path / "report.html"
    html = cli(endpoint, "report", str(run), "--html", str(page))
    assert html.returncode == 0, html.stdout + html.stderr
    assert "<svg" in page.read_text()
