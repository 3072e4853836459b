"""Typed boundaries: the input and output of every step. Each Lambda returns only its own result; the ASL places it
with ``ResultPath`` so no step can clobber another's state. Nothing here carries dataset content."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bedrock_finetune.config import CamelModel, RunConfig, S3Location

DeploymentKind = Literal["provisioned", "on-demand"]


class ExecutionContext(BaseModel):
    """``$$.Execution`` from the context object."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    start_time: str | None = Field(default=None, alias="StartTime")
    input: dict[str, Any] | None = Field(default=None, alias="Input")


# --- InboxStarter -----------------------------------------------------------------------------------------------------
class InboxStartOutput(CamelModel):
    execution_arn: str
    name: str
    #: True: StartExecution answered with the execution, new or (same name and input, still running: its idempotent
    #: answer) the one an earlier delivery started. False: ExecutionAlreadyExists (ended, or another input). Either
    #: way exactly one execution exists for the object version.
    started: bool


# --- ResolveConfig ----------------------------------------------------------------------------------------------------
class ResolveConfigInput(CamelModel):
    input: dict[str, Any]
    execution: ExecutionContext


class ResolveConfigOutput(CamelModel):
    config: RunConfig


# --- ValidateDataset --------------------------------------------------------------------------------------------------
class ValidatedFile(CamelModel):
    role: Literal["train", "validation"]
    location: S3Location
    sha256: str
    bytes: int
    records: int


class ValidateDatasetInput(CamelModel):
    config: RunConfig


class ValidateDatasetOutput(CamelModel):
    valid: bool
    report_key: str
    files: list[ValidatedFile]
    error_counts: dict[str, int]
    warning_counts: dict[str, int]
    estimated_tokens: int
    #: The estimate as ``validation.json`` holds it (``cost``: the training job(s) and deployment prices;
    #: ``runEstimate``: what the run will cost, training plus the smoke test), None when it could not be priced.
    cost: dict[str, Any] | None = None
    run_estimate: dict[str, Any] | None = None

    def file(self, role: str) -> ValidatedFile | None:
        return next((item for item in self.files if item.role == role), None)


# --- StageDataset -----------------------------------------------------------------------------------------------------
class SplitInfo(CamelModel):
    percent: int
    train_records: int
    validation_records: int
    seed: str


class StageDatasetInput(CamelModel):
    config: RunConfig
    validation: ValidateDatasetOutput


class StageDatasetOutput(CamelModel):
    sha256: str
    train: S3Location
    validation: S3Location | None
    train_records: int
    validation_records: int
    split: SplitInfo | None


# --- ClaimTraining ----------------------------------------------------------------------------------------------------
class ClaimTrainingInput(CamelModel):
    config: RunConfig
    staged: StageDatasetOutput


class ClaimTrainingOutput(CamelModel):
    """Whether this run trains: it holds the claim of its content and settings (or was forced), or another run that
    succeeded or is still running holds it (``duplicate_of``, with that run's model)."""

    fingerprint: str
    claimed: bool
    forced: bool = False
    #: The run id of the earlier run with the same content and settings; None when this run trains.
    duplicate_of: str | None = None
    duplicate_execution_arn: str | None = None
    #: RUNNING or SUCCEEDED: what the earlier run was doing when this one looked.
    duplicate_status: str | None = None
    duplicate_model_name: str | None = None
    duplicate_model_arn: str | None = None


# --- CreateCustomizationJob -------------------------------------------------------------------------------------------
class CreateCustomizationJobInput(CamelModel):
    config: RunConfig
    validation: ValidateDatasetOutput
    staged: StageDatasetOutput


class JobInfo(CamelModel):
    job_arn: str
    job_name: str
    model_name: str
    output_s3_uri: str


class QueueStatus(CamelModel):
    """The run's place in the training queue (first in, first out by drop time)."""

    #: 1 = next to create its job; counted among the runs waiting now.
    position: int
    #: The position when the run joined the queue.
    initial_position: int
    enqueued_at: str
    waited_seconds: int
    #: Why the run waits: another run is ahead, or Bedrock's concurrent job quota is full (ServiceQuotaExceeded).
    reason: Literal["ahead", "quota", "none"]
    wait_seconds: int


class TrainingStartOutput(CamelModel):
    """CreateCustomizationJob's answer: the job was created (``Created``, with ``job``), or the run waits for a
    free job slot (``Queued``: WaitForTrainingCapacity waits ``queue.waitSeconds`` and asks again)."""

    status: Literal["Created", "Queued"]
    job: JobInfo | None = None
    queue: QueueStatus


