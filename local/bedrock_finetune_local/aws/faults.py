"""Fault injection for any moto-mocked AWS operation: ``--fault SERVICE:Operation=ErrorCode[*N]``.

``SERVICE`` is the boto3 client name (``bedrock``, ``bedrock-runtime``, ``s3``, ``lambda``, ``sns``,
``stepfunctions``...), ``Operation`` the API operation as botocore names it (``CreateProvisionedModelThroughput``),
``ErrorCode`` the code the caller's ``ClientError`` should carry. The first ``N`` matching calls fail, or every call
without ``*N``.

How it works: moto answers boto3 from one ``before-send`` handler, ``moto.core.botocore_stubber.BotocoreStubber``,
called with ``event_name = "before-send.<service id>.<Operation>"`` (botocore's hyphenized service id: ``sfn`` for
``stepfunctions``, ``bedrock-runtime``...). While :func:`inject_faults` is active its ``__call__`` is wrapped: a
matching call gets an error response built the way the service's protocol sends errors (rest-json: header
``x-amzn-ErrorType``; json: body ``__type``; rest-xml: ``<Error><Code>``; query: ``<ErrorResponse>``; ec2:
``<Response><Errors>``), so botocore parses it into a real ``ClientError``. The HTTP status comes from the service
model's error shape when the code is modelled (Bedrock ``ThrottlingException`` is 429, Lambda ``ServiceException``
500, bedrock-runtime ``ServiceUnavailableException`` 503); otherwise 500 for ``Internal*``/``Service*Exception``
codes, 503 for ``ServiceUnavailable``/``SlowDown``, 429 for ``TooManyRequestsException`` and 400 for the rest.
Faults only fire while moto's mock is enabled; nothing ever reaches the network.

``N`` counts HTTP attempts, not API calls, and botocore retries throttling codes and 5xx statuses itself: a client
in the default ``legacy`` mode makes up to 5 attempts, ``standard`` mode 3, each with backoff sleeps. So
``ThrottlingException*2`` is absorbed by a default client (its call succeeds on the third attempt, after sleeping)
and the log shows 2 firings; the caller sees the error only when ``N`` is at least its attempt count, or without
``*N``, or with retries off (``Config(retries={"total_max_attempts": 1})``). Non-retryable codes (validation,
not-found...) fail one API call per firing. The Step Functions interpreter in moto calls Lambda and the SDK
integrations with ``total_max_attempts=1``, so there every firing is one failed Task attempt that the ASL's own
``Retry`` sees: a ``lambda:Invoke`` fault reaches a ``arn:aws:states:::lambda:invoke`` Task as error
``Lambda.<ErrorCode>`` (e.g. ``Lambda.ServiceException``).
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from bedrock_finetune_local.aws import iam
from bedrock_finetune_local.aws import pricing as local_pricing

__all__ = ["FAULT_SYNTAX", "Fault", "FaultLog", "error_response", "fired_counts", "inject_faults"]

FAULT_SYNTAX = "SERVICE:Operation=ErrorCode[*N]"
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")


@cache
def _available_services() -> tuple[str, ...]:
    return tuple(botocore.session.get_session().get_available_services())


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True)
class Fault:
    """One injected fault: ``service:operation`` answers ``error_code`` for its first ``times`` calls (None: all)."""

    service: str
    operation: str
    error_code: str
    times: int | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``SERVICE:Operation=ErrorCode[*N]``; ValueError names the part that is wrong."""
        spec = text.strip()
        target, equals, outcome = spec.partition("=")
        if not equals:
            raise ValueError(f"fault {text!r}: missing '=' before the error code; expected {FAULT_SYNTAX}")
        service, colon, operation = target.strip().partition(":")
        service, operation = service.strip(), operation.strip()
        if not colon or not service or not operation:
            raise ValueError(f"fault {text!r}: expected SERVICE:Operation before '=' (e.g. bedrock:GetCustomModel)")
        if service not in _available_services():
            close = difflib.get_close_matches(service, _available_services(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"fault {text!r}: unknown service {service!r} (use the boto3 client name){hint}")
        operations = _service_model(service).operation_names
        if operation not in operations:
            close = difflib.get_close_matches(operation, operations, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"fault {text!r}: unknown operation {operation!r} for service {service!r}{hint}")
        code, star, count = outcome.strip().partition("*")
        code, count = code.strip(), count.strip()
        if not _CODE.fullmatch(code):
            raise ValueError(f"fault {text!r}: bad error code {code!r}; expected a name like ThrottlingException")
        times: int | None = None
        if star:
            if not count.isdigit() or int(count) < 1:
                raise ValueError(f"fault {text!r}: bad count {'*' + count!r}; N must be a positive integer")
            times = int(count)
        return cls(service=service, operation=operation, error_code=code, times=times)

    def __str__(self) -> str:
        suffix = f"*{self.times}" if self.times is not None else ""
        return f"{self.service}:{self.operation}={self.error_code}{suffix}"

    @property
    def event_name(self) -> str:
        """The botocore event moto's stubber receives for this operation."""
        return f"before-send.{_service_model(self.service).service_id.hyphenize()}.{self.operation}"


class FaultLog:
    """How many times each fault fired (one firing = one failed HTTP attempt)."""

    def __init__(self, faults: Iterable[Fault]) -> None:
        self.faults = tuple(faults)
        duplicates = {str(f) for f in self.faults if self.faults.count(f) > 1}
        if duplicates:
            raise ValueError(f"duplicate faults: {', '.join(sorted(duplicates))}")
        self._fired = dict.fromkeys(self.faults, 0)
        self._events = {fault: fault.event_name for fault in self.faults}
        self._lock = threading.Lock()

    def fired(self, fault: Fault | str) -> int:
        return self._fired[fault if isinstance(fault, Fault) else Fault.parse(fault)]

    @property
    def total(self) -> int:
        return sum(self._fired.values())

    def summary(self) -> dict[str, int]:
        """``{"bedrock:CreateProvisionedModelThroughput=ThrottlingException*2": 2, ...}`` in the given order."""
        return {str(fault): count for fault, count in self._fired.items()}

    def take(self, event_name: str) -> Fault | None:
        """The first fault for ``event_name`` with calls left, counted as fired; None if no fault applies."""
        with self._lock:
            for fault in self.faults:
                if self._events[fault] == event_name and (fault.times is None or self._fired[fault] < fault.times):
                    self._fired[fault] += 1
                    return fault
        return None


# ---- error responses -----------------------------------------------------------------------------------------------
_STATUS_BY_CODE_PREFIX = (
    ("TooManyRequests", 429),
    ("ServiceUnavailable", 503),
    ("SlowDown", 503),
    ("Unavailable", 503),
    ("Internal", 500),
    ("ServiceException", 500),
    ("ServiceFailure", 500),
)


def _status_and_wire_code(service_model: Any, code: str) -> tuple[int, str]:
    for shape in service_model.error_shapes:
        error = shape.metadata.get("error", {})
        if code in (shape.name, error.get("code")):
            wire = error.get("code", shape.name) if service_model.resolved_protocol in ("query", "ec2") else code
            return int(error.get("httpStatusCode", 400)), wire
    status = next((s for prefix, s in _STATUS_BY_CODE_PREFIX if code.startswith(prefix)), 400)
    return status, code


def error_response(service: str, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS error as ``service``'s protocol sends it."""
    model = _service_model(service)
    protocol = model.resolved_protocol
    status, code = _status_and_wire_code(model, code)
    request_id = str(uuid.uuid4())
    kind = "Receiver" if status >= 500 else "Sender"
    if protocol == "rest-json":
        headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id, "Content-Type": "application/json"}
        return status, headers, json.dumps({"message": message}).encode()
    if protocol == "json":
        content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        headers = {"x-amzn-RequestId": request_id, "Content-Type": content_type}
        return status, headers, json.dumps({"__type": code, "message": message}).encode()
    text, msg = escape(code), escape(message)
    if protocol == "rest-xml" and service == "s3":
        body = f"<Error><Code>{text}</Code><Message>{msg}</Message><RequestId>{request_id}</RequestId></Error>"
        headers = {"x-amz-request-id": request_id, "Content-Type": "application/xml"}
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{text}</Code><Message>{msg}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers = {"Content-Type": "text/xml"}
    elif protocol in ("query", "rest-xml"):
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{text}</Code><Message>{msg}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}
    else:  # pragma: no cover - botocore 1.43 resolves every service to one of the protocols above
        raise ValueError(f"cannot inject faults into {service}: protocol {protocol} is not supported")
    return status, headers, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


