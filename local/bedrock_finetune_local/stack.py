"""Deploy ``template.yaml`` into the local AWS (moto), reading the template and the ASL file: no second copy of the
wiring exists anywhere.

The SAM template is translated to CloudFormation by AWS's own SAM translator (the code ``sam deploy`` runs), the
intrinsic functions are resolved here, and each resource is created through the ordinary AWS APIs, so the
functions, roles, bucket settings, EventBridge rule and state machine definition are exactly the template's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from cfn_flip import load_yaml
from samtranslator.translator.transform import transform

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CODE_URI = "s3://local-code/functions.zip"
# A stand-in zip for the function code: invocations never run it, the Lambda seam imports the real handler.
_CODE_ZIP = b"PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"


class TemplateError(Exception):
    """The template uses something the local deployer cannot resolve."""


def project_root() -> Path:
    """The directory holding template.yaml: the working directory or one of its parents, else this checkout."""
    for candidate in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]]:
        if (candidate / "template.yaml").is_file() and (candidate / "statemachine").is_dir():
            return candidate
    raise TemplateError("template.yaml not found: run from the project directory")


class _NoManagedPolicies:
    """The template names no AWS managed policy by name; SAM's translator asks only when one is."""

    def load(self) -> dict[str, str]:
        return {}


_templates: dict[str, str] = {}


def load_template(root: Path) -> dict[str, Any]:
    """template.yaml as data (a fresh copy each call), parsed once per content: parsing the YAML takes ~0.8 s, and
    every local run reads the same file."""
    text = (root / "template.yaml").read_text()
    key = hashlib.sha256(text.encode()).hexdigest()
    if key not in _templates:
        _templates[key] = json.dumps(load_yaml(text))
    return dict(json.loads(_templates[key]))


