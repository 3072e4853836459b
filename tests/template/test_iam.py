"""IAM of the translated CloudFormation (SAM-generated roles and policies included): least privilege, PassRole,
the Bedrock service role's trust and S3 scope. Each check also runs on a deliberately broken template."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_finetune_local.stack import translate

from . import checks
from .checks import Json
from .conftest import ROOT, fresh

SERVICE_ROLE = "BedrockServiceRole"
BEDROCK = "bedrock.amazonaws.com"
BUCKET = "DataBucket"
# Bedrock reads the staged training/validation data and writes the job output (metrics, losses). AWS's service-role
# docs also give it s3:GetObject on the output location, so reading is datasets/ and outputs/, writing outputs/ only.
SERVICE_ROLE_READS = ("datasets/", "outputs/")
SERVICE_ROLE_WRITES = ("outputs/",)

# Actions that take no resource ARN, so IAM accepts only Resource "*" for them.
RESOURCE_STAR_ALLOWED = {
    # Cleanup finds the run's jobs, throughputs and deployments by name even when the state lost their ARNs.
    "bedrock:ListModelCustomizationJobs": "List* calls have no resource-level permissions in Bedrock",
    "bedrock:ListProvisionedModelThroughputs": "List* calls have no resource-level permissions in Bedrock",
    "bedrock:ListCustomModelDeployments": "List* calls have no resource-level permissions in Bedrock",
    # Step Functions delivers its execution logs to CloudWatch Logs through vended log delivery.
    "logs:CreateLogDelivery": "vended log delivery APIs accept only Resource *",
    "logs:GetLogDelivery": "vended log delivery APIs accept only Resource *",
    "logs:UpdateLogDelivery": "vended log delivery APIs accept only Resource *",
    "logs:DeleteLogDelivery": "vended log delivery APIs accept only Resource *",
    "logs:ListLogDeliveries": "vended log delivery APIs accept only Resource *",
    "logs:PutResourcePolicy": "vended log delivery APIs accept only Resource *",
    "logs:DescribeResourcePolicies": "vended log delivery APIs accept only Resource *",
    "logs:DescribeLogGroups": "vended log delivery APIs accept only Resource *",
    # AwaitJobEnd and JobEvent resume the execution waiting for a job's end; the task token names the Task.
    "states:SendTaskSuccess": "no resource type in the Service Authorization Reference (AWS Step Functions)",
    # RefreshPrices reads the Bedrock prices of the stack's Region.
    "pricing:GetProducts": "no resource type in the Service Authorization Reference (AWS Price List)",
}
MANAGED_POLICIES_ALLOWED = {
    # SAM attaches it to every function role: logs:CreateLogGroup/CreateLogStream/PutLogEvents for its own logs.
    "service-role/AWSLambdaBasicExecutionRole": "a function's own CloudWatch logs",
    # SAM attaches it with `Tracing: Active` (functions) and `Tracing: Enabled` (state machines): only
    # xray:PutTraceSegments, PutTelemetryRecords and the sampling reads, which have no resource-level permissions
    # (Service Authorization Reference, AWS X-Ray): nothing narrower exists.
    "AWSXrayWriteOnlyAccess": "writing the run's traces to X-Ray",
}


def translated_with(template: Json, function: str, statement: Json) -> Json:
    """The template with one more statement in ``function``'s inline policy, translated by SAM."""
    broken = fresh(template)
    broken["Resources"][function]["Properties"]["Policies"][0]["Statement"].append(statement)
    return translate(ROOT, broken)


def test_no_action_wildcards(cfn: Json) -> None:
    # Given every identity policy of the translated template
    # When the allowed actions are checked
    problems = checks.wildcard_action_problems(cfn)

    # Then none is "*", "service:*" or another pattern
    assert problems == []


def test_resource_star_only_for_apis_without_resource_level_permissions(cfn: Json) -> None:
    # Given every identity policy of the translated template
    # When statements on Resource "*" are checked against the list above
    problems = checks.resource_wildcard_problems(cfn, RESOURCE_STAR_ALLOWED)

    # Then only those actions use it
    assert problems == []


def test_only_the_basic_execution_managed_policy_is_attached(cfn: Json) -> None:
    # Given every role of the translated template
    # When its managed policies are checked
    problems = checks.managed_policy_problems(cfn, MANAGED_POLICIES_ALLOWED)

    # Then no broad AWS managed policy (…FullAccess) is attached
    assert problems == []


def test_pass_role_only_for_the_service_role_and_only_to_bedrock(cfn: Json) -> None:
    # Given every identity policy of the translated template
    # When the statements allowing iam:PassRole are checked
    problems = checks.pass_role_problems(cfn, SERVICE_ROLE, BEDROCK)

    # Then they name only the Bedrock service role, with iam:PassedToService = bedrock.amazonaws.com
    assert problems == []


def test_service_role_trusts_only_bedrock_for_this_account(cfn: Json) -> None:
    # Given the role Bedrock assumes for the customization job
    # When its trust policy is checked
    problems = checks.trust_problems(cfn, SERVICE_ROLE, BEDROCK)

    # Then only Bedrock may assume it, and only on behalf of this account (aws:SourceAccount)
    assert problems == []