# ---- installing ----------------------------------------------------------------------------------------------------
_active: list[FaultLog] = []
_active_lock = threading.Lock()
_original_call = BotocoreStubber.__call__


def _response(
    request: Any, service: str, code: str, message: str, *, status: int | None = None, empty_body: bool = False
) -> AWSResponse:
    wire_status, headers, body = error_response(service, code, message)
    if empty_body:
        body = b""
    return AWSResponse(request.url, status or wire_status, headers, MockRawResponse(body))


def _intercept(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> AWSResponse | None:
    """moto's before-send handler, preceded by IAM (who may call) and then the injected faults (what fails)."""
    if self.enabled:
        call = iam.current_call()
        verdict = iam.check(request)
        if verdict is not None and call is not None:
            return _response(
                request,
                call.service,
                verdict.code,
                verdict.message,
                status=verdict.status,
                empty_body=verdict.empty_body,
            )
        # Faults stand for AWS misbehaving towards the workflow: while IAM is enforced (a local run), the runner's
        # and the tests' own setup and inspection calls (administrator credentials) never see them.
        if not iam.enforcing() or iam.is_workflow_call(request):
            with _active_lock:
                logs = list(_active)
            for log in logs:
                fault = log.take(event_name)
                if fault is not None:
                    return _response(request, fault.service, fault.error_code, f"Injected fault {fault} (local AWS)")
        # Services moto does not emulate and the workflow calls: the Price List.
        served = local_pricing.answer(
            event_name, request, lambda code, message: _response(request, "pricing", code, message)
        )
        if served is not None:
            return served
    return _original_call(self, event_name, request, **kwargs)


def install() -> None:
    """Route moto's before-send handler through IAM and the fault list (idempotent)."""
    iam.install()
    BotocoreStubber.__call__ = _intercept  # type: ignore[method-assign]


def take_service_fault(service: str, operation: str) -> Fault | None:
    """A fault for a call an AWS service makes for the workflow without botocore (the local Bedrock reading the
    training data as the job's role): counted as one firing, like an HTTP attempt. Only while IAM is enforced (a
    local run), as for every other workflow call."""
    if not iam.enforcing():
        return None
    event_name = f"before-send.{_service_model(service).service_id.hyphenize()}.{operation}"
    with _active_lock:
        logs = list(_active)
    for log in logs:
        fault = log.take(event_name)
        if fault is not None:
            return fault
    return None


def is_transient_answer(status: int, code: str) -> bool:
    """Would an AWS service retry this answer from another one? Throttling codes and 429/5xx statuses."""
    return (
        status == 429
        or status >= 500
        or "Throttl" in code
        or code in {"SlowDown", "RequestTimeout", "TooManyRequestsException"}
    )


def is_transient_code(service: str, code: str) -> bool:
    """:func:`is_transient_answer` for an injected fault's code (its status as the fault's response has it)."""
    status, _ = _status_and_wire_code(_service_model(service), code)
    return is_transient_answer(status, code)


def fired_counts() -> dict[str, int]:
    """Firings per fault text across every active :func:`inject_faults` block (for the CLI summary)."""
    with _active_lock:
        logs = list(_active)
    counts: dict[str, int] = {}
    for log in logs:
        for text, count in log.summary().items():
            counts[text] = counts.get(text, 0) + count
    return counts


@contextmanager
def inject_faults(faults: Iterable[Fault]) -> Iterator[FaultLog]:
    """Make the given operations fail while the block runs; yields the :class:`FaultLog` of firings."""
    log = FaultLog(faults)
    install()
    with _active_lock:
        _active.append(log)
    try:
        yield log
    finally:
        with _active_lock:
            _active.remove(log)
