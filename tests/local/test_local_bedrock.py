"""The local Bedrock control plane under moto: jobs, custom models, provisioned throughput, deployments."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bedrock_finetune_local import aws
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, REGION, client, job_request

NO_CLIENT_VALIDATION = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
#: The simulated duration of the jobs these tests run (the scenario's job_duration_seconds).
JOB_SECONDS = 3600.0


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def job_statuses(bedrock: Any, job_arn: str, *steps: float) -> list[str]:
    """The job's status after each step of simulated time (seconds since the previous step)."""
    statuses = []
    for seconds in steps:
        CLOCK.advance(seconds)
        statuses.append(bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"])
    return statuses


def deploy_time_passes() -> None:
    """The time a throughput or deployment created (or updated) now takes to settle: the scenario's deploy_seconds."""
    CLOCK.advance(aws.current_settings().deploy_seconds)


def read_csv(s3: Any, key: str) -> list[dict[str, str]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- model customization jobs ---------------------------------------------------------------------------------------
@pytest.mark.usefixtures("dataset")
def test_job_completes_at_the_end_of_its_duration_and_only_then_creates_the_model(bedrock: Any) -> None:
    # Given a scenario where a job takes an hour
    aws.configure(job_duration_seconds=JOB_SECONDS)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When it is read at once and again a minute before its end
    early = [bedrock.get_model_customization_job(jobIdentifier=job_arn)]
    CLOCK.advance(JOB_SECONDS - 60)
    early.append(bedrock.get_model_customization_job(jobIdentifier=job_arn))

    # Then it is still in progress, with no model yet and the training stage running
    assert [job["status"] for job in early] == ["InProgress", "InProgress"]
    assert early[0]["statusDetails"]["trainingDetails"]["status"] == "NotStarted"
    assert "outputModelArn" not in early[-1]
    assert early[-1]["statusDetails"]["trainingDetails"]["status"] == "InProgress"
    assert bedrock.list_custom_models()["modelSummaries"] == []
    with pytest.raises(ClientError) as missing:
        bedrock.get_custom_model(modelIdentifier="ft-model-1")
    assert error_code(missing) == "ResourceNotFoundException"

    # When its last minute passes
    CLOCK.advance(60)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then it has completed with metrics and an Active custom model, ending an hour after its creation
    assert job["status"] == "Completed"
    assert {stage["status"] for stage in job["statusDetails"].values()} == {"Completed"}
    assert job["trainingMetrics"]["trainingLoss"] > 0
    assert len(job["validationMetrics"]) == 1
    assert (job["endTime"] - job["creationTime"]).total_seconds() == pytest.approx(JOB_SECONDS, abs=1)
    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelStatus"] == "Active"
    assert model["modelName"] == "ft-model-1"
    assert model["jobArn"] == job_arn
    assert model["trainingMetrics"] == job["trainingMetrics"]
    assert model["modelArn"].startswith(
        f"arn:aws:bedrock:{REGION}:123456789012:custom-model/amazon.nova-micro-v1:0:128k/"
    )


@pytest.mark.usefixtures("dataset")
def test_completed_job_writes_decreasing_metric_csvs_under_the_output_prefix(bedrock: Any, s3: Any) -> None:
    # Given a job with a validation dataset and 3 epochs of 4 steps
    aws.configure(job_duration_seconds=JOB_SECONDS, steps_per_epoch=4)
    job_arn = bedrock.create_model_customization_job(**job_request(hyperParameters={"epochCount": "3"}))["jobArn"]
    job_id = job_arn.rsplit("/", 1)[-1]

    # When it completes
    CLOCK.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then both CSVs are listable under the job's prefix, the validation one at the nested path
    prefix = f"output/model-customization-job-{job_id}/"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [
        prefix + "training_artifacts/step_wise_training_metrics.csv",
        prefix + "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
    ]
    # And the training losses decrease step by step and end at the job's trainingLoss
    training = read_csv(s3, keys[0])
    assert list(training[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert [int(row["step_number"]) for row in training] == list(range(12))
    assert [int(row["epoch_number"]) for row in training] == [0] * 4 + [1] * 4 + [2] * 4
    losses = [float(row["training_loss"]) for row in training]
    assert losses == sorted(losses, reverse=True)
    assert len(set(losses)) == len(losses)
    assert job["trainingMetrics"]["trainingLoss"] == pytest.approx(losses[-1])
    # And there is one validation row per epoch, ending at the job's validationLoss
    validation = read_csv(s3, keys[1])
    assert list(validation[0]) == ["step_number", "epoch_number", "validation_loss", "perplexity"]
    assert [int(row["epoch_number"]) for row in validation] == [0, 1, 2]
    assert job["validationMetrics"][0]["validationLoss"] == pytest.approx(float(validation[-1]["validation_loss"]))


@pytest.mark.usefixtures("dataset")
def test_job_without_validation_data_has_no_validation_metrics(bedrock: Any, s3: Any) -> None:
    # Given a job without a validation dataset
    aws.configure(job_duration_seconds=JOB_SECONDS)
    job_arn = bedrock.create_model_customization_job(**job_request(validationDataConfig=None))["jobArn"]

    # When it completes
    CLOCK.advance(JOB_SECONDS)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then only training metrics exist, in the response and in S3
    assert job["status"] == "Completed"
    assert "validationMetrics" not in job
    assert job["validationDataConfig"] == {"validators": []}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="output/")["Contents"]]
    assert [key.split("/", 2)[-1] for key in keys] == ["training_artifacts/step_wise_training_metrics.csv"]


@pytest.mark.usefixtures("dataset")
def test_failed_job_reports_the_failure_message_and_creates_no_model(bedrock: Any, s3: Any) -> None:
    # Given a scenario where jobs fail at the end of their hour
    aws.configure(
        job_outcome="Failed", job_duration_seconds=JOB_SECONDS, failure_message="Maximum input token count 4919 exceeds"
    )
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When it is read a minute before its end and once the hour has passed
    statuses = job_statuses(bedrock, job_arn, JOB_SECONDS - 60, 60)
    job = bedrock.get_model_customization_job(jobIdentifier=job_arn)

    # Then it failed with the message, and neither a model nor metrics exist
    assert statuses == ["InProgress", "Failed"]
    assert job["failureMessage"] == "Maximum input token count 4919 exceeds"
    assert "outputModelArn" not in job
    assert "trainingMetrics" not in job
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="output/")


@pytest.mark.usefixtures("dataset")
def test_stopped_outcome_passes_through_stopping(bedrock: Any) -> None:
    # Given a scenario where jobs are stopped by someone else at the end of their hour (they take stop_seconds, 2
    # minutes, to stop)
    aws.configure(job_outcome="Stopped", job_duration_seconds=JOB_SECONDS, stop_seconds=120)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When it is read 3 minutes and 1 minute before its end, and at its end
    statuses = job_statuses(bedrock, job_arn, JOB_SECONDS - 180, 120, 60)

    # Then it shows Stopping for its last 2 minutes, then Stopped, and no model appears
    assert statuses == ["InProgress", "Stopping", "Stopped"]
    assert bedrock.list_custom_models()["modelSummaries"] == []


@pytest.mark.usefixtures("dataset")
def test_stop_moves_an_in_progress_job_to_stopping_then_stopped(bedrock: Any) -> None:
    # Given a job 10 minutes into its hour, that would otherwise complete, and 2 minutes to stop a job
    aws.configure(job_duration_seconds=JOB_SECONDS, stop_seconds=120)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]
    assert job_statuses(bedrock, job_arn, 600) == ["InProgress"]

    # When it is stopped by name, and read at once, a minute later, 2 minutes later and after its planned end
    bedrock.stop_model_customization_job(jobIdentifier="ft-job-1")
    listed = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"][0]["status"]
    statuses = job_statuses(bedrock, job_arn, 0, 60, 60, JOB_SECONDS)

    # Then it goes Stopping -> Stopped after the 2 minutes and stays there, without a model
    assert listed == "Stopping"
    assert statuses == ["Stopping", "Stopping", "Stopped", "Stopped"]
    assert bedrock.list_custom_models()["modelSummaries"] == []

    # And stopping it again is rejected like Bedrock does for a finished job
    with pytest.raises(ClientError) as again:
        bedrock.stop_model_customization_job(jobIdentifier=job_arn)
    assert error_code(again) == "ValidationException"


