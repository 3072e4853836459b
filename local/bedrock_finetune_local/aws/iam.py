"""IAM in the local AWS: every call runs as the principal that makes it on AWS and is allowed only if that
principal's policies allow it.

Who calls, as on AWS:
* a Lambda handler calls with its function role's credentials (the Lambda seam puts the role session's keys in
  the handler's environment, as the Lambda runtime does);
* the state machine's integrations call with the state machine role (the Step Functions interpreter's clients);
* an EventBridge target is started with the rule target's role, or, for Lambda targets, as the service principal
  ``events.amazonaws.com`` checked against the function's resource-based policy;
* the local Bedrock reads training data and writes job output as the job's service role, after checking that the
  role's trust policy lets ``bedrock.amazonaws.com`` assume it (with ``aws:SourceAccount``/``aws:SourceArn``);
* the local runner and the tests' own setup and inspection use the account's administrator credentials
  (``ADMIN_ACCESS_KEY``), which IAM does not restrict.

How: every boto3 call pushes its operation and parameters on a per-thread stack
(``BaseClient._make_api_call``); moto answers each HTTP attempt from one ``before-send`` handler, where
:func:`check` reads the caller's access key from the SigV4 ``Authorization`` header, turns the operation into the
IAM actions and resources it needs (:mod:`iam_actions`), evaluates the identity-based policies of the principal's
role and the resource-based policy of the resource (:mod:`iam_policy`), and answers a denial with the service's
own AccessDenied error, in the shape botocore parses for that service's protocol.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient

from bedrock_finetune_local.aws import iam_actions
from bedrock_finetune_local.aws.iam_policy import (
    ContextValue,
    Decision,
    PolicySource,
    Principal,
    Request,
    evaluate,
)

ACCOUNT_ID = "123456789012"
ADMIN_ACCESS_KEY = "testing"  # the local runner's and the tests' credentials: the account's administrator
# moto's mock_aws puts its own fake keys in the environment; they stand for the same administrator.
_ADMIN_KEYS = frozenset({ADMIN_ACCESS_KEY, "FOOBARKEY"})
ADMIN = Principal(kind="admin", arn=f"arn:aws:iam::{ACCOUNT_ID}:root", account=ACCOUNT_ID)


# ---- who calls ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str

    def as_environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def as_client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_session_token": self.session_token,
        }


#: The local account administrator's (fake) keys: what the runner and AWS's own doings (events it emits) call with.
ADMIN_CREDENTIALS = Credentials(ADMIN_ACCESS_KEY, "testing", "testing")


def admin_client(service: str, region: str) -> Any:
    """A client with the administrator's keys, whatever a handler running in another thread has put in the process
    environment (the Lambda seam sets its role's keys there while it runs)."""
    import boto3  # noqa: PLC0415 - only the local runner and seams need clients here

    return boto3.client(service, region_name=region, **ADMIN_CREDENTIALS.as_client_kwargs())


_principals: dict[str, Principal] = {}
_principals_lock = threading.Lock()


def _issue(principal: Principal) -> Credentials:
    digest = hashlib.sha256(principal.arn.encode()).hexdigest().upper()
    access_key = "ASIA" + digest[:16]
    with _principals_lock:
        _principals[access_key] = principal
    return Credentials(access_key, digest[16:56], "local-session-" + digest[:24])


def role_credentials(role_arn: str, session_name: str) -> Credentials:
    """Temporary credentials of a role session (what AssumeRole would return)."""
    role_name = role_arn.rsplit("/", 1)[-1]
    account = role_arn.split(":")[4]
    principal = Principal(
        kind="role",
        arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
        account=account,
        role_arn=role_arn,
        role_name=role_name,
    )
    return _issue(principal)


def service_credentials(service: str, *, source_arn: str | None = None, account: str = ACCOUNT_ID) -> Credentials:
    """Credentials that stand for a service principal acting for a resource of ``account``."""
    principal = Principal(kind="service", arn=service, account=account, service=service, role_arn=source_arn)
    return _issue(principal)


def principal_for(access_key: str) -> Principal | None:
    if access_key in _ADMIN_KEYS:
        return ADMIN
    with _principals_lock:
        return _principals.get(access_key)


_AUTH_KEY = re.compile(r"Credential=([^/,\s]+)/")


def access_key_of(request: Any) -> str | None:
    header = request.headers.get("Authorization") if hasattr(request, "headers") else None
    if isinstance(header, bytes):
        header = header.decode()
    match = _AUTH_KEY.search(header or "")
    return match.group(1) if match else None


# ---- which call --------------------------------------------------------------------------------------------------
@dataclass
class Call:
    service: str
    operation: str
    params: Mapping[str, Any]
    region: str


_calls = threading.local()


def current_call() -> Call | None:
    stack: list[Call] = getattr(_calls, "stack", [])
    return stack[-1] if stack else None


_original_make_api_call = BaseClient._make_api_call


def _make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    stack: list[Call] = _calls.__dict__.setdefault("stack", [])
    service = self.meta.service_model.service_name
    stack.append(Call(service, operation_name, dict(api_params), str(self.meta.region_name)))
    try:
        return _original_make_api_call(self, operation_name, api_params)
    finally:
        stack.pop()


# ---- the decision log (what allowed each call: the removal tests read it) ------------------------------------------
@dataclass(frozen=True)
class Grant:
    """One authorization that succeeded: the principal's role, the action, the resource, and the policy that
    allowed it (``identity:<policy name>`` or ``resource:<kind>``)."""

    role_arn: str | None
    principal: str
    action: str
    resource: str
    allowed_by: str


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str
    message: str
    operation: str


@dataclass
class Enforcement:
    grants: list[Grant] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    # (service, operation) of every call a workflow principal made (the fault matrix checks its coverage with it)
    operations: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


_enforcement: Enforcement | None = None


@contextmanager
def enforce() -> Iterator[Enforcement]:
    """Evaluate IAM for every call made while the block runs (the local runner's session turns it on)."""
    global _enforcement  # noqa: PLW0603 - one local account per process
    previous = _enforcement
    _enforcement = Enforcement()
    try:
        yield _enforcement
    finally:
        _enforcement = previous


def enforcing() -> bool:
    return _enforcement is not None


def current() -> Enforcement | None:
    """The active enforcement's log of grants and denials (None when IAM is not enforced)."""
    return _enforcement


# ---- policies ----------------------------------------------------------------------------------------------------
def _iam_backend() -> Any:
    from moto.iam.models import iam_backends  # noqa: PLC0415 - moto is imported only inside the local AWS

    return iam_backends[ACCOUNT_ID]["global"]


def _role(role_name: str) -> Any | None:
    try:
        return _iam_backend().get_role(role_name)
    except Exception:
        return None


def identity_policies(principal: Principal) -> list[PolicySource]:
    if principal.kind != "role" or principal.role_name is None:
        return []
    role = _role(principal.role_name)
    if role is None:
        return []
    sources = [
        PolicySource(json.loads(document), "identity", f"identity:{name}") for name, document in role.policies.items()
    ]
    for arn, policy in role.managed_policies.items():
        document = policy.default_version.document if hasattr(policy, "default_version") else policy.document
        sources.append(PolicySource(json.loads(document), "identity", f"identity:{arn}"))
    return sources


def resource_policy(service: str, resource: str, region: str) -> PolicySource | None:
    """The resource-based policy of ``resource`` (S3 bucket policy, SNS topic policy, Lambda function policy)."""
    try:
        if service == "s3" and resource.startswith("arn:aws:s3:::"):
            from moto.s3.models import s3_backends  # noqa: PLC0415

            bucket_name = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            bucket = s3_backends[ACCOUNT_ID]["aws"].buckets.get(bucket_name)
            if bucket is None or not bucket.policy:
                return None
            text = bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy
            return PolicySource(json.loads(text), "resource", "resource:bucket policy")
        if service == "sns":
            from moto.sns.models import sns_backends  # noqa: PLC0415

            topic = sns_backends[ACCOUNT_ID][region].topics.get(resource)
            return (
                None if topic is None else PolicySource(json.loads(topic.policy), "resource", "resource:topic policy")
            )
        if service == "lambda":
            from moto.awslambda_simple.models import lambda_simple_backends  # noqa: PLC0415

            name = resource.split(":function:", 1)[-1].split(":", 1)[0]
            # Without Docker moto serves Lambda from its "simple" backend, which holds the functions.
            wire = json.loads(lambda_simple_backends[ACCOUNT_ID][region].get_policy(name))
            return PolicySource(json.loads(wire["Policy"]), "resource", "resource:function policy")
    except Exception:
        return None
    return None


def trust_allows(role_arn: str, service: str, *, source_account: str, source_arn: str) -> tuple[bool, str]:
    """May ``service`` assume ``role_arn`` for a resource of ``source_account``? (the role's trust policy)."""
    role = _role(role_arn.rsplit("/", 1)[-1])
    if role is None:
        return False, f"role {role_arn} does not exist"
    principal = Principal(kind="service", arn=service, account=source_account, service=service)
    request = Request(
        principal=principal,
        action="sts:AssumeRole",
        resource=role_arn,
        context={"aws:SourceAccount": source_account, "aws:SourceArn": source_arn, "aws:SecureTransport": "true"},
    )
    document = role.assume_role_policy_document
    trust = json.loads(document) if isinstance(document, str) else document
    decision = evaluate(request, [PolicySource(trust, "resource", "resource:trust policy")])
    return decision.allowed, decision.reason(request)


def service_role_denial(role_arn: str, action: str, resource: str, source_arn: str) -> str | None:
    """May a service acting through the role session of ``role_arn`` perform ``action`` on ``resource``?
    None when allowed, else AWS's denial text (the caller turns it into its own failure message)."""
    session = role_credentials(role_arn, "bedrock-job-" + source_arn.rsplit("/", 1)[-1])
    principal = principal_for(session.access_key)
    assert principal is not None
    call = Call(service=action.split(":", 1)[0], operation=action, params={}, region=source_arn.split(":")[3])
    context = _base_context(principal, call, secure=True)
    verdict = _decide(principal, call, action, resource, context)
    return None if verdict is None else verdict.message


# ---- the check ---------------------------------------------------------------------------------------------------
def _base_context(principal: Principal, call: Call, secure: bool) -> dict[str, ContextValue]:
    now = datetime.now(UTC)
    context: dict[str, ContextValue] = {
        "aws:SecureTransport": "true" if secure else "false",
        "aws:PrincipalAccount": principal.account,
        "aws:RequestedRegion": call.region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:ViaAWSService": "false",
    }
    if principal.kind == "role" and principal.role_arn:
        context["aws:PrincipalArn"] = principal.role_arn
        context["aws:PrincipalType"] = "AssumedRole"
    if principal.kind == "service":
        context["aws:PrincipalServiceName"] = principal.service or ""
        context["aws:SourceAccount"] = principal.account
        if principal.role_arn:
            context["aws:SourceArn"] = principal.role_arn
    tags = _request_tags(call.params)
    if tags:
        context["aws:TagKeys"] = sorted(tags)
        for key, value in tags.items():
            context[f"aws:RequestTag/{key}"] = value
    return context


def _request_tags(params: Mapping[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for name in ("tags", "jobTags", "customModelTags", "Tags"):
        for item in params.get(name) or []:
            if isinstance(item, Mapping):
                key = item.get("key", item.get("Key"))
                if key is not None:
                    tags[str(key)] = str(item.get("value", item.get("Value", "")))
    return tags


def _lookup(kind: str, identifier: str) -> str | None:
    """Names → ARNs for the local Bedrock's resources (Bedrock authorizes the resource, whatever it is called)."""
    from bedrock_finetune_local.aws import bedrock as local_bedrock  # noqa: PLC0415 - avoids an import cycle

    if kind in {"inference-profile", "inference-profile-model"}:
        return _inference_profile(kind, identifier)
    return local_bedrock.arn_for_name(kind, identifier)


_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


def _inference_profile(kind: str, identifier: str) -> str | None:
    """System-defined inference profiles: ``us.<foundation id>`` (or its ARN) → the profile ARN, or the
    foundation model it routes to. Locally a profile routes to the foundation model in the caller's Region."""
    profile_id = identifier.split(":inference-profile/", 1)[-1]
    prefix = next((p for p in _PROFILE_PREFIXES if profile_id.startswith(p)), None)
    if prefix is None:
        return None
    region = identifier.split(":")[3] if identifier.startswith("arn:") else "us-east-1"
    if kind == "inference-profile":
        return f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{profile_id.removeprefix(prefix)}"


@dataclass(frozen=True)
class Verdict:
    """A denied call: what to answer."""

    code: str
    status: int
    message: str
    empty_body: bool = False


def authorize(principal: Principal, call: Call, *, secure: bool = True) -> Verdict | None:
    """None when ``principal`` may make ``call``, else the error the service answers."""
    if principal.kind == "admin":
        return None
    needs = iam_actions.needs_for(call.service, call.operation)
    if needs is None:
        message = (
            f"User: {principal.arn} is not authorized to perform: {call.service}:{call.operation} "
            "(local IAM has no authorization rule for this operation: add it to iam_actions.TABLE)"
        )
        return _denied(principal, call, f"{call.service}:{call.operation}", "*", message)
    values = iam_actions.derive(
        call.service, call.operation, call.params, region=call.region, account=principal.account, lookup=_lookup
    )
    base = _base_context(principal, call, secure)
    applied = 0
    for need in needs:
        if need.when and need.when not in values:
            continue
        if need.unless and need.unless in values:
            continue
        applied += 1
        try:
            resource = need.arn.format_map(values)
        except KeyError as missing:
            message = f"local IAM cannot build the resource of {need.action} for {call.operation}: {missing}"
            return _denied(principal, call, need.action, need.arn, message)
        context = dict(base)
        context.update(_resource_tag_context(call.service, resource))
        for key, source in need.context:
            if source.startswith("="):
                context[key] = source[1:]
            elif source in values:
                context[key] = values[source]
        verdict = _decide(principal, call, need.action, resource, context)
        if verdict is not None:
            return verdict
    if needs and not applied:
        # Every row is conditional and none matched (e.g. ListTagsForResource of a resource type the table does not
        # know): never allow silently.
        message = (
            f"User: {principal.arn} is not authorized to perform: {call.service}:{call.operation} "
            "(local IAM has no authorization rule for these parameters: add it to iam_actions.TABLE)"
        )
        return _denied(principal, call, f"{call.service}:{call.operation}", "*", message)
    return _missing_object(principal, call, base)


def _resource_tag_context(service: str, resource: str) -> dict[str, ContextValue]:
    """``aws:ResourceTag/<key>`` of the resource a request acts on (Bedrock's job, provisioned-model and
    custom-model-deployment resource types support the key: Service Authorization Reference). A resource that does
    not exist has no tags, so a policy conditioned on them does not allow the call."""
    if service != "bedrock" or ":bedrock:" not in resource:
        return {}
    from bedrock_finetune_local.aws import bedrock as local_bedrock  # noqa: PLC0415 - avoids an import cycle

    parts = resource.split(":", 5)
    if len(parts) < 6 or not parts[4] or "/" not in parts[5]:
        return {}
    kind, resource_id = parts[5].split("/", 1)
    try:
        backend = local_bedrock.backend_for(parts[4], parts[3])
        # iam_actions names a job by the last part of its ARN (job ARNs hold the base model id before it).
        arn = next(
            (
                known
                for known in backend._list_arns()
                if known == resource or (f":{kind}/" in known and known.endswith(f"/{resource_id}"))
            ),
            resource,
        )
        tags = backend.tagger.list_tags_for_resource(arn).get("Tags", [])
    except Exception:
        return {}
    return {f"aws:ResourceTag/{item['Key']}": str(item["Value"]) for item in tags}


def _decide(
    principal: Principal,
    call: Call,
    action: str,
    resource: str,
    context: dict[str, ContextValue],
    *,
    record: bool = True,
) -> Verdict | None:
    request = Request(principal=principal, action=action, resource=resource, context=context)
    policies = identity_policies(principal)
    resource_source = resource_policy(
        call.service if call.service != "bedrock-runtime" else "bedrock", resource, call.region
    )
    if resource_source is not None:
        policies.append(resource_source)
    decision: Decision = evaluate(request, policies)
    if decision.allowed:
        _record_grant(principal, action, resource, decision)
        return None
    quote = '"' if call.service == "s3" else ""
    message = (
        f"User: {principal.arn} is not authorized to perform: {action} on resource: {quote}{resource}{quote} "
        f"{decision.reason(request)}"
    )
    return _denied(principal, call, action, resource, message, record=record)


def _record_grant(principal: Principal, action: str, resource: str, decision: Decision) -> None:
    if _enforcement is None or decision.allowed_by is None:
        return
    with _enforcement.lock:
        _enforcement.grants.append(Grant(principal.role_arn, principal.arn, action, resource, decision.allowed_by.name))


# Each service's AccessDenied as its API sends it (code, HTTP status): botocore's models and the services' docs.
_ACCESS_DENIED = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
    "stepfunctions": ("AccessDeniedException", 400),
    "dynamodb": ("AccessDeniedException", 400),
    "events": ("AccessDeniedException", 400),
    "scheduler": ("AccessDeniedException", 403),
}


def _denied(
    principal: Principal, call: Call, action: str, resource: str, message: str, *, record: bool = True
) -> Verdict:
    code, status = _ACCESS_DENIED.get(call.service, ("AccessDeniedException", 403))
    if _enforcement is not None and record:
        with _enforcement.lock:
            _enforcement.denials.append(Denial(principal.arn, action, resource, message, call.operation))
    # A HEAD request has no body: S3 answers 403 and botocore reports the code "403" with message "Forbidden".
    return Verdict(code, status, message, empty_body=call.operation == "HeadObject")


def _missing_object(principal: Principal, call: Call, base: dict[str, ContextValue]) -> Verdict | None:
    """GetObject/HeadObject of a missing key: 404 only with s3:ListBucket on the bucket, else 403 (S3 API
    Reference, GetObject "Permissions"). The implied ListBucket check has no s3:prefix in its context."""
    if call.service != "s3" or call.operation not in {"GetObject", "HeadObject"}:
        return None
    bucket, key = str(call.params.get("Bucket", "")), str(call.params.get("Key", ""))
    if _object_exists(bucket, key, call.params.get("VersionId")):
        return None
    # Not logged as a denial: it is how S3 answers a missing key, which callers probe for on purpose.
    verdict = _decide(principal, call, "s3:ListBucket", f"arn:aws:s3:::{bucket}", dict(base), record=False)
    if verdict is None:
        return None
    # The caller is told only "access denied" for the object, as S3 does.
    message = (
        f"User: {principal.arn} is not authorized to perform: s3:GetObject on resource: "
        f'"arn:aws:s3:::{bucket}/{key}" (the key does not exist and the caller may not s3:ListBucket the bucket)'
    )
    return Verdict("AccessDenied", 403, message, empty_body=call.operation == "HeadObject")


def _object_exists(bucket: str, key: str, version_id: Any) -> bool:
    from moto.s3.models import s3_backends  # noqa: PLC0415

    found = s3_backends[ACCOUNT_ID]["aws"].buckets.get(bucket)
    if found is None:
        return False
    try:
        versions = list(found.keys.getlist(key, None) or [])
    except KeyError:
        return False
    if version_id:
        return any(str(item.version_id) == str(version_id) for item in versions)
    return bool(versions) and not getattr(versions[-1], "is_delete_marker", False)


def check(request: Any) -> Verdict | None:
    """The before-send check: None lets the call through; a Verdict is the error to answer."""
    if _enforcement is None:
        return None
    call = current_call()
    if call is None:
        return None
    access_key = access_key_of(request)
    principal = principal_for(access_key) if access_key else None
    if principal is None:
        return Verdict(
            "UnrecognizedClientException" if call.service != "s3" else "InvalidAccessKeyId",
            403 if call.service == "s3" else 400,
            f"The security token included in the request is invalid (local AWS: unknown access key {access_key})",
        )
    if principal.kind != "admin":
        with _enforcement.lock:
            _enforcement.operations.add((call.service, call.operation))
    url = str(getattr(request, "url", "https://"))
    return authorize(principal, call, secure=url.startswith("https://"))


def is_workflow_call(request: Any) -> bool:
    """A call made by the workflow (a role or service principal), not by the runner or a test's own setup."""
    access_key = access_key_of(request)
    principal = principal_for(access_key) if access_key else None
    return principal is not None and principal.kind != "admin"


def current_principal(request: Any) -> Principal | None:
    access_key = access_key_of(request)
    return principal_for(access_key) if access_key else None


def install() -> None:
    """Track every boto3 call's operation and parameters (idempotent)."""
    BaseClient._make_api_call = _make_api_call
