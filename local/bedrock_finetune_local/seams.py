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

import datetime as datetime_module
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
from datetime import datetime
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
from moto.stepfunctions.parser import models as sfn_models
from moto.stepfunctions.parser.api import (
    ExecutionStatus,
    HistoryEventType,
    LambdaFunctionFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.catch.catcher_decl import CatcherDecl
from moto.stepfunctions.parser.asl.component.common.catch.catcher_outcome import CatcherOutcomeCaught
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job as map_job
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import map_run_record
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval import environment
from moto.stepfunctions.parser.asl.eval.callback import callback
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client
from moto.stepfunctions.parser.backend import execution as execution_module
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from bedrock_finetune import aws as lambda_aws
from bedrock_finetune import clock as handler_clock
from bedrock_finetune_local.aws import faults, iam
from bedrock_finetune_local.clock import CLOCK, VirtualEvent

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
    """The handler's environment: a new ``os.environ`` object (the process's plus the function's variables) swapped
    in for the invocation and swapped back after it, never the shared one changed in place. Other threads (the
    interpreter's executions, the local Bedrock) keep reading the mapping they hold: botocore iterates
    ``os.environ`` whenever it creates a client (proxy settings), and a key added and removed by a handler meanwhile
    made that iteration raise KeyError."""
    saved = os.environ
    data = dict(saved._data)  # type: ignore[attr-defined]  # os._Environ's storage, already encoded
    for key, value in variables.items():
        data[saved.encodekey(key)] = saved.encodevalue(value)
    # The same class as os.environ; the swap is the point (B003: nothing is meant to be cleared).
    os.environ = os._Environ(data, saved.encodekey, saved.decodekey, saved.encodevalue, saved.decodevalue)  # noqa: B003
    try:
        yield
    finally:
        os.environ = saved  # noqa: B003


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
        # No X-Ray daemon here: Powertools Tracer is off, as SAM CLI's local invoke leaves it.
        POWERTOOLS_TRACE_DISABLED="true",
    )
    # As the Lambda runtime does: the handler's SDK finds its execution role's session in the environment.
    variables.update(iam.role_credentials(str(function.role), function.function_name).as_environment())
    context = LocalContext(
        function_name=function.function_name,
        memory_limit_in_mb=int(function.memory_size),
        invoked_function_arn=function.function_arn,
        aws_request_id=str(uuid.uuid4()),
    )
    with CLOCK.busy(), _LOCK, _environment(variables), _default_session_from_environment():
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


#: How many times each inbox event (S3 "Object Created") reaches every target of a matching rule. EventBridge
#: delivers at least once (EventBridge User Guide, "Event retry policy and using dead-letter queues": "a target may
#: receive an event more than once"); ``bedrock-finetune local run --deliveries N`` sets it to play duplicates.
INBOX_DELIVERIES = 1


def set_inbox_deliveries(count: int) -> None:
    global INBOX_DELIVERIES  # noqa: PLW0603 - one local account per process
    INBOX_DELIVERIES = max(1, int(count))


def _deliveries(event: Any) -> int:
    return INBOX_DELIVERIES if isinstance(event, dict) and event.get("source") == "aws.s3" else 1


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    with CLOCK.busy():
        _send_to_matching_targets(self, original_event, transform_input)


def _send_to_matching_targets(self: Rule, original_event: Any, transform_input: bool) -> None:
    state_machines = [target for target in self.targets if target["Arn"].startswith("arn:aws:states:")]
    functions = [target for target in self.targets if target["Arn"].startswith("arn:aws:lambda:")]
    matches = bool(self.event_pattern.matches_event(original_event))
    for delivery in range(_deliveries(original_event) if matches else 0):
        if functions:
            # EventBridge invokes a Lambda target as the service principal, allowed by the function's resource
            # policy.
            credentials = iam.service_credentials("events.amazonaws.com", source_arn=self.arn, account=self.account_id)
            lambda_client = boto3.client("lambda", region_name=self.region_name, **credentials.as_client_kwargs())
            for target in functions:
                # EventBridge invokes asynchronously; locally the invocation is synchronous so a run's effects are
                # complete when the command that caused the event returns.
                payload = json.dumps(original_event).encode()
                _deliver(
                    target["Arn"],
                    functools.partial(lambda_client.invoke, FunctionName=target["Arn"], Payload=payload),
                )
        if state_machines:
            for target in state_machines:
                # EventBridge starts a Step Functions target with the target's role; without one it cannot.
                if not target.get("RoleArn"):
                    continue
                credentials = iam.role_credentials(target["RoleArn"], f"events-{self.name}"[:64])
                client = boto3.client("stepfunctions", region_name=self.region_name, **credentials.as_client_kwargs())
                # EventBridge names each execution it starts itself, so a duplicate delivery starts another
                # execution; moto needs an explicit, unique name.
                name = original_event.get("id") if delivery == 0 else None
                start = functools.partial(
                    client.start_execution,
                    stateMachineArn=target["Arn"],
                    name=str(name or uuid.uuid4()),
                    input=json.dumps(original_event),
                )
                _deliver(target["Arn"], start)
    others = [target for target in self.targets if target not in state_machines and target not in functions]
    if others:
        saved = self.targets
        self.targets = others
        try:
            _original_send_to_targets(self, original_event, transform_input)
        finally:
            self.targets = saved


