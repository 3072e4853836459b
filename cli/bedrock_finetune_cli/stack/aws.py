"""The deployed stack as the CLI sees it: boto3's default credentials, the stack found by name, its outputs.

The stack name comes from ``--stack``, else from ``samconfig.toml`` (the one in the current folder or the nearest
parent folder; ``stack_name`` of ``[default.deploy.parameters]``, else of ``[default.global.parameters]``, as ``sam
deploy`` reads it). The Region comes from ``--region``, else boto3's own chain (``AWS_REGION``, ``AWS_DEFAULT_REGION``,
the profile), else ``samconfig.toml``'s ``region``. ``AWS_ENDPOINT_URL`` (boto3 reads it) points every client at
another endpoint, e.g. a local AWS.

Every error from AWS becomes :class:`AwsError`, one line on stderr and exit 2 (:func:`aws_errors`).
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import ConnectionError as EndpointError

from bedrock_finetune_cli.common import UsageError

SAMCONFIG = "samconfig.toml"
SAMCONFIG_SECTIONS = ("global", "deploy")  # later sections win, as in SAM CLI
OUTPUT_BUCKET = "BucketName"
OUTPUT_STATE_MACHINE = "StateMachineArn"
OUTPUT_RETIRE_STATE_MACHINE = "RetireStateMachineArn"
OUTPUT_TOPIC = "NotificationTopicArn"
REQUIRED_OUTPUTS = (OUTPUT_BUCKET, OUTPUT_STATE_MACHINE)
ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "Forbidden",
}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
REJECTED = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAccessKeyId"}


class AwsError(UsageError):
    """An error from AWS, said in one line (exit 2)."""


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    session: Any
    clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str) -> Any:
        """One client per service (creating one loads its service model: about 0.1 s)."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service, region_name=self.region)
        return self.clients[service]

    @property
    def bucket(self) -> str:
        return self.outputs[OUTPUT_BUCKET]

    @property
    def state_machine_arn(self) -> str:
        return self.outputs[OUTPUT_STATE_MACHINE]

    @property
    def retire_state_machine_arn(self) -> str:
        arn = self.outputs.get(OUTPUT_RETIRE_STATE_MACHINE)
        if not arn:
            raise UsageError(
                f"stack {self.name} has no output {OUTPUT_RETIRE_STATE_MACHINE}: deploy the current template.yaml"
            )
        return arn


def samconfig(folder: Path | None = None) -> dict[str, str]:
    """``stack_name``, ``region``, ``profile``... of the nearest ``samconfig.toml`` (default environment), or {}."""
    start = (folder or Path.cwd()).resolve()
    path = next((parent / SAMCONFIG for parent in [start, *start.parents] if (parent / SAMCONFIG).is_file()), None)
    if path is None:
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: {error}") from error
    environment = document.get("default")
    settings: dict[str, str] = {}
    for section in SAMCONFIG_SECTIONS:
        parameters = ((environment or {}).get(section) or {}).get("parameters") or {}
        settings.update({str(key): str(value) for key, value in parameters.items() if isinstance(value, str | int)})
    return settings


def connect(stack_name: str | None, region: str | None, profile: str | None) -> Stack:
    """The stack, its outputs and parameters (CloudFormation DescribeStacks)."""
    settings = samconfig()
    name = stack_name or settings.get("stack_name")
    if not name:
        raise UsageError(f"which stack? pass --stack NAME, or run where {SAMCONFIG} names it (stack_name)")
    try:
        session = boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound as error:
        raise AwsError(
            f"AWS profile {error.kwargs.get('profile', profile)!r} not found in the AWS config files"
        ) from None
    chosen_region = region or session.region_name or settings.get("region")
    if not chosen_region:
        raise UsageError(f"which Region? pass --region, set AWS_REGION, or set region in {SAMCONFIG}")
    cloudformation = session.client("cloudformation", region_name=chosen_region)
    try:
        found = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if _code(error) == "ValidationError" and "does not exist" in _message(error):
            raise AwsError(
                f"stack {name} does not exist in {chosen_region} (deploy it, or pass --stack / --region)"
            ) from None
        raise
    stack = found[0]
    outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs") or []}
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise UsageError(
            f"stack {name} in {chosen_region} ({stack.get('StackStatus')}) has no output {', '.join(missing)}: "
            "is it a bedrock-finetune stack, completely deployed?"
        )
    parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters") or []}
    return Stack(name=name, region=chosen_region, outputs=outputs, parameters=parameters, session=session)


def aws_errors(command: Callable[..., int]) -> Callable[..., int]:
    """Run a command; any error from AWS becomes one clear line (AwsError: exit 2, no traceback)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> int:
        try:
            return command(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            raise AwsError(describe(error)) from None

    return run


def describe(error: Exception) -> str:
    """One line for a person: what went wrong and what to do."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials found: run `aws configure` or `aws sso login`, set AWS_PROFILE, or pass --profile"
    if isinstance(error, EndpointError | HTTPClientError):
        endpoint = getattr(error, "kwargs", {}).get("endpoint_url") or "the AWS endpoint"
        return f"cannot reach {endpoint}: check the network, the Region, or AWS_ENDPOINT_URL ({_one_line(str(error))})"
    if isinstance(error, ClientError):
        code, message, operation = _code(error), _one_line(_message(error)), error.operation_name
        if code in ACCESS_DENIED or (_status(error) == 403 and code not in EXPIRED | REJECTED):
            return f"access denied: {operation} ({code}): {message}"
        if code in EXPIRED:
            return f"the AWS credentials have expired ({code}): refresh them (e.g. `aws sso login`) and try again"
        if code in REJECTED:
            return f"AWS rejected the credentials ({code}): check the access key, the profile or the Region"
        return f"{operation} failed: {code}: {message}"
    return _one_line(str(error))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def is_error(error: ClientError, *codes: str) -> bool:
    return _code(error) in codes


# --- names and links -------------------------------------------------------------------------------------------------
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>``."""
    head, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{head}:execution:{machine}:{name}"


def console_url(execution: str) -> str:
    """The execution's page in the Step Functions console."""
    parts = execution.split(":")
    partition, region = parts[1], parts[3]
    domain = CONSOLE_DOMAINS.get(partition, CONSOLE_DOMAINS["aws"])
    return f"https://{region}.{domain}/states/home?region={region}#/v2/executions/details/{execution}"


# --- S3 --------------------------------------------------------------------------------------------------------------
def get_object(s3: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when it does not exist."""
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if is_error(error, "NoSuchKey", "404", "NotFound"):
            return None
        raise
    return body


def get_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    data = get_object(s3, bucket, key)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
