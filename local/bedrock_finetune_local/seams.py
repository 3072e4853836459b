"""The two places where moto needs help to run the workflow for real (see ../shared/local-aws-notes.md):

* Lambda: without Docker, moto's Lambda answers every invoke with a canned success. Here the invoke imports the
  function's real handler (the ``Handler`` the template gave it), runs it in-process with the function's
  environment, and turns an exception into a Lambda function error whose ``errorType`` is the exception's class
  name, exactly what the state machine's Retry and Catch match on AWS.
* EventBridge: moto's rules have no Step Functions target. Here a matching rule starts the target state machine
  with the event as input, as EventBridge does.
* Step Functions: moto emits no "Execution Status Change" events. Here stopping an execution (ABORTED) puts that
  event on the default bus, so the template's rule for aborted runs invokes its cleanup function as on AWS, and
  rules with a Lambda target invoke the real handler.
* S3 bucket policies: moto ignores a statement's Condition, so the template's "deny requests without TLS" would deny
  everything. Local requests always use TLS (boto3's https endpoints), so a statement conditioned only on
  ``aws:SecureTransport`` applies exactly when its value is "true", as on AWS.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.events.models import Rule
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from bedrock_finetune import aws as lambda_aws
from bedrock_finetune_local.aws import iam

_LOCK = threading.RLock()
_installed = False
_original_boto_client_for = moto_boto_client.boto_client_for
_original_lambda_task_error = StateTaskLambda._from_error


@dataclass
class LocalContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@functools.cache
def _shared_loader() -> Any:
    return botocore.loaders.create_loader()


@contextmanager
def _default_session_from_environment() -> Iterator[None]:
    """boto3's default session caches the credentials it found first: give the handler one that reads them from
    its environment (its role's session), as a new Lambda execution environment would."""
    saved = boto3.DEFAULT_SESSION
    botocore_session = botocore.session.get_session()
    # The service models are the same for every session: load them once per process (as a warm runtime would).
    botocore_session.register_component("data_loader", _shared_loader())
    boto3.DEFAULT_SESSION = boto3.session.Session(botocore_session=botocore_session)
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def _load_handler(path: str) -> Callable[[dict[str, Any], Any], Any]:
    module_name, _, attribute = path.rpartition(".")
    handler: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler


def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    function = self.get_function(function_name, qualifier)
    event = json.loads(body) if body else {}
    variables = dict(function.environment_vars or {})
    variables.update(
        AWS_REGION=function.region,
        AWS_DEFAULT_REGION=function.region,
        AWS_LAMBDA_FUNCTION_NAME=function.function_name,
    )
    # As the Lambda runtime does: the handler's SDK finds its execution role's session in the environment.
    variables.update(iam.role_credentials(str(function.role), function.function_name).as_environment())
    context = LocalContext(
        function_name=function.function_name,
        memory_limit_in_mb=int(function.memory_size),
        invoked_function_arn=function.function_arn,
        aws_request_id=str(uuid.uuid4()),
    )
    with _LOCK, _environment(variables), _default_session_from_environment():
        # A fresh execution environment per invocation: clients cached by an earlier handler hold another role.
        lambda_aws.reset_clients()
        try:
            result = _load_handler(str(function.handler))(event, context)
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
            }
            return json.dumps(error).encode()
    return json.dumps(result).encode()


_original_send_to_targets = Rule.send_to_targets


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    state_machines = [target for target in self.targets if target["Arn"].startswith("arn:aws:states:")]
    functions = [target for target in self.targets if target["Arn"].startswith("arn:aws:lambda:")]
    if functions and self.event_pattern.matches_event(original_event):
        # EventBridge invokes a Lambda target as the service principal, allowed by the function's resource policy.
        credentials = iam.service_credentials("events.amazonaws.com", source_arn=self.arn, account=self.account_id)
        lambda_client = boto3.client("lambda", region_name=self.region_name, **credentials.as_client_kwargs())
        for target in functions:
            # EventBridge invokes asynchronously; locally the invocation is synchronous so a run's effects are
            # complete when the command that caused the event returns.
            lambda_client.invoke(FunctionName=target["Arn"], Payload=json.dumps(original_event).encode())
    if state_machines and self.event_pattern.matches_event(original_event):
        for target in state_machines:
            # EventBridge starts a Step Functions target with the target's role; without one it cannot.
            if not target.get("RoleArn"):
                continue
            credentials = iam.role_credentials(target["RoleArn"], f"events-{self.name}"[:64])
            client = boto3.client("stepfunctions", region_name=self.region_name, **credentials.as_client_kwargs())
            # EventBridge names the execution itself; moto needs an explicit, unique name.
            client.start_execution(
                stateMachineArn=target["Arn"],
                name=str(original_event.get("id") or uuid.uuid4()),
                input=json.dumps(original_event),
            )
    others = [target for target in self.targets if target not in state_machines and target not in functions]
    if others:
        saved = self.targets
        self.targets = others
        try:
            _original_send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = saved


_original_stop_execution = StepFunctionsParserBackend.stop_execution