# --- PollJob ----------------------------------------------------------------------------------------------------------
class MetricsFile(CamelModel):
    key: str
    rows: int
    final_loss: float | None


class JobMetrics(CamelModel):
    training_loss: float | None = None
    validation_loss: float | None = None
    training_csv: MetricsFile | None = None
    validation_csv: MetricsFile | None = None


class PollJobInput(CamelModel):
    config: RunConfig
    job: JobInfo


class AwaitJobEndInput(CamelModel):
    """AwaitJobEnd (``lambda:invoke.waitForTaskToken``): the job to wait for and the Task's token."""

    config: RunConfig
    job: JobInfo
    task_token: str = Field(min_length=1, max_length=1024)


class AwaitJobEndOutput(CamelModel):
    """What AwaitJobEnd did (its return value is not the Task's result: the token's is)."""

    status: str | None
    #: The job had already ended (or vanished): the token was sent at once.
    resumed: bool


class JobEventOutput(CamelModel):
    """JobEvent, the relay of Bedrock's "Model Customization Job State Change" events."""

    job_name: str
    job_status: str
    #: sent | no-waiter | stale (the waiting Task had timed out or ended) | ignored (not a final status)
    outcome: str
    #: The run waiting for the job (from its waiter record), when there is one.
    run_id: str | None = None


class JobStatusOutput(CamelModel):
    status: str
    message: str
    elapsed_seconds: int
    wait_seconds: int
    status_details: dict[str, str] = Field(default_factory=dict)
    model_arn: str | None = None
    metrics: JobMetrics | None = None


# --- SweepStage -------------------------------------------------------------------------------------------------------
class SweepVariantPlan(CamelModel):
    """One job of a sweep stage: the run's configuration with this variant's hyperparameters and names."""

    variant: str
    value: str
    hyper_parameters: dict[str, str]
    config: RunConfig


class SweepNextStage(CamelModel):
    index: int
    parameter: str
    variants: list[SweepVariantPlan]


class SweepVariantResult(CamelModel):
    variant: str
    value: str
    hyper_parameters: dict[str, str]
    status: str
    training_loss: float | None = None
    validation_loss: float | None = None
    model_arn: str | None = None
    job_arn: str | None = None
    message: str | None = None


class SweepStageResult(CamelModel):
    index: int
    parameter: str
    variants: list[SweepVariantResult]
    #: The winning value of the stage (fixed in the stages after it).
    best: str
    best_variant: str


class SweepWinner(CamelModel):
    variant: str
    hyper_parameters: dict[str, str]
    training_loss: float | None = None
    validation_loss: float | None = None
    model_arn: str | None = None
    job: JobInfo
    job_status: JobStatusOutput


class SweepState(CamelModel):
    """``$.sweep``: the stages done, the stage to train next (None once the winner is known), the winner."""

    #: "validation": best = lowest final validation loss; "training" when a variant has no validation loss (the model
    #: takes no validation data).
    loss_used: Literal["validation", "training"] | None = None
    stages: list[SweepStageResult] = Field(default_factory=list)
    next: SweepNextStage | None = None
    winner: SweepWinner | None = None
    deleted_models: list[str] = Field(default_factory=list)
    kept_models: list[str] = Field(default_factory=list)
    #: Models of losing variants that could not be deleted, with the reason (they cost storage until deleted).
    undeleted_models: list[str] = Field(default_factory=list)


class VariantOutcome(CamelModel):
    """One iteration of TrainSweepVariants: the variant's job and its final status."""

    variant: str
    job: JobInfo
    job_status: JobStatusOutput


class SweepStageInput(CamelModel):
    config: RunConfig
    sweep: SweepState | None = None
    results: list[VariantOutcome] = Field(default_factory=list)


# --- PrepareRetrainDataset / SwapDeployment ---------------------------------------------------------------------------
class ExcludedRecord(CamelModel):
    """A record left out of a retrain: where it was and its hash, never its text."""

    line: int
    sha256: str


class RetrainDatasetOutput(CamelModel):
    source: S3Location
    records_before: int
    records_after: int
    excluded: list[ExcludedRecord]


class PrepareRetrainInput(CamelModel):
    config: RunConfig


