"""Which AWS error codes are transient, derived from botocore's own data rather than from memory.

The operations are the ones the Lambda package really calls (found in its source by their boto3 method names); the
codes come from botocore's retry configuration (``botocore/data/_retry.json``, ``botocore/retries/standard.py``) and
from the service models (``botocore/data/<service>/*/service-2.json``): every error of those operations that is
modelled ``retryable`` or answered with 429/5xx, and every throttling error of those services (SNS throttles with
``ThrottledException``, whose wire code is ``Throttled``, even though botocore's Publish lists only some errors).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from bedrock_finetune import aws
from bedrock_finetune.errors import TransientAwsError

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "bedrock_finetune"
SERVICES = ("s3", "sns", "bedrock", "bedrock-runtime")


@cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def used_operations() -> dict[str, list[str]]:
    """Per service, the operations whose boto3 method (``.head_object(``) or paginator (``"list_x"``) the package
    source names."""
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    used: dict[str, list[str]] = {}
    for service in SERVICES:
        names = [
            name
            for name in _model(service).operation_names
            if re.search(rf"\.{xform_name(name)}\(|\"{xform_name(name)}\"", source)
        ]
        used[service] = sorted(names)
    return used


def _wire_code(shape: Any) -> str:
    return str(shape.metadata.get("error", {}).get("code", shape.name))


def _status(shape: Any) -> int:
    return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))


def modelled_transient_errors() -> set[tuple[str, str, int]]:
    """(service, wire code, HTTP status) of every error botocore's models make retryable for the used operations."""
    found: set[tuple[str, str, int]] = set()
    for service, operations in used_operations().items():
        model = _model(service)
        for operation in operations:
            for shape in model.operation_model(operation).error_shapes:
                status = _status(shape)
                if shape.metadata.get("retryable") is not None or status == 429 or status >= 500:
                    found.add((service, _wire_code(shape), status))
        for shape in model.error_shapes:
            if "throttl" in shape.name.lower() or "throttl" in _wire_code(shape).lower():
                found.add((service, _wire_code(shape), _status(shape)))
    return found


def retry_config_codes() -> set[str]:
    """Error codes in botocore's legacy retry config (default and the used services) and in its standard mode."""
    config = json.loads((Path(botocore.__file__).parent / "data" / "_retry.json").read_text())
    sections = [config["retry"]["__default__"], *(config["retry"].get(s, {}) for s in SERVICES)]
    codes: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                collect(config["definitions"][node["$ref"]])
            code = node.get("service_error_code")
            if isinstance(code, str):
                codes.add(code)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for section in sections:
        collect(section.get("policies", {}))
        for operation in section.values():
            if isinstance(operation, dict):
                collect(operation.get("policies", {}))
    codes.update(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
    codes.update(TransientRetryableChecker._TRANSIENT_ERROR_CODES)
    return codes


def client_error(code: str, status: int, operation: str = "Publish") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def test_the_used_operations_are_found_in_the_source() -> None:
    # Given the package source
    # When the operations it calls are looked up
    used = used_operations()

    # Then the scan sees the calls that matter here (so the derived codes below are not vacuous)
    assert "Publish" in used["sns"]
    assert {"DeleteProvisionedModelThroughput", "StopModelCustomizationJob", "ListCustomModelDeployments"} <= set(
        used["bedrock"]
    )
    assert {"HeadObject", "CopyObject", "PutObject", "DeleteObject"} <= set(used["s3"])
    assert "Converse" in used["bedrock-runtime"]


@pytest.mark.parametrize(("service", "code", "status"), sorted(modelled_transient_errors()))
def test_every_retryable_error_botocore_models_for_the_used_operations_is_transient(
    service: str, code: str, status: int
) -> None:
    # Given an error botocore's model makes retryable (retryable trait, 429/5xx, or a throttling error of the service)
    error = client_error(code, status)

    # When it passes through the package's error translation, Then it is retried with backoff
    with pytest.raises(TransientAwsError), aws.transient_errors():
        raise error


@pytest.mark.parametrize("code", sorted(retry_config_codes()))
def test_every_code_botocore_retries_is_transient_even_with_a_400_status(code: str) -> None:
    # Given a code botocore's retry handlers treat as throttling or transient, sent with a plain 400
    error = client_error(code, 400)

    # When it passes through the package's error translation, Then it is retried with backoff
    assert aws.is_transient(error), code
    with pytest.raises(TransientAwsError), aws.transient_errors():
        raise error


def test_sns_throttling_codes_include_the_wire_code_throttled() -> None:
    # Given SNS's throttling errors as botocore models them
    sns = {code for service, code, _ in modelled_transient_errors() if service == "sns"}

    # Then the wire codes SNS really sends are among them, and each is transient
    assert {"Throttled", "KMSThrottling"} <= sns
    assert all(aws.is_transient(client_error(code, 400)) for code in sns)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ValidationException", 400), ("AccessDeniedException", 403), ("ConflictException", 400), ("NotFound", 404)],
)
def test_permanent_errors_are_not_transient(code: str, status: int) -> None:
    # Given an error that retrying cannot fix
    error = client_error(code, status)

    # When it passes through the translation, Then it is raised unchanged
    assert not aws.is_transient(error)
    with pytest.raises(ClientError), aws.transient_errors():
        raise error