@pytest.mark.usefixtures("dataset")
def test_stopping_a_completed_job_is_a_validation_error(bedrock: Any) -> None:
    # Given a completed job
    aws.configure(job_duration_seconds=JOB_SECONDS)
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]
    assert job_statuses(bedrock, job_arn, JOB_SECONDS) == ["Completed"]

    # When it is stopped
    with pytest.raises(ClientError) as error:
        bedrock.stop_model_customization_job(jobIdentifier=job_arn)

    # Then Bedrock refuses with a ValidationException and the job stays Completed
    assert error_code(error) == "ValidationException"
    assert job_statuses(bedrock, job_arn, 0) == ["Completed"]


@pytest.mark.usefixtures("dataset")
def test_job_is_found_by_name_and_by_arn(bedrock: Any) -> None:
    # Given a job
    job_arn = bedrock.create_model_customization_job(**job_request())["jobArn"]

    # When it is read by ARN and by name
    by_arn = bedrock.get_model_customization_job(jobIdentifier=job_arn)
    by_name = bedrock.get_model_customization_job(jobIdentifier="ft-job-1")

    # Then both return the same job, with an ARN shaped like Bedrock's, and a missing one is not found
    assert by_arn["jobArn"] == by_name["jobArn"] == job_arn
    assert job_arn.startswith(
        "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/"
    )
    assert len(job_arn.rsplit("/", 1)[-1]) == 12
    with pytest.raises(ClientError) as missing:
        bedrock.get_model_customization_job(jobIdentifier=job_arn[:-1] + "0")
    assert error_code(missing) == "ResourceNotFoundException"