def translate(root: Path, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """SAM → CloudFormation with the ASL file inlined (as ``sam build``/``package`` would upload it)."""
    template = json.loads(json.dumps(template if template is not None else load_template(root)))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            uri = properties.pop("DefinitionUri")
            properties["Definition"] = json.loads((root / uri).read_text())
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = CODE_URI
    globals_function = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = CODE_URI
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        return dict(transform(template, {}, _NoManagedPolicies()))
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


@dataclass
class Stack:
    """What the local deploy created, by logical id."""

    name: str
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    #: What the Price List refresh's schedule did when the local runner fired it after the deploy (None: not fired).
    price_refresh: dict[str, Any] | None = None

    @property
    def bucket(self) -> str:
        return self.physical["DataBucket"]

    @property
    def state_machine_arn(self) -> str:
        return self.physical["FineTuneStateMachine"]

    @property
    def topic_arn(self) -> str:
        return self.physical["NotificationTopic"]


class _Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If and the condition functions against the stack."""

    def __init__(self, stack: Stack, conditions: dict[str, Any]) -> None:
        self.stack = stack
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": stack.name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.conditions_source = conditions
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.conditions_source[name]))
        return self.conditions[name]

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        if name in self.stack.physical:
            return self.stack.physical[name]
        raise _Unresolved(name)

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.stack.attributes[name][attribute]
        except KeyError:
            raise _Unresolved(f"{name}.{attribute}") from None

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and token.split(".", 1)[0] not in self.pseudo:
                resource, attribute = token.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                resolved = self.ref(arg)
                return _NO_VALUE if resolved is None else resolved
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(resource, attribute)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return self.sub(text, variables)
            if key == "Fn::Join":
                return str(arg[0]).join(str(item) for item in self.resolve(arg[1]))
            if key == "Fn::If":
                chosen = arg[1] if self.condition(arg[0]) else arg[2]
                return self.resolve(chosen)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(arg))
            if key == "Fn::Or":
                return any(self.resolve(arg))
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic function {key} is not supported by the local deployer")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}


class _Unresolved(Exception):
    pass


_NO_VALUE = object()


def _suffix(stack_name: str, logical_id: str) -> str:
    return hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12]


def _parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    values = {}
    for name, spec in declared.items():
        value = overrides.get(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"template parameter {name} has no default and no value")
        _check_parameter(name, spec, str(value))
        values[name] = str(value)
    return values


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """CloudFormation's own parameter checks (a deploy with a value outside them fails before anything exists)."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        raise TemplateError(f"parameter {name}: {value!r} is not one of {allowed}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}: {value!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}: {value} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}: {value} is above its MaxValue {spec['MaxValue']}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        raise TemplateError(f"parameter {name}: {value!r} does not match {pattern}")


def deploy(
    root: Path | None = None,
    *,
    stack_name: str = "bedrock-finetune-local",
    parameters: dict[str, str] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Stack:
    """Create every resource of the translated template in the (mocked) account; returns what was created.
    ``edit`` may change the translated template first (tests take a permission out this way)."""
    root = root or project_root()
    cfn = _translated(root)
    if edit is not None:
        edit(cfn)
    stack = Stack(name=stack_name, parameters=_parameters(cfn, parameters or {}))
    resolver = _Resolver(stack, cfn.get("Conditions", {}))
    pending = dict(cfn["Resources"])
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            condition = resource.get("Condition")
            if condition and not resolver.condition(condition):
                del pending[logical_id]
                progressed = True
                continue
            if any(dep in pending for dep in _as_list(resource.get("DependsOn"))):
                continue
            try:
                properties = resolver.resolve(resource.get("Properties", {}))
            except _Unresolved:
                continue
            _create(stack, logical_id, resource["Type"], properties)
            stack.types[logical_id] = resource["Type"]
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise TemplateError(f"cannot resolve the dependencies of: {', '.join(sorted(pending))}")
    return stack


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _create(stack: Stack, logical_id: str, kind: str, props: dict[str, Any]) -> None:
    creator = _CREATORS.get(kind)
    if creator is None:
        raise TemplateError(f"{logical_id}: resource type {kind} is not supported by the local deployer")
    creator(stack, logical_id, props)


_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service, region_name=REGION)
    return _clients[service]


_translations: dict[tuple[str, str], str] = {}


def _translated(root: Path) -> dict[str, Any]:
    """translate(), computed once per template and state machine text (each local run deploys the same files)."""
    sources = (root / "template.yaml").read_text() + "".join(
        path.read_text() for path in sorted((root / "statemachine").glob("*.asl.json"))
    )
    key = (str(root), hashlib.sha256(sources.encode()).hexdigest())
    if key not in _translations:
        _translations[key] = json.dumps(translate(root))
    return dict(json.loads(_translations[key]))


def _bucket(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("BucketName") or f"{stack.name}-{logical_id}-{_suffix(stack.name, logical_id)}".lower()
    s3 = _client("s3")
    s3.create_bucket(Bucket=name)
    if "BucketEncryption" in props:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "LifecycleConfiguration" in props:
        lifecycle = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": lifecycle})
    notification = props.get("NotificationConfiguration", {})
    if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape → the API's."""
    converted: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return converted


def _bucket_policy(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    _client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
    stack.physical[logical_id] = props["Bucket"]


def _topic(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("TopicName") or f"{stack.name}-{logical_id}-{_suffix(stack.name, logical_id)}"
    attributes = {"DisplayName": props.get("DisplayName", "")}
    if "KmsMasterKeyId" in props:
        attributes["KmsMasterKeyId"] = props["KmsMasterKeyId"]
    arn = _client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    stack.physical[logical_id] = arn
    stack.attributes[logical_id] = {"TopicName": name, "TopicArn": arn}


def _subscription(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    arn = _client("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"])
    stack.physical[logical_id] = arn["SubscriptionArn"]


def role_name(stack_name: str, logical_id: str) -> str:
    """The physical name CloudFormation-style naming gives a role without RoleName (at most 64 characters)."""
    return f"{stack_name}-{logical_id}"[:52] + f"-{_suffix(stack_name, logical_id)[:11]}"


def _role(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("RoleName") or role_name(stack.name, logical_id)
    iam = _client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))[
        "Role"
    ]["Arn"]
    for policy in props.get("Policies", []):
        # SAM's policy templates omit Version, which IAM accepts and moto rejects.
        document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": arn, "RoleId": name}


def _log_group(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("LogGroupName") or f"/{stack.name}/{logical_id}"
    logs = _client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"}


def _function(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("FunctionName") or f"{stack.name}-{logical_id}"[:64]
    arn = _client("lambda").create_function(
        FunctionName=name,
        Runtime=props["Runtime"],
        Role=props["Role"],
        Handler=props["Handler"],
        Code={"ZipFile": _CODE_ZIP},
        Description=props.get("Description", ""),
        Timeout=int(props.get("Timeout", 3)),
        MemorySize=int(props.get("MemorySize", 128)),
        Environment={"Variables": {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}},
        Architectures=props.get("Architectures", ["x86_64"]),
        **({"DeadLetterConfig": props["DeadLetterConfig"]} if "DeadLetterConfig" in props else {}),
    )["FunctionArn"]
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": arn}


def _state_machine(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    definition = props["DefinitionString"]
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    leftover = re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)
    if leftover:
        raise TemplateError(f"{logical_id}: DefinitionSubstitutions lack {', '.join(sorted(set(leftover)))}")
    name = props.get("StateMachineName") or f"{stack.name}-{logical_id}"
    arn = _client("stepfunctions").create_state_machine(
        name=name, definition=definition, roleArn=props["RoleArn"], type=props.get("StateMachineType", "STANDARD")
    )["stateMachineArn"]
    stack.physical[logical_id] = arn
    stack.attributes[logical_id] = {"Arn": arn, "Name": name}


def _rule(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("Name") or f"{stack.name}-{logical_id}"[:64]
    events = _client("events")
    arn = events.put_rule(
        Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED")
    )["RuleArn"]
    targets = [dict(target) for target in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, Targets=targets)
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": arn}


def _permission(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    _client("lambda").add_permission(
        FunctionName=props["FunctionName"],
        StatementId=logical_id,
        Action=props["Action"],
        Principal=props["Principal"],
        **({"SourceArn": props["SourceArn"]} if "SourceArn" in props else {}),
    )
    stack.physical[logical_id] = logical_id


def _event_invoke_config(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    _client("lambda").put_function_event_invoke_config(
        FunctionName=props["FunctionName"],
        Qualifier=props.get("Qualifier", "$LATEST"),
        MaximumRetryAttempts=int(props.get("MaximumRetryAttempts", 2)),
    )
    stack.physical[logical_id] = logical_id


def _queue(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("QueueName") or f"{stack.name}-{logical_id}"[:80]
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in ("SqsManagedSseEnabled", "KmsMasterKeyId", "MessageRetentionPeriod", "VisibilityTimeout")
        if key in props
    }
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.physical[logical_id] = url
    stack.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _alarm(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    name = props.get("AlarmName") or f"{stack.name}-{logical_id}-{_suffix(stack.name, logical_id)}"
    optional = {
        key: props[key]
        for key in ("AlarmDescription", "Statistic", "TreatMissingData", "AlarmActions", "OKActions", "Unit")
        if key in props
    }
    _client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace=props["Namespace"],
        MetricName=props["MetricName"],
        Dimensions=props.get("Dimensions", []),
        Period=int(props["Period"]),
        EvaluationPeriods=int(props["EvaluationPeriods"]),
        Threshold=float(props["Threshold"]),
        ComparisonOperator=props["ComparisonOperator"],
        **optional,
    )
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"}


def _dashboard(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """A CloudWatch dashboard; its body must be JSON with widgets, as PutDashboard requires."""
    body = props["DashboardBody"]
    parsed = json.loads(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("widgets"), list):
        raise ValueError(f"{logical_id}: DashboardBody has no widgets list")
    name = props.get("DashboardName") or f"{stack.name}-{logical_id}"
    _client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
    stack.physical[logical_id] = name


def _schedule(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """An EventBridge Scheduler schedule. moto stores it and never fires it: the local runner fires it once, as the
    scheduler would (its target invoked with the target's role), after a run's executions end."""
    name = props.get("Name") or f"{stack.name}-{logical_id}-{_suffix(stack.name, logical_id)}"[:64]
    target = dict(props["Target"])
    optional = {
        key: props[key]
        for key in ("Description", "GroupName", "ScheduleExpressionTimezone", "State", "KmsKeyArn")
        if key in props
    }
    arn = _client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=props["ScheduleExpression"],
        FlexibleTimeWindow=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
        Target=target,
        **optional,
    )["ScheduleArn"]
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": arn}


def _table(stack: Stack, logical_id: str, props: dict[str, Any]) -> None:
    """AWS::DynamoDB::Table: keys, billing, encryption, TTL and point-in-time recovery through the API, as
    CloudFormation sets them."""
    name = props.get("TableName") or f"{stack.name}-{logical_id}-{_suffix(stack.name, logical_id)}"
    dynamodb = _client("dynamodb")
    sse = props.get("SSESpecification") or {}
    description = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PROVISIONED"),
        **({"SSESpecification": {"Enabled": bool(sse.get("SSEEnabled"))}} if sse else {}),
        **(
            {"ProvisionedThroughput": props["ProvisionedThroughput"]}
            if props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
            else {}
        ),
    )["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl.get("Enabled"))},
        )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))
            },
        )
    stack.physical[logical_id] = name
    stack.attributes[logical_id] = {"Arn": description["TableArn"], "StreamArn": ""}


_CREATORS = {
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::IAM::Role": _role,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Events::Rule": _rule,
    "AWS::Lambda::Permission": _permission,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::SQS::Queue": _queue,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::DynamoDB::Table": _table,
    "AWS::Scheduler::Schedule": _schedule,
}
