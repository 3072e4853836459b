"""The stack commands (``submit``, ``sweep``, ``retrain``, ``retire``, ``runs``, ``status``, ``report``) against moto.

The stack is a CloudFormation stack in moto whose outputs name a versioned bucket and two state machines made
beforehand (moto's CloudFormation neither versions a bucket nor creates a state machine it can run). The state
machines are one Pass state, executed by moto: what is checked is what the CLI sends (objects, metadata, execution
inputs) and how it reads what comes back (histories, reports), not the workflow.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from conftest import NOVA_LITE, NOVA_MICRO, REPO
from moto import mock_aws

from bedrock_finetune.naming import inbox_execution_name
from bedrock_finetune_cli.common import UsageError
from bedrock_finetune_cli.main import main
from bedrock_finetune_cli.stack import aws, follow
from bedrock_finetune_cli.stack.submit import apply_settings, load_config, parse_vary

REGION = "us-east-1"
STACK = "finetune-test"
VALID = REPO / "events" / "datasets" / "support-chat.jsonl"
BROKEN = REPO / "events" / "datasets" / "support-chat-broken.jsonl"
ROLE = "arn:aws:iam::123456789012:role/states"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
# The retire state machine's shape: RetireModel's answer in $.retired, then a notification whose answer is the output.
RETIRE = json.dumps(
    {
        "StartAt": "RetireModel",
        "States": {
            "RetireModel": {
                "Type": "Pass",
                "Result": {"message": "Retired arn:model/1\nDeleted arn:deployment/1 first"},
                "ResultPath": "$.retired",
                "Next": "NotifyRetired",
            },
            "NotifyRetired": {"Type": "Pass", "Result": {"MessageId": "1"}, "End": True},
        },
    }
)
FAIL = json.dumps({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "JobFailed", "Cause": "bad"}}})


@dataclass
class Stack:
    bucket: str
    machine: str
    retire_machine: str
    failing_machine: str

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name=REGION)

    def object_keys(self) -> list[str]:
        return [item["Key"] for item in self.s3.list_object_versions(Bucket=self.bucket).get("Versions", [])]

    def head(self, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.s3.head_object(Bucket=self.bucket, Key=key)
        return answer

    def put_report(self, run: str, report: dict[str, Any], name: str = "report.json") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"reports/{run}/{name}", Body=json.dumps(report).encode())

    def start(self, name: str, machine: str | None = None, payload: dict[str, Any] | None = None) -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=machine or self.machine, name=name, input=json.dumps(payload or {})
        )["executionArn"]
        return arn

    def ended(self, arn: str) -> dict[str, Any]:
        for _ in range(200):
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)
        raise AssertionError(f"{arn} still running")

    def inputs(self, machine: str) -> list[dict[str, Any]]:
        executions = self.sfn.list_executions(stateMachineArn=machine)["executions"]
        return [
            json.loads(self.sfn.describe_execution(executionArn=item["executionArn"])["input"]) for item in executions
        ]


def _clean_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder whose samconfig.toml names the stack (as `sam deploy --guided` saves it), AWS settings cleared."""
    _clean_aws_environment(monkeypatch)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samconfig.toml").write_text(
        f'version = 0.1\n[default.global.parameters]\nstack_name = "{STACK}"\n'
        f'[default.deploy.parameters]\nregion = "{REGION}"\ncapabilities = "CAPABILITY_IAM"\n'
    )
    return tmp_path


@pytest.fixture
def stack(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(follow, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(follow, "TICK_SECONDS", 0.01)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        bucket = "finetune-test-databucket"
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {
            name: sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
            for name, definition in (("FineTune", PASS), ("Retire", RETIRE), ("Failing", FAIL))
        }
        template = {
            "Parameters": {
                "BaseModelId": {"Type": "String"},
                "HyperParameters": {"Type": "String", "Default": "{}"},
            },
            "Resources": {"NotificationTopic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "BucketName": {"Value": bucket},
                "StateMachineArn": {"Value": machines["FineTune"]},
                "RetireStateMachineArn": {"Value": machines["Retire"]},
                "NotificationTopicArn": {"Value": {"Ref": "NotificationTopic"}},
            },
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "BaseModelId", "ParameterValue": NOVA_MICRO}],
        )
        yield Stack(bucket, machines["FineTune"], machines["Retire"], machines["Failing"])


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)  # exactly one JSON object, or this fails