@pytest.mark.usefixtures("dataset")
def test_create_job_is_idempotent_on_client_request_token(bedrock: Any) -> None:
    # Given a job created with a client request token
    first = bedrock.create_model_customization_job(**job_request(clientRequestToken="run-42"))["jobArn"]

    # When the same request is sent again with the same token
    again = bedrock.create_model_customization_job(**job_request(clientRequestToken="run-42"))["jobArn"]

    # Then the same job is returned and only one exists
    assert again == first
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1

    # And a different request under the same token is refused
    with pytest.raises(ClientError) as mismatch:
        bedrock.create_model_customization_job(**job_request(jobName="other", clientRequestToken="run-42"))
    assert error_code(mismatch) == "ConflictException"
    # And the same name under a new token is a name conflict, not a second job
    with pytest.raises(ClientError) as duplicate:
        bedrock.create_model_customization_job(**job_request(clientRequestToken="run-43"))
    assert error_code(duplicate) == "ConflictException"


@pytest.mark.usefixtures("dataset")
@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        pytest.param(
            {"trainingDataConfig": {"s3Uri": "s3://Finetune_Data/train.jsonl"}},
            "trainingDataConfig.s3Uri",
            id="bucket-case",
        ),
        pytest.param(
            {"trainingDataConfig": {"s3Uri": "s3://finetune-data/my data.jsonl"}},
            "trainingDataConfig.s3Uri",
            id="space-in-key",
        ),
        pytest.param(
            {"outputDataConfig": {"s3Uri": "https://finetune-data/out/"}}, "outputDataConfig.s3Uri", id="not-s3"
        ),
        pytest.param({"jobName": "ft_job"}, "jobName", id="job-name-underscore"),
        pytest.param({"customModelName": "m" * 64}, "customModelName", id="model-name-too-long"),
        pytest.param({"customModelName": "model.v1"}, "customModelName", id="model-name-dot"),
        pytest.param({"roleArn": "BedrockRole"}, "roleArn", id="role-not-arn"),
        pytest.param(
            {"hyperParameters": {"epochCount": 2}}, "hyperParameters.epochCount.member", id="int-hyperparameter"
        ),
    ],
)
def test_create_job_rejects_invalid_requests_like_bedrock(overrides: dict[str, Any], where: str) -> None:
    # Given a client that, like Step Functions' SDK calls, skips botocore's own parameter checks
    bedrock = client("bedrock", NO_CLIENT_VALIDATION)

    # When a job is created with one invalid field
    with pytest.raises(ClientError) as error:
        bedrock.create_model_customization_job(**job_request(**overrides))

    # Then Bedrock's front end answers a ValidationException naming that field
    assert error_code(error) == "ValidationException"
    assert f"at '{where}' failed to satisfy constraint" in error.value.response["Error"]["Message"]
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