class SwapStatus(CamelModel):
    """SwapDeployment: the earlier run's kept deployment moving to the new model (``Updating``) or moved
    (``Swapped``)."""

    status: Literal["Updating", "Swapped"]
    deployment_arn: str
    mode: DeploymentKind
    from_model_arn: str | None
    to_model_arn: str
    started_at: str
    elapsed_seconds: int = 0
    wait_seconds: int = 0


class SwapDeploymentInput(CamelModel):
    config: RunConfig
    job_status: JobStatusOutput
    swap: SwapStatus | None = None


# --- RetireModel ------------------------------------------------------------------------------------------------------
class RetireInput(CamelModel):
    """The retire state machine's input: ``{"retire": "<run id or custom model ARN>", "force": false}``."""

    retire: str = Field(min_length=1, max_length=2048)
    #: Retire even what is tagged keep.
    force: bool = False


class RetireModelInput(CamelModel):
    input: dict[str, Any]
    execution: ExecutionContext


class RetiredModel(CamelModel):
    arn: str
    #: False when the model was already gone.
    deleted: bool
    #: The provisioned throughputs and deployments deleted first (they served the model).
    deleted_servers: list[str] = Field(default_factory=list)


class RetireOutput(CamelModel):
    run_id: str | None
    models: list[RetiredModel]
    report_uri: str
    subject: str
    message: str


# --- DeployModel / PollDeployment / ReleaseDeployment --------------------------------------------------------------
class DeployModelInput(CamelModel):
    config: RunConfig
    staged: StageDatasetOutput
    job: JobInfo
    job_status: JobStatusOutput


class DeploymentInfo(CamelModel):
    mode: DeploymentKind
    arn: str
    name: str
    model_arn: str
    model_units: int | None = None
    #: When DeployModel created it (ISO 8601): the deployment hours a report counts start here.
    created_at: str | None = None
    #: A kept provisioned throughput's ``keep-until`` tag (budget.maxDeploymentHours): the reconciler deletes it then.
    kept_until: str | None = None


class PollDeploymentInput(CamelModel):
    config: RunConfig
    deployment: DeploymentInfo


class DeploymentStatusOutput(CamelModel):
    status: str
    message: str
    elapsed_seconds: int
    wait_seconds: int


class ReleaseDeploymentInput(CamelModel):
    deployment: DeploymentInfo
    execution: ExecutionContext


class ReleaseDeploymentOutput(CamelModel):
    arn: str
    deleted: bool


# --- SmokeTest -------------------------------------------------------------------------------------------------------
class SmokeTestInput(CamelModel):
    config: RunConfig
    staged: StageDatasetOutput
    deployment: DeploymentInfo


class SmokeTestOutput(CamelModel):
    """Counts and timings only: prompts and answers (dataset content) go to the private report object."""

    model_id: str
    prompt_source: Literal["config", "validation", "train", "none"]
    prompts: int
    answered: int
    latencies_ms: list[int]
    median_latency_ms: int | None
    base_model_answered: int | None = None
    results_key: str | None = None
    skipped_reason: str | None = None


# --- Finalize / Cleanup / Notify ------------------------------------------------------------------------------------
class CaughtError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    Error: str = "States.Unknown"
    Cause: str | None = None


class RunState(BaseModel):
    """The whole state as Finalize, Cleanup and Notify see it: every part optional, since a run may fail anywhere."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    config: RunConfig | None = None
    validation: ValidateDatasetOutput | None = None
    staged: StageDatasetOutput | None = None
    claim: ClaimTrainingOutput | None = None
    training: TrainingStartOutput | None = None
    job: JobInfo | None = None
    job_status: JobStatusOutput | None = Field(default=None, alias="jobStatus")
    deployment: DeploymentInfo | None = None
    deployment_status: DeploymentStatusOutput | None = Field(default=None, alias="deploymentStatus")
    smoke_test: SmokeTestOutput | None = Field(default=None, alias="smokeTest")
    sweep: SweepState | None = None
    retrain_dataset: RetrainDatasetOutput | None = Field(default=None, alias="retrainDataset")
    swap: SwapStatus | None = None
    release: ReleaseDeploymentOutput | None = None
    error: CaughtError | None = None
    cleanup_error: CaughtError | None = Field(default=None, alias="cleanupError")
    cleanup: dict[str, Any] | None = None
    #: Finalize's output: once present, the run's outcome is settled and nothing may undo it.
    final: dict[str, Any] | None = None


class WholeStateInput(CamelModel):
    state: dict[str, Any]
    execution: ExecutionContext
    #: ``$$.State.RetryCount``: how many times the state machine has already retried this step.
    attempt: int | None = None


class ReportOutput(CamelModel):
    report: dict[str, Any]
    report_uri: str | None
    dataset_uri: str | None


LeftoverKind = Literal["provisioned-throughput", "custom-model-deployment", "model-customization-job"]


class Leftover(CamelModel):
    """Something the run created that may still be running (and billing) after Cleanup, for a person to remove."""

    kind: LeftoverKind
    #: None when the resource could not even be looked for (a discovery call failed): ``command`` then finds it.
    arn: str | None
    state: str
    cost: str
    command: str
    reason: str


class CleanupOutput(ReportOutput):
    complete: bool = True
    actions: list[str]
    leftovers: list[Leftover]
    problems: list[str] = Field(default_factory=list)


class NotifyInput(CamelModel):
    outcome: Literal["SUCCEEDED", "FAILED"]
    report: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    execution: ExecutionContext | None = None
    #: ``$$.State.RetryCount``: the notification is given up (logged, counted) only on the last retry.
    attempt: int | None = None


class NotifyOutput(CamelModel):
    message_id: str
    subject: str


# --- AbortedRunCleanup --------------------------------------------------------------------------------------------
class ExecutionStatusChange(BaseModel):
    """The ``detail`` of EventBridge's "Step Functions Execution Status Change" event."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    start_date: int | None = Field(default=None, alias="startDate")
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class StatusChangeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    detail_type: str = Field(alias="detail-type")
    detail: ExecutionStatusChange