#: EventBridge retries a target that answers throttling or a 5xx error (for up to 24 hours, 185 attempts, by
#: default: EventBridge User Guide, "Event retry policy"); locally the retries are immediate and fewer.
TARGET_DELIVERY_ATTEMPTS = 5
failed_deliveries: list[dict[str, str]] = []


def _deliver(target_arn: str, send: Callable[[], Any]) -> None:
    """Deliver one event to one target as EventBridge does: retry transient answers; a target that still fails is
    recorded (on AWS: the rule's FailedInvocations metric, or the target's DLQ) and never fails the caller, whose
    PutObject or PutEvents already succeeded."""
    for attempt in range(1, TARGET_DELIVERY_ATTEMPTS + 1):
        try:
            send()
            return
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if not faults.is_transient_answer(status, code) or attempt == TARGET_DELIVERY_ATTEMPTS:
                failed_deliveries.append({"target": target_arn, "error": code, "message": str(exc)})
                return


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
        "stopDate": int(CLOCK.now() * 1000),
        "input": described.get("input"),
    }
    _put_status_change(self.region_name, execution_arn, detail)
    return execution


def _service_client(service: str, region: str) -> Any:
    """A client for what AWS does on its own (events it emits): the administrator, never a handler's role."""
    return iam.admin_client(service, region)


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


def _patch_state_machine_clients() -> None:
    """Every module of moto's interpreter that made its own reference to ``boto_client_for`` (Lambda tasks and the
    optimized service integrations) gets the role-aware one."""
    import importlib  # noqa: PLC0415
    import sys  # noqa: PLC0415

    importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns"
    )
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is (
            _original_boto_client_for
        ):
            module.boto_client_for = _state_machine_client  # type: ignore[attr-defined]
    lambda_eval_utils.boto_client_for = _state_machine_client  # type: ignore[attr-defined]


_original_map_run = DistributedIterationComponent._map_run


class MapRunDenied(Exception):
    """The state machine's role may not start the Distributed Map's child executions."""


def _map_run(self: DistributedIterationComponent, env: Any, eval_input: Any) -> None:
    """A Distributed Map starts each iteration as a child execution of the state machine, with the state machine's
    role: without ``states:StartExecution`` on the state machine itself the Map Run fails (Step Functions Developer
    Guide, "IAM policies for using Distributed Map states"). moto runs the iterations in-process without that call,
    so it is authorized here, as the role, before any iteration runs. The error name is our reading (AWS does not
    document it): States.Runtime, with the denial in the cause; the Map's Catch sees it like any other failure."""
    if iam.enforcing():
        execution_arn = str(eval_input.map_run_record.execution_arn)
        parts = execution_arn.split(":")
        state_machine_arn = ":".join([*parts[:5], "stateMachine", parts[6]])
        credentials = iam.role_credentials(str(env.aws_execution_details.role_arn), "states-map-run")
        principal = iam.principal_for(credentials.access_key)
        call = iam.Call("stepfunctions", "StartExecution", {"stateMachineArn": state_machine_arn}, parts[3])
        verdict = iam.authorize(principal, call) if principal is not None else None
        if verdict is not None:
            # moto names an exception raised here States.Runtime, with the exception in the cause
            raise MapRunDenied(f"The Map Run could not start its child executions: {verdict.message}")
    _original_map_run(self, env, eval_input)


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
            "stopDate": int(CLOCK.now() * 1000),
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