@pytest.mark.usefixtures("dataset")
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/datasets/missing.jsonl"}}, id="missing-training"),
        pytest.param({"trainingDataConfig": {"s3Uri": "s3://no-such-bucket/train.jsonl"}}, id="missing-bucket"),
        pytest.param(
            {"validationDataConfig": {"validators": [{"s3Uri": f"s3://{BUCKET}/nope.jsonl"}]}}, id="missing-validation"
        ),
        pytest.param({"outputDataConfig": {"s3Uri": "s3://no-such-output/out/"}}, id="missing-output-bucket"),
    ],
)
def test_create_job_requires_the_s3_objects_to_exist(bedrock: Any, overrides: dict[str, Any]) -> None:
    # Given a request whose dataset or output location does not exist in S3
    request = job_request(**overrides)

    # When the job is created
    with pytest.raises(ClientError) as error:
        bedrock.create_model_customization_job(**request)

    # Then it is a ValidationException that names the URI, and no job exists
    assert error_code(error) == "ValidationException"
    assert "s3://" in error.value.response["Error"]["Message"]
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


@pytest.mark.usefixtures("dataset")
def test_list_jobs_filters_by_status_and_name(bedrock: Any) -> None:
    # Given two jobs, one of which has completed
    aws.configure(job_duration_seconds=JOB_SECONDS)
    bedrock.create_model_customization_job(**job_request(jobName="nightly-a", customModelName="a"))
    CLOCK.advance(JOB_SECONDS)
    bedrock.create_model_customization_job(**job_request(jobName="adhoc-b", customModelName="b"))

    # When the jobs are listed with filters
    def names(**filters: Any) -> list[str]:
        summaries = bedrock.list_model_customization_jobs(**filters)["modelCustomizationJobSummaries"]
        return [summary["jobName"] for summary in summaries]

    # Then each filter narrows the list, and the default order is newest first
    assert names() == ["adhoc-b", "nightly-a"]
    assert names(statusEquals="Completed") == ["nightly-a"]
    assert names(statusEquals="InProgress") == ["adhoc-b"]
    assert names(nameContains="nightly") == ["nightly-a"]
    assert names(sortOrder="Ascending", maxResults=1) == ["nightly-a"]
    # And pages follow nextToken
    first_page = bedrock.list_model_customization_jobs(maxResults=1)
    second_page = bedrock.list_model_customization_jobs(maxResults=1, nextToken=first_page["nextToken"])
    assert [s["jobName"] for s in second_page["modelCustomizationJobSummaries"]] == ["nightly-a"]
    assert "nextToken" not in second_page


@pytest.mark.usefixtures("dataset")
def test_tags_follow_jobs_and_models(bedrock: Any) -> None:
    # Given a job created with job tags and custom model tags
    aws.configure(job_duration_seconds=JOB_SECONDS)
    job_arn = bedrock.create_model_customization_job(
        **job_request(jobTags=[{"key": "run", "value": "r1"}], customModelTags=[{"key": "owner", "value": "ml"}])
    )["jobArn"]

    # When it completes and the model is tagged once more
    CLOCK.advance(JOB_SECONDS)
    model_arn = bedrock.get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    bedrock.tag_resource(resourceARN=model_arn, tags=[{"key": "stage", "value": "dev"}])

    # Then both resources carry their tags
    assert bedrock.list_tags_for_resource(resourceARN=job_arn)["tags"] == [{"key": "run", "value": "r1"}]
    model_tags = bedrock.list_tags_for_resource(resourceARN=model_arn)["tags"]
    assert sorted(tag["key"] for tag in model_tags) == ["owner", "stage"]