def test_service_role_reads_only_datasets_and_writes_only_outputs(cfn: Json) -> None:
    # Given the role Bedrock assumes for the customization job
    # When its S3 permissions are checked
    problems = checks.s3_scope_problems(cfn, SERVICE_ROLE, BUCKET, read=SERVICE_ROLE_READS, write=SERVICE_ROLE_WRITES)

    # Then it reads datasets/ (and its own outputs/), writes outputs/ and lists only those prefixes
    assert problems == []


# --- the same checks on broken templates -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(
            {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
            [
                "wildcard: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: allows bedrock:*",
                'resource: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: bedrock:* on Resource "*"',
            ],
            id="service-star",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": ["s3:GetObject", "bedrock:ListCustomModelDeployments"], "Resource": "*"},
            ['resource: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: s3:GetObject on Resource "*"'],
            id="resource-star",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": {"Fn::GetAtt": ["BedrockServiceRole", "Arn"]}},
            [
                "passrole: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: iam:PassRole without the "
                "condition iam:PassedToService = bedrock.amazonaws.com"
            ],
            id="passrole-without-condition",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:Pass*", "Resource": "*"},
            [
                "wildcard: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: allows iam:Pass*",
                'resource: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: iam:Pass* on Resource "*"',
                "passrole: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: iam:PassRole on *, not only "
                "BedrockServiceRole",
                "passrole: ResolveConfigFunctionRole/ResolveConfigFunctionRolePolicy0: iam:PassRole without the "
                "condition iam:PassedToService = bedrock.amazonaws.com",
            ],
            id="passrole-star",
        ),
    ],
)
def test_iam_checks_report_a_broken_function_policy(template: Json, statement: Json, expected: list[str]) -> None:
    # Given the template with one more statement in ResolveConfigFunction's policy, translated
    cfn = translated_with(template, "ResolveConfigFunction", statement)

    # When the IAM checks run
    problems = [
        *(f"wildcard: {p}" for p in checks.wildcard_action_problems(cfn)),
        *(f"resource: {p}" for p in checks.resource_wildcard_problems(cfn, RESOURCE_STAR_ALLOWED)),
        *(f"passrole: {p}" for p in checks.pass_role_problems(cfn, SERVICE_ROLE, BEDROCK)),
    ]

    # Then the new statement is reported by the checks it breaks
    assert problems == expected


def test_managed_policy_check_reports_a_full_access_policy(template: Json) -> None:
    # Given a function that also gets an AWS managed …FullAccess policy
    broken = fresh(template)
    broken["Resources"]["NotifyFunction"]["Properties"]["Policies"].append("arn:aws:iam::aws:policy/AmazonS3FullAccess")

    # When checked
    problems = checks.managed_policy_problems(translate(ROOT, broken), MANAGED_POLICIES_ALLOWED)

    # Then it is reported
    assert problems == ["NotifyFunctionRole: managed policy AmazonS3FullAccess is attached"]


def test_trust_check_reports_a_missing_source_account_and_another_principal(template: Json) -> None:
    # Given a service role without the aws:SourceAccount condition, that Lambda may assume too
    broken = fresh(template)
    (statement,) = broken["Resources"][SERVICE_ROLE]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    del statement["Condition"]
    statement["Principal"]["Service"] = [BEDROCK, "lambda.amazonaws.com"]

    # When checked
    problems = checks.trust_problems(translate(ROOT, broken), SERVICE_ROLE, BEDROCK)

    # Then both are reported
    assert problems == [
        'BedrockServiceRole: trusts {"Service": ["bedrock.amazonaws.com", "lambda.amazonaws.com"]}, '
        "not only bedrock.amazonaws.com",
        "BedrockServiceRole: trust has no aws:SourceAccount condition on the stack's account",
    ]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${DataBucket.Arn}/*"}},
            ["BedrockServiceRole/training-data: s3:GetObject on ${DataBucket.Arn}/*"],
            id="reads-the-whole-bucket",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": {"Fn::Sub": "${DataBucket.Arn}/datasets/*"}},
            ["BedrockServiceRole/training-data: s3:PutObject on ${DataBucket.Arn}/datasets/*"],
            id="writes-datasets",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": {"Fn::GetAtt": ["DataBucket", "Arn"]}},
            ["BedrockServiceRole/training-data: s3:ListBucket on ['${DataBucket.Arn}'] for prefixes []"],
            id="lists-everything",
        ),
    ],
)
def test_s3_scope_check_reports_access_beyond_datasets_and_outputs(
    template: Json, statement: dict[str, Any], expected: list[str]
) -> None:
    # Given a service role with one more S3 statement
    broken = fresh(template)
    broken["Resources"][SERVICE_ROLE]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(statement)

    # When checked
    problems = checks.s3_scope_problems(
        translate(ROOT, broken), SERVICE_ROLE, BUCKET, read=SERVICE_ROLE_READS, write=SERVICE_ROLE_WRITES
    )

    # Then the access is reported
    assert problems == expected
