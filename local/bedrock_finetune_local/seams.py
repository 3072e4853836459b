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
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.events.models import Rule
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_LOCK = threading.RLock()
_installed = False


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
    context = LocalContext(
        function_name=function.function_name,
        memory_limit_in_mb=int(function.memory_size),
        invoked_function_arn=function.function_arn,
        aws_request_id=str(uuid.uuid4()),
    )
    with _LOCK, _environment(variables):
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
        lambda_client = boto3.client("lambda", region_name=self.region_name)
        for target in functions:
            # EventBridge invokes asynchronously; locally the invocation is synchronous so a run's effects are
            # complete when the command that caused the event returns.
            lambda_client.invoke(FunctionName=target["Arn"], Payload=json.dumps(original_event).encode())
    if state_machines and self.event_pattern.matches_event(original_event):
        client = boto3.client("stepfunctions", region_name=self.region_name)
        for target in state_machines:
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
    described = boto3.client("stepfunctions", region_name=self.region_name).describe_execution(
        executionArn=execution_arn
    )
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
    boto3.client("events", region_name=self.region_name).put_events(
        Entries=[
            {
                "Source": "aws.states",
                "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail),
                "Resources": [execution_arn],
            }
        ]
    )
    return execution


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
    _installed = True