# ---- time: the interpreter runs on the virtual clock ------------------------------------------------------------
class _VirtualTime:
    """What moto's retrier sees as ``time``: its backoff sleeps on the virtual clock."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        CLOCK.sleep(seconds)


class _VirtualThreading:
    """What a module of moto's interpreter sees as ``threading``: its Events wait on the virtual clock."""

    Event = VirtualEvent

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


class _TaskThread(threading.Thread):
    """The thread that runs one Task state: busy (the clock does not jump under it) except while it waits."""

    def run(self) -> None:
        with CLOCK.busy():
            super().run()


def _virtual_wait(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    """A Wait state waits in simulated time; stopping the execution sets its program state event and ends it."""
    if wait_seconds > 0:
        CLOCK.wait_for(env.program_state_event.is_set, wait_seconds)


def _history_timestamp() -> datetime:
    CLOCK.touch()
    return CLOCK.datetime()


_original_set_next = CommonStateField._set_next
_original_catcher_eval = CatcherDecl._eval_body


def _catcher_eval(self: CatcherDecl, env: Any) -> None:
    _original_catcher_eval(self, env)
    if env.stack and isinstance(env.stack[-1], CatcherOutcomeCaught):
        env.catch_chose_next = True


def _set_next(self: CommonStateField, env: Any) -> None:
    """After a Catch, the state goes where the Catch says, even when that is the state itself. moto decides whether
    a Catch chose the next state by comparing it with the state's own name, so a Catch that re-enters its state (a
    valid ASL loop: States Language, "Catch": "Next" names any state) fell through to the state's Next instead."""
    if getattr(env, "catch_chose_next", False):
        env.catch_chose_next = False
        return
    _original_set_next(self, env)


def _install_clock() -> None:
    retrier_decl.time = _VirtualTime()  # type: ignore[assignment,attr-defined]
    WaitFunction._wait_interval = _virtual_wait  # type: ignore[method-assign]
    execute_state.threading = _VirtualThreading()  # type: ignore[assignment,attr-defined]
    execute_state.Thread = _TaskThread  # type: ignore[attr-defined]
    environment.threading = _VirtualThreading()  # type: ignore[assignment,attr-defined]
    # A Map state's worker (a busy Task-state thread) waits for its iterations on these Events: the wait must
    # suspend its busy work, or simulated time could never move while iterations wait.
    map_job.threading = _VirtualThreading()  # type: ignore[assignment,attr-defined]
    map_run_record.threading = _VirtualThreading()  # type: ignore[assignment,attr-defined]
    branches_decl.threading = _VirtualThreading()  # type: ignore[assignment,attr-defined]
    callback.Event = VirtualEvent  # type: ignore[attr-defined]
    EventManager._get_current_timestamp = staticmethod(_history_timestamp)  # type: ignore[method-assign]
    execution_module.datetime = _VirtualDatetimeModule()  # type: ignore[assignment,attr-defined]
    sfn_models.datetime = _VirtualDatetimeModule()  # type: ignore[assignment,attr-defined]
    state_module.datetime = _VirtualDatetimeModule()  # type: ignore[assignment,attr-defined]
    handler_clock.use(CLOCK.now, CLOCK.sleep)
    CommonStateField._set_next = _set_next  # type: ignore[method-assign]
    CatcherDecl._eval_body = _catcher_eval  # type: ignore[method-assign]


class _VirtualDatetimeModule:
    """``datetime`` as moto's execution module sees it: executions start and stop on the virtual clock."""

    class datetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            moment = CLOCK.datetime()
            return moment if tz is None else moment.astimezone(tz)

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime_module, name)


_original_validate_definition = StepFunctionsParserBackend._validate_definition
_valid_definitions: set[str] = set()


def _validate_definition(definition: str) -> None:
    """moto parses a definition with its ASL grammar on every CreateStateMachine (~0.7 s for ours); each local run
    deploys the same text, so a definition that parsed once is not parsed again. A definition that fails is
    re-checked every time (and still fails)."""
    if definition in _valid_definitions:
        return
    _original_validate_definition(definition)
    _valid_definitions.add(definition)


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
    _patch_state_machine_clients()
    StateTaskLambda._from_error = _lambda_task_error  # type: ignore[method-assign]
    DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)  # type: ignore[method-assign]
    _install_clock()
    _installed = True