def test_custom_model_can_be_listed_and_deleted(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a completed custom model
    model_arn = completed_model()

    # When it is listed and then deleted by name
    listed = bedrock.list_custom_models(nameContains="ft-model")["modelSummaries"]
    bedrock.delete_custom_model(modelIdentifier="ft-model-1")

    # Then it was listed as Active, is gone afterwards, and deleting it again is not found
    assert [(m["modelArn"], m["modelStatus"]) for m in listed] == [(model_arn, "Active")]
    assert bedrock.list_custom_models()["modelSummaries"] == []
    with pytest.raises(ClientError) as again:
        bedrock.delete_custom_model(modelIdentifier=model_arn)
    assert error_code(again) == "ResourceNotFoundException"
    # And its name is free for a new job
    bedrock.create_model_customization_job(**job_request(jobName="ft-job-2"))


# --- provisioned throughput -----------------------------------------------------------------------------------------
def test_provisioned_throughput_goes_creating_then_in_service(
    bedrock: Any, completed_model: Callable[..., str]
) -> None:
    # Given a custom model and a scenario where provisioning takes 10 minutes
    model_arn = completed_model()
    aws.configure(deploy_seconds=600)

    # When provisioned throughput is bought for it by model name, and read at once, after 9 minutes and after 10
    pt_arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt-1", modelId="ft-model-1", tags=[{"key": "run", "value": "r1"}]
    )["provisionedModelArn"]
    listed = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"][0]["status"]
    first = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    CLOCK.advance(540)
    early = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    CLOCK.advance(60)
    second = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it is Creating for the 10 minutes, then InService for the model
    assert (listed, first["status"], early["status"], second["status"]) == (
        "Creating",
        "Creating",
        "Creating",
        "InService",
    )
    assert pt_arn.startswith(f"arn:aws:bedrock:{REGION}:123456789012:provisioned-model/")
    assert second["modelArn"] == second["desiredModelArn"] == model_arn
    assert second["foundationModelArn"].endswith("::foundation-model/amazon.nova-micro-v1:0:128k")
    assert (second["modelUnits"], second["desiredModelUnits"]) == (1, 1)
    assert "commitmentDuration" not in second
    assert bedrock.get_provisioned_model_throughput(provisionedModelId="pt-1")["provisionedModelArn"] == pt_arn
    assert bedrock.list_tags_for_resource(resourceARN=pt_arn)["tags"] == [{"key": "run", "value": "r1"}]


def test_provisioned_throughput_can_fail(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a scenario where deployments fail
    model_arn = completed_model()
    aws.configure(deploy_outcome="Failed", deploy_failure_message="no capacity")

    # When provisioned throughput is created and its creation time passes
    pt_arn = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model_arn)[
        "provisionedModelArn"
    ]
    deploy_time_passes()
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it is Failed with the message
    assert (pt["status"], pt["failureMessage"]) == ("Failed", "no capacity")


@pytest.mark.usefixtures("dataset")
@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        pytest.param({"modelUnits": 0}, "ValidationException", id="zero-units"),
        pytest.param({"provisionedModelName": "pt 1"}, "ValidationException", id="bad-name"),
        pytest.param({"commitmentDuration": "OneYear"}, "ValidationException", id="bad-commitment"),
        pytest.param({"modelId": "no-such-model"}, "ResourceNotFoundException", id="missing-model"),
    ],
)
def test_create_provisioned_throughput_rejects_bad_requests(
    completed_model: Callable[..., str], request_fields: dict[str, Any], code: str
) -> None:
    # Given a custom model and a client without botocore's own checks
    completed_model()
    bedrock = client("bedrock", NO_CLIENT_VALIDATION)
    request = {"modelUnits": 1, "provisionedModelName": "pt-1", "modelId": "ft-model-1", **request_fields}

    # When provisioned throughput is requested with one bad field
    with pytest.raises(ClientError) as error:
        bedrock.create_provisioned_model_throughput(**request)

    # Then Bedrock refuses and buys nothing
    assert error_code(error) == code
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []


def test_create_provisioned_throughput_is_idempotent(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a custom model
    completed_model()
    request = {"modelUnits": 1, "provisionedModelName": "pt-1", "modelId": "ft-model-1", "clientRequestToken": "t-1"}

    # When the same request is sent twice with the same token
    first = bedrock.create_provisioned_model_throughput(**request)["provisionedModelArn"]
    again = bedrock.create_provisioned_model_throughput(**request)["provisionedModelArn"]

    # Then one provisioned throughput exists
    assert again == first
    assert len(bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]) == 1


def test_list_provisioned_throughputs_filters(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given two models, one InService PT on the first and one Creating PT on the second
    model_a = completed_model()
    model_b = completed_model(jobName="ft-job-2", customModelName="ft-model-2")
    bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="blue-pt", modelId=model_a)
    deploy_time_passes()
    bedrock.create_provisioned_model_throughput(modelUnits=2, provisionedModelName="green-pt", modelId=model_b)

    # When they are listed with filters
    def names(**filters: Any) -> list[str]:
        summaries = bedrock.list_provisioned_model_throughputs(**filters)["provisionedModelSummaries"]
        return sorted(summary["provisionedModelName"] for summary in summaries)

    # Then each filter selects the matching one
    assert names() == ["blue-pt", "green-pt"]
    assert names(nameContains="green") == ["green-pt"]
    assert names(statusEquals="InService") == ["blue-pt"]
    assert names(statusEquals="Creating") == ["green-pt"]
    assert names(modelArnEquals=model_a) == ["blue-pt"]