def validation_file(tmp_path: Path) -> Path:
    path = tmp_path / "val.jsonl"
    path.write_bytes(b"".join(VALID.read_bytes().splitlines(keepends=True)[:20]))
    return path


# --- submit -----------------------------------------------------------------------------------------------------------
def test_submit_uploads_into_the_inbox_with_the_config_as_metadata(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a valid dataset and two settings / When submitted
    code = main(["submit", str(VALID), "--set", "deployment.mode=none", "--set", "hyperParameters.epochCount=3"])
    out = capsys.readouterr().out

    # Then the object is in inbox/ with the configuration as finetune-config metadata, written with it
    assert code == 0
    head = stack.head("inbox/support-chat.jsonl")
    assert json.loads(head["Metadata"]["finetune-config"]) == {
        "deployment": {"mode": "none"},
        "hyperParameters": {"epochCount": 3},
    }
    # and the report, the run id the starter will give this object version, and a console link are printed
    run = inbox_execution_name(stack.bucket, "inbox/support-chat.jsonl", head["VersionId"])
    assert out.startswith("VALID")
    assert f"Run       {run}\n" in out
    execution = f"{stack.machine.replace(':stateMachine:', ':execution:')}:{run}"
    assert (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/{execution}" in out
    )


def test_submit_json_is_one_object_with_the_run(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a valid dataset / When submitted with --json
    code, result = run_json(capsys, "submit", str(VALID))

    # Then one object says what was uploaded and which run it starts; no metadata without a configuration
    assert code == 0
    head = stack.head("inbox/support-chat.jsonl")
    assert head.get("Metadata") == {}
    assert result["submitted"] is True
    assert result["validation"]["valid"] is True
    assert result["versionId"] == head["VersionId"]
    assert result["runId"] == inbox_execution_name(stack.bucket, "inbox/support-chat.jsonl", head["VersionId"])
    assert result["executionArn"].endswith(f":execution:FineTune:{result['runId']}")


def test_an_invalid_dataset_is_refused_and_nothing_is_uploaded(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the broken sample / When submitted
    code = main(["submit", str(BROKEN)])
    out = capsys.readouterr().out

    # Then exit 1, the validator's report, and the bucket is still empty
    assert code == 1
    assert out.startswith("INVALID")
    assert "E_ROLE_LAST" in out
    assert "Not submitted: the dataset is invalid, nothing was uploaded." in out
    assert stack.object_keys() == []


def test_the_base_model_is_the_configs_else_the_stacks(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given no baseModelId / When submitted / Then validated against the stack's BaseModelId parameter
    assert main(["submit", str(VALID)]) == 0
    assert f"model    {NOVA_MICRO}, FINE_TUNING" in capsys.readouterr().out

    # Given a baseModelId in the configuration / Then validated against it
    assert main(["submit", str(VALID), "--config", json.dumps({"baseModelId": NOVA_LITE})]) == 0
    assert f"model    {NOVA_LITE}, FINE_TUNING" in capsys.readouterr().out


def test_validation_file_goes_under_uploads_and_into_the_config(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a validation file / When submitted with it
    code, result = run_json(capsys, "submit", str(VALID), "--validation", str(validation_file(tmp_path)))

    # Then both files were validated, the validation file is under uploads/ and the run's config names it
    assert code == 0
    assert [file["role"] for file in result["validation"]["stats"]["files"]] == ["train", "validation"]
    sha256 = result["validation"]["stats"]["files"][1]["sha256"]
    key = f"uploads/{sha256[:16]}/val.jsonl"
    assert key in stack.object_keys()
    config = json.loads(stack.head("inbox/support-chat.jsonl")["Metadata"]["finetune-config"])
    assert config == {"validationDatasetUri": f"s3://{stack.bucket}/{key}"}


def test_config_from_a_file_and_an_upper_case_extension(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a .JSONL file and a configuration file
    train = tmp_path / "Support Chat.JSONL"
    train.write_bytes(VALID.read_bytes())
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"deployment": {"mode": "on-demand", "keep": True}}))

    # When submitted / Then the key ends in .jsonl, as the inbox rule needs, and --set adds to the file's settings
    code, result = run_json(capsys, "submit", str(train), "--config", str(config), "--set", "force=true")
    assert code == 0
    assert result["datasetUri"] == f"s3://{stack.bucket}/inbox/Support Chat.jsonl"
    metadata = stack.head("inbox/Support Chat.jsonl")["Metadata"]["finetune-config"]
    assert json.loads(metadata) == {"deployment": {"mode": "on-demand", "keep": True}, "force": True}


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--set", "deployment.mode"], "--set expects KEY=VALUE"),
        (["--set", "noSuchField=1"], "run configuration: noSuchField: Extra inputs are not permitted"),
        (["--set", "deployment.mode=sometimes"], "run configuration: deployment.mode"),
        (["--config", '{"datasetUri": "s3://b/k.jsonl"}'], "must not name datasetUri"),
        (["--config", "[1]"], "must hold a JSON object"),
        (["--config", "missing.json"], "--config missing.json: No such file or directory"),
        (["--set", "baseModelId=amazon.nova-micro"], "unknown base model id"),
    ],
)
def test_bad_settings_are_usage_errors_and_nothing_is_uploaded(
    stack: Stack, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    assert main(["submit", str(VALID), *argv]) == 2
    assert reason in capsys.readouterr().err
    assert stack.object_keys() == []


def test_a_config_file_that_is_not_utf8_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "run.json"
    config.write_bytes(b'{"modelName": "caf\xe9"}')
    assert main(["submit", str(VALID), "--config", str(config)]) == 2
    assert f"--config {config}: not UTF-8 text" in capsys.readouterr().err


def test_set_parses_dotted_keys_and_json_values() -> None:
    config = apply_settings(
        {"deployment": {"keep": True}},
        ["deployment.mode=none", "hyperParameters.epochCount=3", "hyperParameters.learningRate=1e-5",
         "modelName=my-model", "force=true", "smokeTest.prompts=[\"hi\"]", "note=a=b"],
    )  # fmt: skip
    assert config == {
        "deployment": {"keep": True, "mode": "none"},
        "hyperParameters": {"epochCount": 3, "learningRate": 1e-5},
        "modelName": "my-model",
        "force": True,
        "smokeTest": {"prompts": ["hi"]},
        "note": "a=b",
    }
    with pytest.raises(UsageError, match="deployment is not an object"):
        apply_settings({"deployment": "none"}, ["deployment.mode=none"])
    with pytest.raises(UsageError, match="dotted KEY"):
        apply_settings({}, ["a..b=1"])
    assert load_config(' {"a": 1}') == {"a": 1}


# --- --wait -----------------------------------------------------------------------------------------------------------
def test_wait_polls_until_the_execution_exists_then_follows_it_to_its_end(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an inbox starter that starts the execution a moment after the upload (as EventBridge and the starter do)
    def starter(seconds: float) -> None:
        versions = stack.s3.list_object_versions(Bucket=stack.bucket, Prefix="inbox/").get("Versions", [])
        names = {item["name"] for item in stack.sfn.list_executions(stateMachineArn=stack.machine)["executions"]}
        name = inbox_execution_name(stack.bucket, "inbox/support-chat.jsonl", versions[0]["VersionId"])
        if name not in names:
            stack.put_report(name, {"outcome": "SUCCEEDED", "runId": name, "model": {"arn": "arn:model/1"}})
            stack.start(name)
        time.sleep(0.01)

    monkeypatch.setattr(follow, "sleep", starter)

    # When submitted with --wait
    code = main(["submit", str(VALID), "--wait"])
    captured = capsys.readouterr()

    # Then it waited for the execution, followed it, and exits with its outcome, the report's summary printed
    assert code == 0
    assert "SUCCEEDED after" in captured.out
    assert "Custom model: arn:model/1" in captured.out


def test_wait_gives_up_with_a_clear_message_when_no_execution_starts(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follow, "APPEAR_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(follow, "sleep", lambda seconds: time.sleep(0.01))
    assert main(["submit", str(VALID), "--wait"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "s after the upload: the stack did not start it" in err[0]


def test_wait_exits_1_when_the_execution_fails(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a retire execution that fails / When followed
    monkeypatch.setattr(aws.Stack, "retire_state_machine_arn", property(lambda self: stack.failing_machine))
    code = main(["retire", "arn:aws:bedrock:us-east-1:123456789012:custom-model/x", "--wait"])

    # Then exit 1 with the error
    assert code == 1
    assert "FAILED after" in capsys.readouterr().out


def test_progress_shows_the_state_the_job_and_the_queue() -> None:
    # Given the latest events of a run waiting for a job slot, then polling its job
    def exited(number: int, name: str, output: dict[str, Any]) -> dict[str, Any]:
        details = {"name": name, "output": json.dumps(output)}
        return {"id": number, "type": "TaskStateExited", "stateExitedEventDetails": details}

    def entered(number: int, name: str) -> dict[str, Any]:
        return {"id": number, "type": "WaitStateEntered", "stateEnteredEventDetails": {"name": name}}

    config = {"config": {"baseModelId": NOVA_MICRO, "deployment": {"mode": "on-demand"}}}
    queued = {"training": {"status": "Queued", "queue": {"position": 2, "reason": "ahead"}}}
    events = [exited(3, "ResolveConfig", config), exited(9, "CreateCustomizationJob", queued)]
    snapshot = follow.Snapshot(arn="arn", status="RUNNING", started=follow.now())
    sfn = SimpleNamespace()
    follow._read_events(sfn, snapshot, [*events, entered(10, "WaitForTrainingCapacity")])

    # Then the line shows the queue position, and the run's base model and deployment mode are known
    assert follow.progress_line(snapshot, with_time=False) == (
        "RUNNING  WaitForTrainingCapacity  queue position 2 (runs ahead)"
    )
    assert (snapshot.base_model_id, snapshot.deployment_mode) == (NOVA_MICRO, "on-demand")

    # When the job was created and polled / Then the line shows the job's status
    created = {"training": {"status": "Created", "queue": {"position": 1, "reason": "none"}}}
    waiting = [exited(12, "CreateCustomizationJob", created), entered(13, "AwaitJobEnd")]
    follow._read_events(sfn, snapshot, [*events, entered(10, "WaitForTrainingCapacity"), *waiting])
    assert follow.progress_line(snapshot, with_time=False) == "RUNNING  AwaitJobEnd  job InProgress"
    stopped = {"jobStatus": {"status": "Stopping"}}
    later = [exited(15, "PollJob", stopped), entered(16, "AwaitJobEnd")]
    follow._read_events(sfn, snapshot, [*events, *waiting, *later])
    assert follow.progress_line(snapshot, with_time=False) == "RUNNING  AwaitJobEnd  job Stopping"


# --- sweep, retrain, retire -------------------------------------------------------------------------------------------
def test_sweep_submits_a_sweep_configuration(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["sweep", str(VALID), "--vary", "learningRate=1e-6,1e-5,1e-4", "--vary", "epochCount=1,3,5", "--keep-all",
         "--set", "deployment.mode=none"]
    )  # fmt: skip
    assert code == 0
    assert json.loads(stack.head("inbox/support-chat.jsonl")["Metadata"]["finetune-config"]) == {
        "deployment": {"mode": "none"},
        "sweep": {
            "vary": [
                {"parameter": "learningRate", "values": [1e-6, 1e-5, 1e-4]},
                {"parameter": "epochCount", "values": [1, 3, 5]},
            ],
            "keepAll": True,
        },
    }


@pytest.mark.parametrize(
    ("vary", "reason"),
    [
        ("epochCount=1,99", "epochCount=99 is out of range"),
        ("noSuchParameter=1,2", "noSuchParameter is not a hyperparameter of"),
        ("epochCount", "--vary expects PARAMETER=VALUE,VALUE"),
    ],
)
def test_sweep_values_are_checked_before_anything_is_uploaded(
    stack: Stack, capsys: pytest.CaptureFixture[str], vary: str, reason: str
) -> None:
    assert main(["sweep", str(VALID), "--vary", vary]) == 2
    assert reason in capsys.readouterr().err
    assert stack.object_keys() == []


def test_parse_vary_keeps_strings_and_numbers() -> None:
    assert parse_vary("learningRate=1e-6, 2e-5") == {"parameter": "learningRate", "values": [1e-6, 2e-5]}
    assert parse_vary("mode=auto,3") == {"parameter": "mode", "values": ["auto", 3]}


def test_retrain_starts_the_fine_tune_state_machine_with_the_console_input(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an ended run / When retrained without three lines, swapping its deployment
    stack.put_report("support-chat-0123", {"outcome": "SUCCEEDED"})
    code, result = run_json(capsys, "retrain", "support-chat-0123", "--exclude-lines", "2,5,7", "--swap-deployment")

    # Then one execution of the fine-tune state machine got exactly that input
    assert code == 0
    expected = {"retrainFrom": "support-chat-0123", "excludeRecords": {"lines": [2, 5, 7]}, "swapDeployment": True}
    assert stack.inputs(stack.machine) == [expected]
    assert result["runId"].startswith("retrain-support-chat-0123-")


def test_retrain_by_sha256_and_with_overrides(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.put_report("run-1", {"outcome": "SUCCEEDED"})
    digest = "AB" * 32
    code = main(["retrain", "run-1", "--exclude-sha256", digest, "--set", "hyperParameters.epochCount=2"])
    assert code == 0
    assert stack.inputs(stack.machine) == [
        {
            "hyperParameters": {"epochCount": 2},
            "retrainFrom": "run-1",
            "excludeRecords": {"sha256": ["ab" * 32]},
            "swapDeployment": False,
        }
    ]


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["retrain", "run-1", "--exclude-lines", "0,2"], "1-based line numbers"),
        (["retrain", "run-1", "--exclude-sha256", "abc"], "64-hex-digit"),
        (["retrain", "run-1"], "one of the arguments --exclude-lines --exclude-sha256 is required"),
        (["retrain", "never-ran", "--exclude-lines", "2"], "run never-ran has no report"),
    ],
)
def test_retrain_usage_errors(stack: Stack, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str) -> None:
    stack.put_report("run-1", {"outcome": "SUCCEEDED"})
    assert main(argv) == 2
    assert reason in capsys.readouterr().err
    assert stack.inputs(stack.machine) == []


def test_retire_starts_the_retire_state_machine(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc"
    assert main(["retire", model, "--force"]) == 0
    assert main(["retire", "support-chat-0123"]) == 0
    assert sorted(stack.inputs(stack.retire_machine), key=str) == sorted(
        [{"retire": model, "force": True}, {"retire": "support-chat-0123", "force": False}], key=str
    )
    assert stack.inputs(stack.machine) == []


def test_retire_wait_prints_what_was_retired(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retire", "support-chat-0123", "--wait"]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED after" in out
    assert "  Retired arn:model/1\n  Deleted arn:deployment/1 first\n" in out


# --- runs, status, report ---------------------------------------------------------------------------------------------
REPORT = {
    "outcome": "SUCCEEDED",
    "runId": "chat-a",
    "dataset": {"source": "s3://bucket/inbox/chat-a.jsonl", "finalUri": "s3://bucket/processed/chat-a/chat-a.jsonl"},
    "baseModelId": NOVA_MICRO,
    "customizationType": "FINE_TUNING",
    "model": {"arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/chat-a"},
    "metrics": {"trainingLoss": 0.41, "validationLoss": 0.5234},
    "deployment": {"mode": "on-demand", "arn": "arn:deployment/a", "kept": True, "deleted": False},
}


def test_runs_lists_recent_runs_from_their_reports(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a run with a report, and a run that failed before writing one
    stack.put_report("chat-a", REPORT)
    stack.ended(stack.start("chat-a", payload={"detail": {"object": {"key": "inbox/chat-a.jsonl"}}}))
    stack.ended(stack.start("chat-b", machine=stack.failing_machine))
    failing = stack.sfn.describe_execution(
        executionArn=f"{stack.failing_machine}:chat-b".replace("stateMachine", "execution")
    )
    assert failing["status"] == "FAILED"
    stack.sfn.start_execution(
        stateMachineArn=stack.machine, name="chat-c", input=json.dumps({"datasetUri": "s3://b/uploads/c.jsonl"})
    )

    # When listed
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()

    # Then a table: the report's dataset, status, base model, validation loss and deployment, and the age
    assert lines[0].split() == [
        "RUN",
        "DATASET",
        "STATUS",
        "STATE",
        "BASE",
        "MODEL",
        "VAL",
        "LOSS",
        "DEPLOYMENT",
        "AGE",
    ]
    row = next(line for line in lines if line.startswith("chat-a "))
    assert row.split()[:8] == ["chat-a", "chat-a.jsonl", "SUCCEEDED", "-", NOVA_MICRO, "0.5234", "on-demand", "kept"]
    assert re.fullmatch(r"\d+s", row.split()[8])  # started seconds ago
    other = next(line for line in lines if line.startswith("chat-c "))
    assert other.split()[:2] == ["chat-c", "c.jsonl"]  # no report: the dataset comes from the execution's input


def test_runs_json(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.put_report("chat-a", REPORT)
    stack.ended(stack.start("chat-a"))
    code, result = run_json(capsys, "runs", "--limit", "5")
    assert code == 0
    assert result["stack"] == STACK
    (run,) = result["runs"]
    assert (run["run"], run["status"], run["validationLoss"], run["deployment"]) == (
        "chat-a",
        "SUCCEEDED",
        0.5234,
        "on-demand kept",
    )


def test_runs_of_an_empty_stack(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == f"No runs yet in {STACK} ({REGION}).\n"


def test_status_shows_the_timeline_and_the_report(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.put_report("chat-a", REPORT)
    stack.ended(stack.start("chat-a"))
    assert main(["status", "chat-a"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run        chat-a\nStatus     SUCCEEDED after")
    assert "\nTimeline\n  Done" in out
    assert "  Custom model: arn:aws:bedrock:us-east-1:123456789012:custom-model/chat-a" in out
    assert "  Training loss: 0.41  validation loss: 0.5234" in out


def test_status_of_a_failed_run_exits_1_and_names_the_error(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws.Stack, "state_machine_arn", property(lambda self: stack.failing_machine))
    stack.ended(stack.start("chat-b", machine=stack.failing_machine))
    code, result = run_json(capsys, "status", "chat-b")
    assert code == 1
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "JobFailed", "bad")
    assert result["timeline"] == [{"state": "Boom", "visits": 1, "seconds": 0.0, "outcome": "failed: JobFailed"}]


def test_status_of_an_unknown_run(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "nope"]) == 2
    assert f"no run nope in stack {STACK}" in capsys.readouterr().err


def test_report_prints_report_json_and_downloads_the_html(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.put_report("chat-a", REPORT)
    assert main(["report", "chat-a"]) == 0
    assert json.loads(capsys.readouterr().out) == REPORT

    # No report.html yet: said so, exit 1
    target = tmp_path / "out.html"
    assert main(["report", "chat-a", "--html", str(target)]) == 1
    assert "reports/chat-a/report.html is not there" in capsys.readouterr().out
    assert not target.exists()

    # With report.html: downloaded, or opened in a browser
    stack.s3.put_object(Bucket=stack.bucket, Key="reports/chat-a/report.html", Body=b"<html>ok</html>")
    assert main(["report", "chat-a", "--html", str(target)]) == 0
    assert target.read_bytes() == b"<html>ok</html>"
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    assert main(["report", "chat-a", "--open"]) == 0
    assert opened[0].startswith("file://")
    assert Path(opened[0].removeprefix("file://")).read_bytes() == b"<html>ok</html>"
    Path(opened[0].removeprefix("file://")).unlink()


def test_report_of_a_run_without_one(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "running-run"]) == 1
    assert "no report at s3://" in capsys.readouterr().err


# --- the stack and errors from AWS ------------------------------------------------------------------------------------
def test_samconfig_names_the_stack_deploy_section_first(workdir: Path) -> None:
    assert aws.samconfig() == {"stack_name": STACK, "region": REGION, "capabilities": "CAPABILITY_IAM"}
    (workdir / "samconfig.toml").write_text(
        '[default.global.parameters]\nstack_name = "a"\n[default.deploy.parameters]\nstack_name = "b"\n'
    )
    sub = workdir / "sub"
    sub.mkdir()
    assert aws.samconfig(sub)["stack_name"] == "b"


def test_no_stack_name_anywhere_is_a_usage_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "samconfig.toml").unlink()
    assert main(["runs"]) == 2
    assert "which stack? pass --stack NAME" in capsys.readouterr().err


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_no_credentials_is_one_line_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 2
    assert _one_error_line(capsys) == (
        "bedrock-finetune: error: no AWS credentials found: run `aws configure` or `aws sso login`, set AWS_PROFILE, "
        "or pass --profile"
    )


def test_an_unknown_profile_is_one_line_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--profile", "nobody"]) == 2
    assert "AWS profile 'nobody' not found" in _one_error_line(capsys)


def test_a_missing_stack_is_one_line_exit_2(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--stack", "other-stack"]) == 2
    assert _one_error_line(capsys) == (
        f"bedrock-finetune: error: stack other-stack does not exist in {REGION} (deploy it, or pass --stack / --region)"
    )


def test_access_denied_is_one_line_exit_2_and_nothing_is_uploaded(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given credentials that may not write to the bucket
    def deny(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
        error = {"Code": "AccessDenied", "Message": "User: arn:aws:iam::123456789012:user/ci is not authorized"}
        return SimpleNamespace(status_code=403), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    class DeniedSession(boto3.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-call.s3.PutObject", deny)

    monkeypatch.setattr(aws.boto3, "Session", DeniedSession)

    # When a dataset is submitted / Then one line names the operation and AWS's reason; nothing was uploaded
    code, result = run_json(capsys, "submit", str(VALID))
    assert code == 2
    assert result["error"] == (
        "access denied: PutObject (AccessDenied): User: arn:aws:iam::123456789012:user/ci is not authorized"
    )
    assert stack.object_keys() == []


def test_an_unreachable_endpoint_is_one_line_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint nobody listens on (as AWS_ENDPOINT_URL points the commands at a local AWS)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["status", "run-1"]) == 2
    assert _one_error_line(capsys).startswith(
        "bedrock-finetune: error: cannot reach http://127.0.0.1:9/: check the network, the Region, or AWS_ENDPOINT_URL"
    )


def test_describe_turns_other_client_errors_into_one_line() -> None:
    from botocore.exceptions import ClientError

    expired = ClientError({"Error": {"Code": "ExpiredTokenException", "Message": "x"}}, "ListExecutions")
    assert aws.describe(expired).startswith("the AWS credentials have expired (ExpiredTokenException)")
    other = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate\nexceeded"}}, "ListExecutions")
    assert aws.describe(other) == "ListExecutions failed: ThrottlingException: Rate exceeded"


def test_stack_commands_need_no_stack_for_their_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--limit", "x"]) == 2
    assert "invalid int value" in capsys.readouterr().err
