"""Fault injection: parsing, first-N and all-calls faults, protocols, client retries, Step Functions."""

from __future__ import annotations

import json
import time
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError
from moto.core.botocore_stubber import BotocoreStubber

from bedrock_finetune_local.aws import Fault, fired_counts, inject_faults

from .conftest import ACCOUNT, NO_RETRIES, client


def error_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return dict(error.value.response)


# --- parsing --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "bedrock:CreateProvisionedModelThroughput=ThrottlingException*2",
            Fault("bedrock", "CreateProvisionedModelThroughput", "ThrottlingException", 2),
        ),
        (
            "bedrock-runtime:Converse=ServiceUnavailableException",
            Fault("bedrock-runtime", "Converse", "ServiceUnavailableException"),
        ),
        (" s3 : CopyObject = InternalError * 1 ", Fault("s3", "CopyObject", "InternalError", 1)),
    ],
)
def test_parse_reads_service_operation_code_and_count(text: str, expected: Fault) -> None:
    # Given a fault in the CLI syntax
    # When it is parsed
    fault = Fault.parse(text)

    # Then every part is read, and it prints back canonically
    assert fault == expected
    assert Fault.parse(str(fault)) == fault


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("bedrock:GetCustomModel", "missing '='"),
        ("GetCustomModel=ThrottlingException", "expected SERVICE:Operation"),
        (
            "bedrok:GetCustomModel=ThrottlingException",
            "unknown service 'bedrok' (use the boto3 client name); did you mean bedrock",
        ),
        ("bedrock:GetCustomModels=ThrottlingException", "unknown operation 'GetCustomModels'"),
        ("bedrock:GetCustomModel=", "bad error code ''"),
        ("bedrock:GetCustomModel=Throttling Exception", "bad error code"),
        ("bedrock:GetCustomModel=ThrottlingException*0", "bad count '*0'"),
        ("bedrock:GetCustomModel=ThrottlingException*x", "bad count '*x'"),
    ],
)
def test_parse_names_the_bad_part(text: str, complaint: str) -> None:
    # Given a malformed fault
    # When it is parsed
    with pytest.raises(ValueError, match="fault ") as error:
        Fault.parse(text)

    # Then the error names what is wrong
    assert complaint in str(error.value)


# --- firing ---------------------------------------------------------------------------------------------------------
def test_first_n_calls_fail_then_the_operation_succeeds(bedrock: Any) -> None:
    # Given a fault on the first two ListCustomModels calls and a client without retries
    fault = Fault.parse("bedrock:ListCustomModels=ThrottlingException*2")

    with inject_faults([fault]) as log:
        # When the operation is called three times
        errors = [error_of(bedrock.list_custom_models) for _ in range(2)]
        third = bedrock.list_custom_models()

    # Then the first two fail as Bedrock throttling (429), the third succeeds, and the log counts exactly 2
    assert [e["Error"]["Code"] for e in errors] == ["ThrottlingException", "ThrottlingException"]
    assert {e["ResponseMetadata"]["HTTPStatusCode"] for e in errors} == {429}
    assert third["modelSummaries"] == []
    assert log.fired(fault) == 2
    assert log.summary() == {"bedrock:ListCustomModels=ThrottlingException*2": 2}


def test_fault_without_count_fails_every_call_and_only_that_operation(bedrock: Any) -> None:
    # Given a fault on every ListCustomModels call
    with inject_faults([Fault.parse("bedrock:ListCustomModels=ValidationException")]) as log:
        # When it is called four times, and another operation once
        codes = [error_of(bedrock.list_custom_models)["Error"]["Code"] for _ in range(4)]
        other = bedrock.list_model_customization_jobs()

    # Then every call failed, the other operation did not, and the fault is gone after the block
    assert codes == ["ValidationException"] * 4
    assert other["modelCustomizationJobSummaries"] == []
    assert log.total == 4
    assert bedrock.list_custom_models()["modelSummaries"] == []


def test_fired_counts_merges_every_active_block(bedrock: Any) -> None:
    # Given two nested fault blocks
    with (
        inject_faults([Fault.parse("bedrock:ListCustomModels=ThrottlingException*1")]),
        inject_faults([Fault.parse("bedrock:ListFoundationModels=ValidationException")]),
    ):
        # When each faulty operation is called once
        error_of(bedrock.list_custom_models)
        error_of(bedrock.list_foundation_models)
        during = fired_counts()

    # Then the CLI summary shows both while active, and nothing afterwards
    assert during == {
        "bedrock:ListCustomModels=ThrottlingException*1": 1,
        "bedrock:ListFoundationModels=ValidationException": 1,
    }
    assert fired_counts() == {}


def test_faults_on_the_same_operation_fire_in_order(bedrock: Any) -> None:
    # Given two faults on one operation
    throttle, internal = (
        Fault.parse("bedrock:ListCustomModels=ThrottlingException*1"),
        Fault.parse("bedrock:ListCustomModels=InternalServerException*1"),
    )

    with inject_faults([throttle, internal]) as log:
        # When it is called three times
        codes = [error_of(bedrock.list_custom_models)["Error"]["Code"] for _ in range(2)]
        bedrock.list_custom_models()

    # Then the first fault is used up before the second fires
    assert codes == ["ThrottlingException", "InternalServerException"]
    assert (log.fired(throttle), log.fired(internal)) == (1, 1)