def test_delete_provisioned_throughput(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given an InService provisioned throughput that uses the model
    model_arn = completed_model()
    pt_arn = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model_arn)[
        "provisionedModelArn"
    ]
    deploy_time_passes()
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"] == "InService"
    # (the model cannot be deleted while the PT uses it)
    with pytest.raises(ClientError) as in_use:
        bedrock.delete_custom_model(modelIdentifier=model_arn)
    assert error_code(in_use) == "ConflictException"

    # When it is deleted
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it is gone, deleting it again is not found, and the model can now be deleted
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    with pytest.raises(ClientError) as again:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert error_code(again) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as read:
        bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert error_code(read) == "ResourceNotFoundException"
    bedrock.delete_custom_model(modelIdentifier=model_arn)


def test_a_throughput_or_deployment_cannot_be_deleted_until_its_creation_time_has_passed(
    bedrock: Any, completed_model: Callable[..., str]
) -> None:
    # Given a throughput and a deployment of a model, both 9 minutes into their 10-minute creation
    model_arn = completed_model()
    aws.configure(deploy_seconds=600)
    pt_arn = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model_arn)[
        "provisionedModelArn"
    ]
    deployment_arn = bedrock.create_custom_model_deployment(modelDeploymentName="od-1", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    CLOCK.advance(540)

    # When they are deleted, Then Bedrock answers ConflictException for each
    with pytest.raises(ClientError) as creating_pt:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    with pytest.raises(ClientError) as creating_deployment:
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    assert (error_code(creating_pt), error_code(creating_deployment)) == ("ConflictException", "ConflictException")

    # When the last minute passes and they are deleted again, Then both are gone
    CLOCK.advance(60)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []


def test_provisioned_throughput_with_commitment_cannot_be_deleted(
    bedrock: Any, completed_model: Callable[..., str]
) -> None:
    # Given a provisioned throughput bought with a one-month commitment
    completed_model()
    pt = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="pt-1", modelId="ft-model-1", commitmentDuration="OneMonth"
    )
    deploy_time_passes()
    described = bedrock.get_provisioned_model_throughput(provisionedModelId="pt-1")
    assert described["status"] == "InService"

    # When it is deleted before the term ends
    with pytest.raises(ClientError) as error:
        bedrock.delete_provisioned_model_throughput(provisionedModelId=pt["provisionedModelArn"])

    # Then Bedrock refuses and it still exists
    assert error_code(error) == "ValidationException"
    assert described["commitmentDuration"] == "OneMonth"
    assert described["commitmentExpirationTime"] > described["creationTime"]
    assert len(bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]) == 1


def test_update_provisioned_throughput_renames_and_switches_model(
    bedrock: Any, completed_model: Callable[..., str]
) -> None:
    # Given an InService PT on one model and a second model from the same base
    completed_model()
    second = completed_model(jobName="ft-job-2", customModelName="ft-model-2")
    bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId="ft-model-1")
    deploy_time_passes()

    # When it is renamed and pointed at the second model, and the update's time passes
    bedrock.update_provisioned_model_throughput(
        provisionedModelId="pt-1", desiredProvisionedModelName="pt-renamed", desiredModelId=second
    )
    updating = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"][0]
    deploy_time_passes()
    updated = bedrock.get_provisioned_model_throughput(provisionedModelId="pt-renamed")

    # Then it is Updating towards the new model, then InService on it
    assert (updating["status"], updating["desiredModelArn"]) == ("Updating", second)
    assert (updated["status"], updated["modelArn"], updated["provisionedModelName"]) == (
        "InService",
        second,
        "pt-renamed",
    )