class AbortedRunCleanupOutput(CamelModel):
    cleanup: CleanupOutput | None
    leftovers: list[Leftover]
    notification: NotifyOutput | None
    #: Why nothing was done: the run's own Cleanup already ran, or its outcome was settled by Finalize.
    skipped: str | None = None


# --- RefreshPrices ---------------------------------------------------------------------------------------------------
class RefreshPricesOutput(CamelModel):
    """What one scheduled Price List refresh did (the document itself is at ``priceListUri``)."""

    region: str
    refreshed_at: str
    price_list_uri: str
    #: Models whose prices (all or some) now come from the Price List.
    refreshed: list[str]
    #: Per model the Price List prices whose prices (all or some) still come from the table: why (a failure, or a
    #: product missing: the PriceRefreshFallbacks metric counts these).
    fallbacks: dict[str, str]
    #: Models whose Price List usagetype family prices.json does not know: priced from the table, by design.
    not_in_price_list: list[str] = Field(default_factory=list)


# --- Reconcile ------------------------------------------------------------------------------------------------------
class ReconcileInput(BaseModel):
    """What the reconciler's schedule sends: EventBridge Scheduler fills ``<aws.scheduler.scheduled-time>`` into the
    schedule's Input (template.yaml). Anything else in the event is ignored, so a manual invoke with ``{}`` works."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)

    scheduled_time: str | None = Field(default=None, alias="scheduledTime")


ReconcileAction = Literal["stopped", "deleted", "already-ended", "failed"]


class ReconciledResource(CamelModel):
    """One resource of this stack whose run no longer runs, and what the reconciler did to it."""

    kind: LeftoverKind
    arn: str
    run_id: str | None
    execution_arn: str | None
    #: The execution's status (SUCCEEDED, FAILED, ABORTED, TIMED_OUT), or "none" when it does not exist.
    execution_status: str
    status: str
    action: ReconcileAction
    detail: str
    cost: str
    #: Its ``keep-until`` time, passed (budget.maxDeploymentHours): why a resource of a successful run was removed.
    kept_until: str | None = None


class ReconcileOutput(CamelModel):
    stack: str
    started_at: str
    #: Resources listed (jobs InProgress, every throughput and deployment), whoever owns them.
    examined: int
    #: Listed resources without this stack's tags: never touched, only counted.
    not_ours: int
    #: ARNs of this stack's resources tagged keep=true: never touched.
    kept: list[str]
    #: ARNs of this stack's resources whose execution is still running: left to the run.
    running: list[str]
    acted: list[ReconciledResource]
    problems: list[str]
    report_uri: str | None
    notification: NotifyOutput | None
    #: This stack's jobs InProgress and the model units of its provisioned throughput (running or kept), and how
    #: many resources this sweep stopped or deleted: the dashboard's gauges.
    jobs_in_progress: int = 0
    provisioned_model_units: int = 0
    #: What the provisioned throughput still running (this stack's) costs per hour, in US dollars (catalog prices).
    provisioned_usd_per_hour: float = 0.0
    removed: int = 0