@pytest.mark.parametrize(
    ("service", "fault", "call", "code", "status"),
    [
        pytest.param("s3", "s3:CopyObject=InternalError*1", "copy", "InternalError", 500, id="s3-rest-xml"),
        pytest.param("sns", "sns:ListTopics=Throttling*1", "list_topics", "Throttling", 400, id="sns-query"),
        pytest.param(
            "sns",
            "sns:ListTopics=AuthorizationErrorException*1",
            "list_topics",
            "AuthorizationError",
            403,
            id="sns-modelled",
        ),
        pytest.param(
            "lambda",
            "lambda:ListFunctions=ServiceException*1",
            "list_functions",
            "ServiceException",
            500,
            id="lambda-rest-json",
        ),
        pytest.param(
            "stepfunctions",
            "stepfunctions:ListStateMachines=ThrottlingException*1",
            "list_state_machines",
            "ThrottlingException",
            400,
            id="sfn-json",
        ),
        pytest.param(
            "bedrock-runtime",
            "bedrock-runtime:Converse=ServiceUnavailableException*1",
            "converse",
            "ServiceUnavailableException",
            503,
            id="runtime-rest-json",
        ),
    ],
)
def test_faults_speak_each_protocol(service: str, fault: str, call: str, code: str, status: int) -> None:
    # Given a client without retries for a service of each protocol
    service_client = client(service, NO_RETRIES)
    kwargs: dict[str, Any] = {}
    if call == "copy":
        service_client.create_bucket(Bucket="fault-bucket")
        service_client.put_object(Bucket="fault-bucket", Key="k", Body=b"x")
        source = {"Bucket": "fault-bucket", "Key": "k"}
        call, kwargs = "copy_object", {"Bucket": "fault-bucket", "Key": "k2", "CopySource": source}
    if call == "converse":
        kwargs = {"modelId": "amazon.nova-micro-v1:0", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}

    with inject_faults([Fault.parse(fault)]) as log:
        # When the operation is called twice
        error = error_of(getattr(service_client, call), **kwargs)
        getattr(service_client, call)(**kwargs)

    # Then botocore parsed a ClientError with the code and status, and the second call went through
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "Injected fault" in error["Error"]["Message"]
    assert log.total == 1


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record botocore's retry backoff instead of sleeping, so default-retry tests stay fast."""
    recorded: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", recorded.append)
    return recorded


def test_default_client_retries_absorb_a_short_fault(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a client with botocore's default retries and a fault on the first two attempts
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    bedrock = client("bedrock")
    fault = Fault.parse("bedrock:ListCustomModels=ThrottlingException*2")

    with inject_faults([fault]) as log:
        # When the operation is called once
        response = bedrock.list_custom_models()

    # Then the call succeeds after two hidden retries, each of which counted as a firing
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert log.fired(fault) == 2
    assert len(sleeps) == 2


def test_default_client_sees_the_error_when_the_fault_outlasts_its_retries(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client with botocore's default retries (legacy mode, whatever the developer's environment says)
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    # And a fault on every attempt
    bedrock = client("bedrock")
    fault = Fault.parse("bedrock:ListCustomModels=ThrottlingException")

    with inject_faults([fault]) as log:
        # When the operation is called once
        error = error_of(bedrock.list_custom_models)

    # Then the caller sees the error after the client's attempts (legacy mode: 5), all counted
    attempts = error["ResponseMetadata"]["RetryAttempts"] + 1
    assert error["Error"]["Code"] == "ThrottlingException"
    assert attempts == 5
    assert log.fired(fault) == attempts
    assert len(sleeps) == attempts - 1


def test_faults_never_fire_while_moto_is_off() -> None:
    # Given an active fault and a moto stubber that is switched off (as outside mock_aws)
    fault = Fault.parse("sts:GetCallerIdentity=ThrottlingException")
    stubber = BotocoreStubber()
    request = AWSPreparedRequest("POST", "https://sts.amazonaws.com/", {}, b"", stream_output=False)

    with inject_faults([fault]) as log:
        # When botocore offers it a request for that operation
        response = stubber("before-send.sts.GetCallerIdentity", request)

    # Then the request is left to the real network and the fault did not fire
    assert response is None
    assert log.total == 0


# --- Step Functions: a lambda:Invoke fault reaches the state machine ------------------------------------------------
def test_lambda_invoke_fault_reaches_the_state_machine_as_a_lambda_error() -> None:
    # Given a state machine that invokes a Lambda function through the optimized integration and catches its errors
    iam = client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName="step", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": b"x"}
    )
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "step", "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    fault = Fault.parse("lambda:Invoke=ServiceException*1")

    with inject_faults([fault]) as log:
        # When it runs
        execution = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
        described = wait_for(sfn, execution)

    # Then the Task failed with Lambda.ServiceException, which the Catch routed, and the fault fired once
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "Lambda.ServiceException"
    assert log.fired(fault) == 1
    assert f":{ACCOUNT}:" in machine


def wait_for(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.05)
    return dict(described)