# --- custom model deployments ---------------------------------------------------------------------------------------
def test_custom_model_deployment_lifecycle(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a custom model and a scenario where deployments take 10 minutes
    model_arn = completed_model()
    aws.configure(deploy_seconds=600)

    # When it is deployed for on-demand inference, and read at once, after 9 minutes and after 10
    deployment_arn = bedrock.create_custom_model_deployment(
        modelDeploymentName="od-1", modelArn=model_arn, description="smoke", tags=[{"key": "run", "value": "r1"}]
    )["customModelDeploymentArn"]
    statuses = []
    for seconds in (0, 540, 60):
        CLOCK.advance(seconds)
        statuses.append(bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)["status"])
    by_name = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="od-1")

    # Then it goes Creating -> Active after the 10 minutes and is readable by name too
    assert statuses == ["Creating", "Creating", "Active"]
    assert deployment_arn.startswith(f"arn:aws:bedrock:{REGION}:123456789012:custom-model-deployment/")
    assert (by_name["customModelDeploymentArn"], by_name["modelArn"], by_name["description"]) == (
        deployment_arn,
        model_arn,
        "smoke",
    )
    assert bedrock.list_tags_for_resource(resourceARN=deployment_arn)["tags"] == [{"key": "run", "value": "r1"}]

    # When it is deleted
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)

    # Then it is gone, and deleting it again is not found
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []
    with pytest.raises(ClientError) as again:
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    assert error_code(again) == "ResourceNotFoundException"


def test_custom_model_deployment_can_fail_and_be_filtered(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given one deployment that fails and one still Creating
    model_arn = completed_model()
    aws.configure(deploy_outcome="Failed")
    failed = bedrock.create_custom_model_deployment(modelDeploymentName="od-bad", modelArn=model_arn)
    deploy_time_passes()
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=failed["customModelDeploymentArn"])
    bedrock.create_custom_model_deployment(modelDeploymentName="od-new", modelArn=model_arn)

    # When they are listed with filters
    def names(**filters: Any) -> list[str]:
        summaries = bedrock.list_custom_model_deployments(**filters)["modelDeploymentSummaries"]
        return sorted(summary["customModelDeploymentName"] for summary in summaries)

    # Then the failed one carries the failure message and the filters select correctly
    assert (described["status"], described["failureMessage"]) == (
        "Failed",
        aws.current_settings().deploy_failure_message,
    )
    assert names() == ["od-bad", "od-new"]
    assert names(statusEquals="Failed") == ["od-bad"]
    assert names(statusEquals="Creating") == ["od-new"]
    assert names(nameContains="new") == ["od-new"]


@pytest.mark.usefixtures("dataset")
def test_custom_model_deployment_needs_an_existing_model(bedrock: Any) -> None:
    # Given no custom model at that ARN
    missing = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefabcdef"

    # When a deployment is created for it
    with pytest.raises(ClientError) as error:
        bedrock.create_custom_model_deployment(modelDeploymentName="od-1", modelArn=missing)

    # Then it is not found and nothing is created
    assert error_code(error) == "ResourceNotFoundException"
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []


# --- foundation models and reset ------------------------------------------------------------------------------------
def test_list_foundation_models_filters_by_customization_type(bedrock: Any) -> None:
    # Given the local catalog in us-east-1
    # When the fine-tunable models are listed
    summaries = bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]

    # Then only us-east-1's provisioned-only Nova variants appear
    assert {s["modelId"] for s in summaries} == {
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
    }
    assert all(s["inferenceTypesSupported"] == ["PROVISIONED"] for s in summaries)


def test_reset_clears_resources_and_settings(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a model and a non-default scenario
    completed_model()
    aws.configure(job_outcome="Failed")

    # When the local Bedrock is reset
    aws.reset()

    # Then nothing remains and the settings are the defaults
    assert bedrock.list_custom_models()["modelSummaries"] == []
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
    assert aws.current_settings() == aws.LocalBedrockSettings()


def test_settings_are_validated_and_scoped() -> None:
    # Given the default scenario
    # When a scenario is set for a block
    with aws.local_bedrock_settings(job_outcome="Stopped") as inside:
        seen = aws.current_settings()

    # Then it applies inside only, and bad values are refused
    assert seen == inside
    assert seen.job_outcome == "Stopped"
    assert aws.current_settings().job_outcome == "Completed"
    for name, value in (
        ("job_duration_seconds", 0),
        ("job_duration_seconds", 30 * 86400 + 1),
        ("deploy_seconds", 0),
        ("deploy_seconds", 86400 + 1),
        ("stop_seconds", -1),
    ):
        with pytest.raises(ValueError, match=name):
            aws.configure(None, **{name: value})
    # And the poll counts of the former lifecycle are unknown settings, not silently ignored
    with pytest.raises(ValueError, match="job_polls_to_finish"):
        aws.configure(job_polls_to_finish=3)
    assert aws.current_settings() == aws.LocalBedrockSettings()