def _stop_execution(self: StepFunctionsParserBackend, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
    execution = _original_stop_execution(self, execution_arn, *args, **kwargs)
    described = _service_client("stepfunctions", self.region_name).describe_execution(executionArn=execution_arn)
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        # moto's worker thread records ABORTED a moment later; StopExecution's outcome is ABORTED.
        "status": "ABORTED",
        "startDate": int(described["startDate"].timestamp() * 1000),
        "stopDate": int(time.time() * 1000),
        "input": described.get("input"),
    }
    _put_status_change(self.region_name, execution_arn, detail)
    return execution


def _service_client(service: str, region: str) -> Any:
    """A client for what AWS does on its own (events it emits): the account's administrator credentials, so the
    caller's role (a handler's environment) never applies to it."""
    return boto3.client(service, region_name=region, **_ADMIN_CLIENT_KWARGS)


_ADMIN_CLIENT_KWARGS = {
    "aws_access_key_id": iam.ADMIN_ACCESS_KEY,
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


def _state_machine_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """The Step Functions interpreter's clients call as the state machine's role (its execution role)."""
    role_arn = getattr(state_credentials, "role_arn", None)
    if not role_arn:
        return _original_boto_client_for(region=region, service=service, state_credentials=state_credentials)
    credentials = iam.role_credentials(str(role_arn), "states-execution")
    return boto3.client(
        service_name=service,
        region_name=region,
        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
        **credentials.as_client_kwargs(),
    )


def _lambda_task_error(self: StateTaskLambda, env: Any, ex: Exception) -> Any:
    """A Lambda task whose Invoke call fails names the error as Step Functions does: ``Lambda.<code>`` for the
    codes Lambda's API models (``Lambda.TooManyRequestsException``, ``Lambda.ServiceException``...), else
    ``Lambda.AWSLambdaException`` (e.g. AccessDeniedException), with the SDK's details in the cause (Step Functions
    Developer Guide, "Handling errors": Lambda service exceptions)."""
    if not isinstance(ex, ClientError):
        return _original_lambda_task_error(self, env, ex)
    code = str(ex.response.get("Error", {}).get("Code", ""))
    metadata = ex.response.get("ResponseMetadata", {})
    name = f"Lambda.{code}" if code in _lambda_error_codes() else "Lambda.AWSLambdaException"
    cause = (
        f"{ex.response.get('Error', {}).get('Message', '')} (Service: AWSLambda; Status Code: "
        f"{metadata.get('HTTPStatusCode', 0)}; Error Code: {code}; Request ID: {metadata.get('RequestId', '')}; "
        "Proxy: null)"
    )
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(name),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict lists every kind as required
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=name, cause=cause)
        ),
    )


@functools.cache
def _lambda_error_codes() -> frozenset[str]:
    import botocore.session  # noqa: PLC0415

    model = botocore.session.get_session().get_service_model("lambda")
    return frozenset(shape.name for shape in model.error_shapes)


_original_terminated = BaseExecutionWorkerCommunication.terminated


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    """Step Functions puts an "Execution Status Change" event on the default bus when an execution ends. ABORTED is
    sent by the stop seam (synchronously, as the stop happens); here SUCCEEDED, FAILED and TIMED_OUT. The event's
    rules run before the execution is seen as ended locally, so a run's result includes what they did."""
    _original_terminated(self)
    execution = self.execution
    settled = execution.exec_status
    status = "" if settled is None else str(settled.value if hasattr(settled, "value") else settled)
    if status not in {"SUCCEEDED", "FAILED", "TIMED_OUT"}:
        return
    execution.exec_status = ExecutionStatus.RUNNING
    try:
        detail = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": int(execution.start_date.timestamp() * 1000),
            "stopDate": int(time.time() * 1000),
            "input": json.dumps(execution.input_data),
            "output": None if execution.output is None else json.dumps(execution.output),
            "error": execution.error,
            "cause": execution.cause,
        }
        _put_status_change(execution.region_name, execution.exec_arn, detail)
    finally:
        execution.exec_status = settled


def _put_status_change(region: str, execution_arn: str, detail: dict[str, Any]) -> None:
    _service_client("events", region).put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [execution_arn],
            }
        ]
    )


_original_get_permission = FakeBucket.get_permission


def _applies_to_tls_request(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition")
    if not condition or set(condition) != {"Bool"} or set(condition["Bool"]) != {"aws:SecureTransport"}:
        return True
    return str(condition["Bool"]["aws:SecureTransport"]).lower() == "true"


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return _original_get_permission(self, action, resource)
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    applicable = [statement for statement in statements if _applies_to_tls_request(statement)]
    if not applicable:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": applicable})).is_action_permitted(action, resource)


def install() -> None:
    """Patch moto once per process (idempotent)."""
    global _installed  # noqa: PLW0603 - a process-wide patch
    if _installed:
        return
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
    FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]
    StepFunctionsParserBackend.stop_execution = _stop_execution  # type: ignore[method-assign,assignment]
    lambda_eval_utils.boto_client_for = _state_machine_client  # type: ignore[attr-defined]
    StateTaskLambda._from_error = _lambda_task_error  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    _installed = True
