"""``bedrock-finetune local serve``: the local AWS as an HTTP endpoint on 127.0.0.1.

The same local account as ``local run`` (moto with the workflow's extensions: the real handlers behind Lambda, the
local Bedrock, EventBridge targets, IAM for the workflow's own principals), with the stack deployed from
``template.yaml`` under the stack name of ``samconfig.toml``, served by moto's server mode. Calls from outside
(the stack commands of the CLI, boto3 scripts, the AWS CLI) reach it through ``AWS_ENDPOINT_URL``; they sign as the
account's administrator (any keys do). A CloudFormation stack of that name describes the deployment (its Outputs
and Parameters, as on AWS), so ``bedrock-finetune submit`` finds the bucket and the state machine without
``--stack``.

Ctrl-C (SIGINT) or SIGTERM stops the server, ends the local account and removes the temporary folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from bedrock_finetune_local import runner, stack

HOST = "127.0.0.1"
DEFAULT_STACK_NAME = "bedrock-finetune"
#: The template's Outputs, as the local deploy names them (logical id of the resource behind each).
OUTPUTS = {
    "BucketName": "DataBucket",
    "StateMachineArn": "FineTuneStateMachine",
    "NotificationTopicArn": "NotificationTopic",
    "RetireStateMachineArn": "RetireStateMachine",
}


def stack_name(root: Path | None = None) -> str:
    """``samconfig.toml``'s ``stack_name`` (global parameters, else deploy parameters), else the default."""
    path = (root or stack.project_root()) / "samconfig.toml"
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return DEFAULT_STACK_NAME
    default = config.get("default") or {}
    for section in ("global", "deploy"):
        name = ((default.get(section) or {}).get("parameters") or {}).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_STACK_NAME


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(port: int = 0) -> Iterator[tuple[str, stack.Stack]]:
    """The local account with the stack deployed and moto's server on ``port`` (0: a free one): yields the endpoint
    URL and the deployed stack; everything is stopped and removed on exit."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - moto's server mode, only when serving

    # One line per HTTP request on stderr helps nobody reading the announcements.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    folder = Path(tempfile.mkdtemp(prefix="bedrock-finetune-serve-"))
    try:
        name = stack_name()
        options = runner.RunOptions(dataset=folder / "none.jsonl", stack_name=name)
        with runner.local_aws_session(options, folder / "lambda.log") as deployed:
            _describe_as_cloudformation(deployed)
            server = ThreadedMotoServer(ip_address=HOST, port=port or free_port(), verbose=False)
            server.start()
            try:
                host, bound = server.get_host_and_port()
                yield f"http://{host}:{bound}", deployed
            finally:
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _describe_as_cloudformation(deployed: stack.Stack) -> None:
    """A CloudFormation stack named like the deployment, whose Outputs and Parameters are the deployment's, so that
    ``DescribeStacks`` answers as it would on AWS (the resources themselves were created by the local deploy)."""
    template = {
        "Parameters": {name: {"Type": "String", "Default": value} for name, value in deployed.parameters.items()},
        "Resources": {"LocalDeployment": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            output: {"Value": deployed.physical[logical_id]}
            for output, logical_id in OUTPUTS.items()
            if logical_id in deployed.physical
        },
    }
    cloudformation = runner.admin_client("cloudformation")
    cloudformation.create_stack(StackName=deployed.name, TemplateBody=json.dumps(template))


def serve(port: int, announce: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set); ``announce`` gets the ready lines."""
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with serving(port) as (endpoint, deployed):
            announce(f"Local AWS for stack {deployed.name} ({stack.REGION}, account {stack.ACCOUNT_ID})")
            announce(f"  bucket {deployed.bucket}; state machine {deployed.state_machine_arn}")
            announce(f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={stack.REGION}")
            announce(f"AWS_ENDPOINT_URL={endpoint}")
            stop.wait()
            announce("Stopping the local AWS.")
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for the served endpoint (what an outside script would create)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=stack.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the local account's fake administrator keys
    )
