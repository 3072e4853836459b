"""Exception classes: their names are the contract with the state machine.

The ASL retries the names in ``TRANSIENT`` and catches everything else into ``Cleanup``. A handler never returns an
error as data and nothing matches on message text. Every message names what is wrong (field, file, line, rule) and
never quotes dataset content.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class of every error the workflow raises on purpose."""


# --- fatal: caught into Cleanup -----------------------------------------------------------------------------------
class ConfigInvalid(WorkflowError):
    """The run configuration (console input, object metadata, stack defaults) is invalid."""


class UnknownModelError(ConfigInvalid):
    """A base model id that the catalog does not know."""

    def __init__(self, model_id: str, suggestions: list[str]) -> None:
        self.model_id = model_id
        self.suggestions = suggestions
        hint = f"; closest known ids: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown base model id {model_id!r}{hint} (see `bedrock-finetune models`)")


class HyperparameterError(ConfigInvalid):
    """One or more hyperparameters are unknown, of the wrong type or out of range."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class DatasetInvalid(WorkflowError):
    """The dataset broke one or more of the base model's rules (the report names file, line and rule)."""


class BudgetExceeded(WorkflowError):
    """The run's estimated cost (training for every variant, plus the smoke test's deployment) exceeds its budget:
    refused in ValidateDataset, before anything is created."""


class DatasetUnreadable(WorkflowError):
    """The dataset object does not exist or cannot be read."""


class JobFailed(WorkflowError):
    """The model customization job ended as Failed."""


class JobStopped(WorkflowError):
    """The model customization job ended as Stopped (by someone else, or by a timeout)."""


class JobTimedOut(WorkflowError):
    """The job ran longer than the configured timeout."""


class DeploymentFailed(WorkflowError):
    """Provisioned throughput or the custom model deployment ended as Failed."""


class DeploymentTimedOut(WorkflowError):
    """The deployment did not become ready within the configured timeout."""


class SmokeTestFailed(WorkflowError):
    """The deployed model gave no usable answer to the smoke-test prompts."""


class TrainingCapacityFull(WorkflowError):
    """Bedrock answered ServiceQuotaExceededException: its concurrent job quota is used up. Never reaches the state
    machine: CreateCustomizationJob then answers ``Queued`` and the run waits for a free slot."""


class TrainingQueueTimedOut(WorkflowError):
    """The run waited for a free training job slot longer than the stack's TrainingQueueTimeoutHours."""


class SweepStageFailed(WorkflowError):
    """Every variant of a sweep stage failed: there is no best value to go on with."""


class RetireRefused(WorkflowError):
    """A model (or what serves it) is tagged keep, or is not this stack's: nothing was deleted."""


class CleanupIncomplete(WorkflowError):
    """Cleanup could not remove everything; the notification lists what is left."""


class AccessDenied(WorkflowError):
    """An AWS call was denied (403 / AccessDenied / AuthorizationError): a permission is missing from the function's
    role, the bucket policy or a service control policy. Never retried: the message names the call and the answer."""


# --- transient: retried by the ASL with backoff --------------------------------------------------------------------
class TransientAwsError(WorkflowError):
    """Throttling, service unavailable, or another AWS error that is worth retrying.

    ``status`` is the resource's status when the error is a resource still busy (Creating, Stopping...)."""

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotificationFailed(WorkflowError):
    """The notification could not be published even after the retries (the run's outcome itself is unchanged)."""


TRANSIENT_ERROR_NAMES: tuple[str, ...] = (
    "TransientAwsError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # The Invoke call itself timed out (not the function): retry like the other Lambda service errors.
    "Lambda.ClientExecutionTimeoutException",
)
