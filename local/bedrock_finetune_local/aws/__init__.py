"""Local AWS: moto extended with a faithful Bedrock, bedrock-runtime and fault injection (never shipped to Lambda).

Typical use::

    from moto import mock_aws
    from bedrock_finetune_local import aws

    aws.install()                                   # once per process; idempotent
    aws.configure(job_outcome="Failed")             # the scenario; aws.reset() restores the defaults
    with mock_aws(), aws.inject_faults([aws.Fault.parse("bedrock:GetCustomModel=ThrottlingException*1")]) as log:
        ...                                         # plain boto3 clients, real handlers
    log.summary()
"""

from __future__ import annotations

from bedrock_finetune_local.aws.bedrock import (
    LocalBedrockSettings,
    configure,
    current_settings,
    install_control_plane,
    local_bedrock_settings,
    reset,
)
from bedrock_finetune_local.aws.bedrock_runtime import install_runtime
from bedrock_finetune_local.aws.faults import FAULT_SYNTAX, Fault, FaultLog, fired_counts, inject_faults
from bedrock_finetune_local.aws.faults import install as install_interception

__all__ = [
    "FAULT_SYNTAX",
    "Fault",
    "FaultLog",
    "LocalBedrockSettings",
    "configure",
    "current_settings",
    "fired_counts",
    "inject_faults",
    "install",
    "local_bedrock_settings",
    "reset",
]


def install() -> None:
    """Patch moto's Bedrock control plane and bedrock-runtime (idempotent). Call before the first Bedrock request."""
    install_control_plane()
    install_runtime()
    install_interception()
