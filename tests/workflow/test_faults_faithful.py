"""``--fault`` is faithful: faults hit the calls the workflow makes (handlers, state machine integrations,
EventBridge targets), never the local runner's own setup and inspection; ``*N`` counts HTTP attempts, botocore's
own retries included; a ``lambda:Invoke`` fault surfaces with Step Functions' ``Lambda.*`` error names; ``--json``
says how often each fault fired; and no fault crashes the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner
from bedrock_finetune_local.cli import main

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"


def run(*faults: str, **kwargs: Any) -> runner.RunResult:
    return runner.run(runner.RunOptions(dataset=VALID, faults=list(faults), **kwargs))


def line(result: runner.RunResult, state: str) -> runner.StateLine:
    return next(item for item in result.timeline if item.name == state)


def test_a_fault_on_an_operation_the_runner_also_uses_hits_only_the_workflow() -> None:
    # Given every PutObject refused: the runner uploads the dataset with PutObject too
    fault = "s3:PutObject=AccessDenied"

    # When the run starts from the inbox
    result = run(fault)

    # Then the runner's own upload went through (an execution started from the inbox event)
    assert result.execution_arn is not None
    assert result.states[0] == "ResolveConfig"
    # And the workflow's first write (ValidateDataset's validation.json) failed and was caught into Cleanup
    assert result.status == "FAILED"
    assert line(result, "ValidateDataset").outcome == "caught"
    assert result.faults_fired[fault] > 0


def test_star_n_counts_http_attempts_including_botocore_retries() -> None:
    # Given throttling on the job status call, twice and three times. The handlers' clients make up to 3 attempts
    # per call (botocore standard mode, max_attempts=2 retries): each failed attempt is one firing
    twice = run("bedrock:GetModelCustomizationJob=ThrottlingException*2")
    thrice = run("bedrock:GetModelCustomizationJob=ThrottlingException*3")

    # Then two firings are absorbed by botocore's own retries inside one Lambda attempt: no state is retried
    assert twice.status == "SUCCEEDED", twice.error
    assert twice.faults_fired == {"bedrock:GetModelCustomizationJob=ThrottlingException*2": 2}
    assert all(item.outcome == "ok" for item in twice.timeline if item.name == "AwaitJobEnd")
    # And three firings exhaust one Lambda attempt: the state machine retries the state, and the run succeeds
    assert thrice.status == "SUCCEEDED", thrice.error
    assert thrice.faults_fired == {"bedrock:GetModelCustomizationJob=ThrottlingException*3": 3}
    assert any(item.name == "AwaitJobEnd" and item.outcome == "retried x1" for item in thrice.timeline)


@pytest.mark.parametrize(
    ("code", "error_name", "status"),
    [
        # Lambda's modelled errors keep their code (Step Functions Developer Guide, "Handling errors")
        ("TooManyRequestsException", "Lambda.TooManyRequestsException", "SUCCEEDED"),
        ("ServiceException", "Lambda.ServiceException", "SUCCEEDED"),
        # Anything else Lambda answers (an AccessDeniedException) reaches the state as Lambda.AWSLambdaException
        ("AccessDeniedException", "Lambda.AWSLambdaException", "SUCCEEDED"),
        # A modelled error the ASL does not retry is caught into Cleanup under its Lambda.* name
        ("ResourceNotFoundException", "Lambda.ResourceNotFoundException", "FAILED"),
    ],
)
def test_a_lambda_invoke_fault_surfaces_with_step_functions_lambda_error_names(
    code: str, error_name: str, status: str
) -> None:
    # Given the state machine's first Lambda invoke failing once (a console start: from the inbox, the first Lambda
    # invoke is EventBridge's of the inbox starter)
    result = run(f"lambda:Invoke={code}*1", via="console")

    # Then ResolveConfig saw the Lambda.* name: retried when the ASL retries it, caught otherwise
    first = line(result, "ResolveConfig")
    assert error_name in first.detail
    assert result.status == status, result.error
    if status == "FAILED":
        assert result.error is not None
        assert result.error["error"] == error_name


def test_json_reports_firings_and_a_fault_on_an_inspection_call_never_crashes_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given faults on calls only the runner makes (following the execution, listing leftovers)
    faults = ["stepfunctions:DescribeExecution=InternalServerError", "bedrock:ListCustomModels=ThrottlingException"]
    argv = ["local", "run", "--dataset", str(VALID), "--json"]
    for fault in faults:
        argv += ["--fault", fault]

    # When the CLI runs
    code = main(argv)

    # Then it printed one JSON object, the run succeeded, and neither fault fired (they are not workflow calls)
    printed = json.loads(capsys.readouterr().out)
    assert code == 0, printed["error"]
    assert printed["status"] == "SUCCEEDED"
    assert printed["faults_fired"] == dict.fromkeys(faults, 0)


def test_a_permanent_fault_everywhere_in_one_service_ends_failed_with_json_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given every SNS publish refused: no notification can go out
    code = main(["local", "run", "--dataset", str(VALID), "--json", "--fault", "sns:Publish=AuthorizationError"])

    # Then the CLI exits 1 with its JSON object (the run FAILED), and the fault's firings are counted
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert code == 1
    assert printed["status"] == "FAILED"
    assert printed["faults_fired"]["sns:Publish=AuthorizationError"] >= 1
    assert "Traceback" not in captured.err
