"""Checks on template.yaml and the state machine definition, as plain functions that return a list of problems.

An empty list means the check passed. The tests run every check on the real files and on deliberately broken copies,
so each check is shown to be able to fail. Templates are the dicts that ``cfn_flip`` loads (long-form intrinsics);
the IAM and EventBridge checks take the CloudFormation that AWS's SAM translator produces, so SAM-generated roles,
policies and rules count too.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Json = dict[str, Any]

CLEANUP = "Cleanup"
ERROR_RESULT_PATH = "$.error"
FAIL_ERROR_PATH, FAIL_CAUSE_PATH = "$.error.Error", "$.error.Cause"
PENDING, SUCCESS, FAILURE, UNCLEAR = "pending", "success", "failure", "unclear"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def arn_text(value: Any) -> str:
    """An ARN-ish value as text: ``${DataBucket.Arn}/datasets/*`` for Fn::Sub, ``${X.Arn}`` for GetAtt, ``${X}``
    for Ref, so a check can compare resources without resolving them."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
        if key == "Fn::GetAtt":
            resource, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return f"${{{resource}.{attribute}}}"
        if key == "Ref":
            return f"${{{arg}}}"
    return json.dumps(value, sort_keys=True)


def resources_of_type(template: Json, kind: str) -> dict[str, Json]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


# --- the state machine as a graph -----------------------------------------------------------------------------------
def transitions(state: Json) -> list[str]:
    """Where a state goes when it does not fail: Next, Choices[].Next, Default."""
    targets = [rule["Next"] for rule in state.get("Choices", []) if "Next" in rule]
    return targets + [state[key] for key in ("Next", "Default") if key in state]


def catch_targets(state: Json) -> list[str]:
    return [catcher["Next"] for catcher in state.get("Catch", [])]


def successors(state: Json, *, catches: bool = True) -> list[str]:
    return transitions(state) + (catch_targets(state) if catches else [])


def tasks(definition: Json) -> dict[str, Json]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


def ends(definition: Json, *types: str) -> Callable[[str], bool]:
    """A goal for ``find_path``: a state that ends the execution (of one of ``types`` if given). A transition to a
    state that does not exist counts as an end, so a check reports it instead of ignoring it."""

    def goal(name: str) -> bool:
        state = definition["States"].get(name)
        if state is None:
            return True
        ending = state["Type"] in {"Succeed", "Fail"} or state.get("End") is True
        return ending and (not types or state["Type"] in types)

    return goal


def find_path(
    definition: Json,
    start: str,
    goal: Callable[[str], bool],
    *,
    blocked: frozenset[str] | set[str] = frozenset(),
    catches: bool = True,
) -> list[str] | None:
    """A shortest path from ``start`` to a state for which ``goal`` holds, entering no ``blocked`` state."""
    if start in blocked:
        return None
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        if goal(name):
            path = [name]
            while (parent := parents[path[-1]]) is not None:
                path.append(parent)
            return path[::-1]
        for target in successors(definition["States"].get(name, {}), catches=catches):
            if target not in parents and target not in blocked:
                parents[target] = name
                queue.append(target)
    return None


def reachable(definition: Json, start: str, *, catches: bool = True) -> list[str]:
    """Every state reachable from ``start`` (itself included), in breadth-first order."""
    order = [start]
    queue = deque([start])
    while queue:
        for target in successors(definition["States"].get(queue.popleft(), {}), catches=catches):
            if target not in order:
                order.append(target)
                queue.append(target)
    return order


def failure_tail(definition: Json) -> set[str]:
    """Cleanup and everything after it."""
    return set(reachable(definition, CLEANUP))


def _arrow(path: list[str]) -> str:
    return " → ".join(path)


# --- wiring: ${XFunctionArn} ↔ DefinitionSubstitutions ↔ functions ↔ invoke permissions -----------------------------
def _get_att_target(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        arg = value["Fn::GetAtt"]
        return str(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
    return None


def function_wiring_problems(template: Json, definitions: Mapping[str, str]) -> list[str]:
    """Every ``${...}`` of each definition has a DefinitionSubstitution and every substitution is used; a
    substitution that names a resource names an existing one, and a function's is called ``<Function>Arn``; every
    function is used by a state machine, which may invoke it (LambdaInvokePolicy)."""
    problems: list[str] = []
    resources = template["Resources"]
    functions = set(resources_of_type(template, "AWS::Serverless::Function"))
    used: set[str] = set()
    for machine, resource in resources_of_type(template, "AWS::Serverless::StateMachine").items():
        properties = resource["Properties"]
        placeholders = set(_PLACEHOLDER.findall(definitions[machine]))
        substitutions = properties.get("DefinitionSubstitutions", {})
        problems += [
            f"{machine}: ${{{name}}} has no DefinitionSubstitution"
            for name in sorted(placeholders - set(substitutions))
        ]
        problems += [
            f"{machine}: DefinitionSubstitution {name} is not used"
            for name in sorted(set(substitutions) - placeholders)
        ]
        invoked = {
            policy["LambdaInvokePolicy"]["FunctionName"].get("Ref")
            for policy in properties.get("Policies", [])
            if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
        }
        for name, value in substitutions.items():
            target = _get_att_target(value)
            if target is None:
                continue
            if target not in resources:
                problems.append(f"{machine}: DefinitionSubstitution {name} names {target}, which does not exist")
            elif target in functions and name in placeholders:
                used.add(target)
                if name != f"{target}Arn":
                    problems.append(f"{machine}: DefinitionSubstitution {name} should be called {target}Arn")
                if target not in invoked:
                    problems.append(f"{machine}: may not invoke {target} (no LambdaInvokePolicy)")
    # A function with its own event source (the aborted-run cleanup's EventBridge rule) is used by that source.
    event_driven = {
        name
        for name, resource in resources_of_type(template, "AWS::Serverless::Function").items()
        if resource.get("Properties", {}).get("Events")
    }
    problems += [
        f"{name} is not used by any state machine or event source" for name in sorted(functions - used - event_driven)
    ]
    return problems


def task_functions(template: Json, machine: str, definition: Json) -> dict[str, str]:
    """Task state → the function it invokes (through ``${XArn}`` and the DefinitionSubstitutions)."""
    substitutions = template["Resources"][machine]["Properties"].get("DefinitionSubstitutions", {})
    mapping = {}
    for name, state in tasks(definition).items():
        placeholder = _PLACEHOLDER.fullmatch(str(state.get("Resource", "")))
        if placeholder and (target := _get_att_target(substitutions.get(placeholder.group(1)))):
            mapping[name] = target
    return mapping


# --- retries, catches and where failures go --------------------------------------------------------------------------
def retry_problems(definition: Json, transient_names: tuple[str, ...]) -> list[str]:
    """Every Task retries each transient error by name (and does not retry everything: fatal errors are caught)."""
    problems = []
    for name, state in tasks(definition).items():
        retriers = [retrier for retrier in state.get("Retry", []) if retrier.get("MaxAttempts", 3) > 0]
        retried = {error for retrier in retriers for error in retrier["ErrorEquals"]}
        if str(state.get("Resource", "")).startswith("arn:aws:states:::"):
            # An optimized service integration (not our Lambda): its errors are the service's, retried as task
            # failures; it must retry something and never States.ALL.
            if not retried:
                problems.append(f"{name}: does not retry")
            if "States.ALL" in retried:
                problems.append(f"{name}: retries States.ALL, so fatal errors are retried too")
            continue
        missing = [error for error in transient_names if error not in retried]
        if missing:
            problems.append(f"{name}: does not retry {', '.join(missing)}")
        if "States.ALL" in retried:
            problems.append(f"{name}: retries States.ALL, so fatal errors are retried too")
    return problems


def leads_to_cleanup_problems(definition: Json, start: str, what: str) -> list[str]:
    """Every way on from ``start`` (Next/Choices/Default) reaches Cleanup before the execution can end."""
    if find_path(definition, start, lambda name: name == CLEANUP, catches=False) is None:
        return [f"{what} never reaches {CLEANUP}"]
    bypass = find_path(definition, start, ends(definition), blocked={CLEANUP}, catches=False)
    return [f"{what} can end without {CLEANUP}: {_arrow(bypass)}"] if bypass else []


def catch_problems(definition: Json) -> list[str]:
    """Every Task before Cleanup catches States.ALL; every catch keeps the error at $.error and leads to Cleanup."""
    problems = []
    tail = failure_tail(definition)
    for name, state in tasks(definition).items():
        if name in tail:
            continue
        catchers = state.get("Catch", [])
        if not any("States.ALL" in catcher["ErrorEquals"] for catcher in catchers):
            problems.append(f"{name}: has no States.ALL catch")
        for catcher in catchers:
            errors = ", ".join(catcher["ErrorEquals"])
            if catcher["ErrorEquals"] == ["States.Timeout"] and catcher["Next"] == name:
                continue  # a wait that enters itself again when its timeout passes (the fallback check): no error
            if catcher.get("ResultPath") != ERROR_RESULT_PATH:
                problems.append(f"{name}: the catch of {errors} does not keep the error at {ERROR_RESULT_PATH}")
            problems += leads_to_cleanup_problems(definition, catcher["Next"], f"{name}: the catch of {errors}")
    return problems


def failure_tail_problems(definition: Json) -> list[str]:
    """After Cleanup: a failed run ends in a Fail state whatever happens, and never runs Cleanup twice."""
    states = definition["States"]
    if CLEANUP not in states:
        return [f"there is no {CLEANUP} state"]
    problems = []
    tail = failure_tail(definition)
    success = find_path(definition, CLEANUP, lambda name: ends(definition)(name) and not ends(definition, "Fail")(name))
    if success:
        problems.append(f"a failed run can end without failing: {_arrow(success)}")
    for name in sorted(tail):
        state = states.get(name, {})
        if CLEANUP in successors(state):
            problems.append(f"{name}: goes back to {CLEANUP}")
        if state.get("Type") == "Task" and not any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])):
            problems.append(f"{name}: has no States.ALL catch, so its failure would hide the run's error")
    return problems


def fail_state_problems(definition: Json) -> list[str]:
    """Fail states report the run's error from $.error, and every way into Cleanup leaves one there: a catch (see
    ``catch_problems``) or a Pass state that writes {Error, Cause} to $.error."""
    problems = []
    states = definition["States"]
    for name, state in states.items():
        if state["Type"] == "Fail" and (
            state.get("ErrorPath") != FAIL_ERROR_PATH or state.get("CausePath") != FAIL_CAUSE_PATH
        ):
            problems.append(f"{name}: ErrorPath/CausePath are not {FAIL_ERROR_PATH}/{FAIL_CAUSE_PATH}")
    tail = failure_tail(definition)
    for name, state in states.items():
        if name in tail or CLEANUP not in transitions(state):
            continue
        parameters = state.get("Parameters", {})
        writes_error = (
            state["Type"] == "Pass"
            and state.get("ResultPath") == ERROR_RESULT_PATH
            and {"Error", "Error.$"} & set(parameters)
            and {"Cause", "Cause.$"} & set(parameters)
        )
        if not writes_error:
            problems.append(f"{name}: goes to {CLEANUP} without writing {{Error, Cause}} to {ERROR_RESULT_PATH}")
    return problems


def cleanup_dominance_problems(definition: Json, first_creating_state: str) -> list[str]:
    """From the first state that creates a billable resource on, no path (catches included) reaches a Fail state
    without passing through Cleanup."""
    path = find_path(definition, first_creating_state, ends(definition, "Fail"), blocked={CLEANUP})
    return [f"fails without {CLEANUP}: {_arrow(path)}"] if path else []


# --- poll loops ------------------------------------------------------------------------------------------------------
def classify(definition: Json, start: str, poll: str) -> str:
    """What following ``start`` means for a poll loop: back to ``poll`` (pending), on to Cleanup (failure), or
    forward to a Succeed state without Cleanup and without polling again (success)."""
    back = find_path(definition, start, lambda name: name == poll, blocked={CLEANUP}, catches=False)
    leaves = find_path(
        definition, start, lambda name: name == CLEANUP or ends(definition)(name), blocked={poll}, catches=False
    )
    if back and not leaves:
        return PENDING
    to_cleanup = find_path(definition, start, lambda name: name == CLEANUP, blocked={poll}, catches=False)
    escapes = find_path(
        definition, start, lambda name: name == poll or ends(definition)(name), blocked={CLEANUP}, catches=False
    )
    if to_cleanup and not escapes:
        return FAILURE
    forward = find_path(definition, start, ends(definition, "Succeed"), blocked={CLEANUP, poll}, catches=False)
    if forward and not back:
        return SUCCESS
    return UNCLEAR


def _route(choice: Json, value: str) -> tuple[str | None, str | None]:
    """The Next of the first rule that matches ``value`` (None: the Default), or a problem if a rule is not a plain
    StringEquals (or an Or of them) on the one status variable."""
    for rule in choice.get("Choices", []):
        alternatives = rule.get("Or", [rule])
        for alternative in alternatives:
            if set(alternative) - {"Variable", "Next"} != {"StringEquals"}:
                return None, f"cannot evaluate the rule {json.dumps(alternative, sort_keys=True)}"
        if any(alternative["StringEquals"] == value for alternative in alternatives):
            return rule["Next"], None
    return None, None


def status_routing_problems(definition: Json, choice: str, poll: str, expected: Mapping[str, str]) -> list[str]:
    """Every status is routed by an explicit rule of ``choice`` to a state of its ``expected`` kind; the Default
    (a status nobody knows yet) cleans up."""
    state = definition["States"].get(choice)
    if state is None or state["Type"] != "Choice":
        return [f"{choice} is not a Choice state"]
    problems = []
    variables = {
        str(alternative.get("Variable")) for rule in state["Choices"] for alternative in rule.get("Or", [rule])
    }
    if len(variables) != 1:
        problems.append(f"{choice}: tests {', '.join(sorted(variables))}, not one status variable")
    for status, kind in expected.items():
        target, problem = _route(state, status)
        if problem:
            return [*problems, f"{choice}: {problem}"]
        if target is None:
            problems.append(f"{choice}: status {status} has no rule (it falls to the Default)")
            continue
        actual = classify(definition, target, poll)
        if actual != kind:
            problems.append(f"{choice}: status {status} goes to {target}, which is {actual}, expected {kind}")
    default = state.get("Default")
    if default is None:
        problems.append(f"{choice}: has no Default for a status this workflow does not know")
    elif (actual := classify(definition, default, poll)) != FAILURE:
        problems.append(f"{choice}: the Default goes to {default}, which is {actual}, expected {FAILURE}")
    return problems


# --- IAM (on the translated CloudFormation) --------------------------------------------------------------------------
def _statements(document: Json) -> list[Json]:
    return as_list(document.get("Statement"))


def policy_statements(cfn: Json) -> Iterator[tuple[str, str, Json]]:
    """(role, where, statement) for every statement of every identity policy, inline or attached to a role."""
    for name, resource in cfn["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in _statements(policy["PolicyDocument"]):
                    yield name, f"{name}/{policy.get('PolicyName')}", statement
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}:
            roles = [arn_text(role) for role in as_list(properties.get("Roles")) + as_list(properties.get("RoleName"))]
            for statement in _statements(properties["PolicyDocument"]):
                for role in roles or ["(no role)"]:
                    yield role.removeprefix("${").removesuffix("}"), name, statement


def _allows(statement: Json) -> bool:
    return statement.get("Effect") == "Allow"


def role_actions(cfn: Json, role: str) -> list[str]:
    return [
        action
        for owner, _, statement in policy_statements(cfn)
        if owner == role and _allows(statement)
        for action in as_list(statement.get("Action"))
    ]


def function_role(cfn: Json, function: str) -> str:
    return arn_text(cfn["Resources"][function]["Properties"]["Role"]).removeprefix("${").removesuffix(".Arn}")


def resource_creating_states(cfn: Json, template: Json, machine: str, definition: Json) -> list[str]:
    """Task states whose function may create a Bedrock resource (bedrock:Create*), in order from StartAt."""
    functions = task_functions(template, machine, definition)
    return [
        name
        for name in reachable(definition, definition["StartAt"], catches=False)
        if name in functions
        and any(
            fnmatch.fnmatchcase(action, "bedrock:Create*")
            for action in role_actions(cfn, function_role(cfn, functions[name]))
        )
    ]


def wildcard_action_problems(cfn: Json) -> list[str]:
    """No Allow statement grants ``*``, ``service:*`` or any other action pattern, or uses NotAction."""
    problems = []
    for _, where, statement in policy_statements(cfn):
        if not _allows(statement):
            continue
        if "NotAction" in statement:
            problems.append(f"{where}: allows NotAction {statement['NotAction']}")
        problems += [f"{where}: allows {action}" for action in as_list(statement.get("Action")) if "*" in action]
    return problems


def resource_wildcard_problems(cfn: Json, allowed: Mapping[str, str]) -> list[str]:
    """``Resource: "*"`` only for the ``allowed`` actions (APIs without resource-level permissions); no NotResource."""
    problems = []
    for _, where, statement in policy_statements(cfn):
        if not _allows(statement):
            continue
        if "NotResource" in statement:
            problems.append(f"{where}: allows NotResource")
        if "*" in as_list(statement.get("Resource")):
            scoped = [action for action in as_list(statement.get("Action")) if action not in allowed]
            if scoped:
                problems.append(f'{where}: {", ".join(scoped)} on Resource "*"')
    return problems


def managed_policy_problems(cfn: Json, allowed: Mapping[str, str]) -> list[str]:
    """Only the ``allowed`` AWS managed policies (by name after ``:policy/``) are attached to any role."""
    problems = []
    for name, role in resources_of_type(cfn, "AWS::IAM::Role").items():
        for arn in as_list(role["Properties"].get("ManagedPolicyArns")):
            policy = arn_text(arn).split(":policy/", 1)[-1]
            if policy not in allowed:
                problems.append(f"{name}: managed policy {policy} is attached")
    return problems


def pass_role_problems(cfn: Json, role: str, service: str) -> list[str]:
    """iam:PassRole is allowed only on ``role`` and only with iam:PassedToService = ``service``."""
    problems = []
    for _, where, statement in policy_statements(cfn):
        actions = [str(action).lower() for action in as_list(statement.get("Action"))]
        if not _allows(statement) or not any(fnmatch.fnmatchcase("iam:passrole", action) for action in actions):
            continue
        resources = [arn_text(resource) for resource in as_list(statement.get("Resource"))]
        if resources != [f"${{{role}.Arn}}"]:
            problems.append(f"{where}: iam:PassRole on {', '.join(resources)}, not only {role}")
        passed = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        if as_list(passed) != [service]:
            problems.append(f"{where}: iam:PassRole without the condition iam:PassedToService = {service}")
    return problems


def trust_problems(cfn: Json, role: str, service: str) -> list[str]:
    """Only ``service`` may assume ``role``, and only for this account (aws:SourceAccount: confused deputy)."""
    problems = []
    document = cfn["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    for statement in _statements(document):
        if not _allows(statement):
            continue
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if services != [service] or set(principal) != {"Service"}:
            problems.append(f"{role}: trusts {json.dumps(principal)}, not only {service}")
        account = statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        if account != {"Ref": "AWS::AccountId"}:
            problems.append(f"{role}: trust has no aws:SourceAccount condition on the stack's account")
    return problems


def s3_scope_problems(cfn: Json, role: str, bucket: str, *, read: tuple[str, ...], write: tuple[str, ...]) -> list[str]:
    """``role`` reads objects only under the ``read`` prefixes and writes (or deletes) only under ``write`` of
    ``bucket``; it lists only those prefixes; it touches no other bucket."""
    problems = []
    bucket_arn = f"${{{bucket}.Arn}}"
    for owner, where, statement in policy_statements(cfn):
        if owner != role or not _allows(statement):
            continue
        resources = [arn_text(resource) for resource in as_list(statement.get("Resource"))]
        for action in as_list(statement.get("Action")):
            if not action.lower().startswith("s3:"):
                continue
            if action.lower() == "s3:listbucket":
                prefixes = as_list(statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix"))
                if resources != [bucket_arn] or not prefixes or not set(prefixes) <= {f"{p}*" for p in read}:
                    problems.append(f"{where}: s3:ListBucket on {resources} for prefixes {prefixes}")
                continue
            is_read = action.lower().startswith("s3:get")
            allowed = {f"{bucket_arn}/{prefix}*" for prefix in (read if is_read else write)}
            problems += [f"{where}: {action} on {resource}" for resource in resources if resource not in allowed]
    return problems


# --- buckets and the inbox rule --------------------------------------------------------------------------------------
_PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
_ENCRYPTION = {"AES256", "aws:kms", "aws:kms:dsse"}


def _denies_plain_http(statement: Json, bucket: str) -> bool:
    resources = {arn_text(resource) for resource in as_list(statement.get("Resource"))}
    secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and statement.get("Principal") in ("*", {"AWS": "*"})
        and "s3:*" in as_list(statement.get("Action"))
        and {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"} <= resources
        and str(secure).lower() == "false"
    )


def bucket_policy_statements(template: Json, bucket: str) -> list[Json]:
    return [
        statement
        for policy in resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket}
        for statement in _statements(policy["Properties"]["PolicyDocument"])
    ]


def bucket_problems(template: Json, bucket: str) -> list[str]:
    """The bucket denies requests without TLS, blocks public access (all four flags), is encrypted and versioned."""
    problems = []
    properties = template["Resources"][bucket].get("Properties", {})
    block = properties.get("PublicAccessBlockConfiguration", {})
    off = [flag for flag in _PUBLIC_ACCESS_FLAGS if str(block.get(flag)).lower() != "true"]
    if off:
        problems.append(f"{bucket}: public access is not blocked by {', '.join(off)}")
    rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algorithms = [rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules]
    if not algorithms or not set(algorithms) <= _ENCRYPTION:
        problems.append(f"{bucket}: default encryption is {algorithms or 'not set'}")
    if properties.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        problems.append(f"{bucket}: versioning is not enabled")
    if not any(_denies_plain_http(statement, bucket) for statement in bucket_policy_statements(template, bucket)):
        problems.append(f"{bucket}: its bucket policy does not deny requests without TLS (aws:SecureTransport)")
    return problems


def access_logging_problems(template: Json, bucket: str) -> list[str]:
    """The bucket's server access logs go to another bucket of the stack, which lets only S3 logging for this
    bucket write them."""
    logging = template["Resources"][bucket].get("Properties", {}).get("LoggingConfiguration", {})
    target = logging.get("DestinationBucketName", {})
    target = target.get("Ref") if isinstance(target, dict) else None
    if target not in resources_of_type(template, "AWS::S3::Bucket") or target == bucket:
        return [f"{bucket}: server access logs do not go to another bucket of the stack"]
    for statement in bucket_policy_statements(template, target):
        condition = statement.get("Condition", {})
        if (
            _allows(statement)
            and statement.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
            and as_list(statement.get("Action")) == ["s3:PutObject"]
            and condition.get("ArnLike", {}).get("aws:SourceArn") == {"Fn::GetAtt": [bucket, "Arn"]}
            and condition.get("StringEquals", {}).get("aws:SourceAccount") == {"Ref": "AWS::AccountId"}
        ):
            return []
    return [f"{target}: does not let S3 server access logging write the logs of {bucket} (and nothing else)"]


def _key_problem(rule: str, key: Any, prefix: str, suffix: str) -> str | None:
    if isinstance(key, dict) and set(key) == {"wildcard"}:
        key = key["wildcard"]
    elif not isinstance(key, str):
        return f"{rule}: key filter {json.dumps(key)} is not limited to {prefix}…{suffix}"
    if not (key.startswith(prefix) and key.endswith(suffix) and len(key) >= len(prefix) + len(suffix)):
        return f"{rule}: key filter {key!r} matches keys outside {prefix}…{suffix}"
    return None


def _starts_executions(cfn: Json, target: Json, machines: set[str]) -> bool:
    """The rule target is a state machine, or a Lambda function whose role may states:StartExecution (a starter)."""
    arn = target.get("Arn", {})
    if arn.get("Ref") in machines:
        return True
    function = _get_att_target(arn)
    if function is None or cfn["Resources"].get(function, {}).get("Type") != "AWS::Lambda::Function":
        return False
    return "states:StartExecution" in role_actions(cfn, function_role(cfn, function))


def inbox_rule_problems(cfn: Json, bucket: str, *, prefix: str, suffix: str) -> list[str]:
    """Every EventBridge rule that starts a state machine (directly, or through a function that starts executions)
    matches only S3 Object Created events of ``bucket`` whose key starts with ``prefix`` and ends with ``suffix``."""
    machines = set(resources_of_type(cfn, "AWS::StepFunctions::StateMachine"))
    rules = {
        name: rule["Properties"]
        for name, rule in resources_of_type(cfn, "AWS::Events::Rule").items()
        if any(_starts_executions(cfn, target, machines) for target in rule["Properties"].get("Targets", []))
    }
    if not rules:
        return ["no EventBridge rule starts a state machine"]
    problems = []
    for name, properties in rules.items():
        pattern = properties.get("EventPattern", {})
        detail = pattern.get("detail", {})
        if set(pattern) != {"source", "detail-type", "detail"} or set(detail) != {"bucket", "object"}:
            problems.append(f"{name}: pattern fields {sorted(pattern)} / detail {sorted(detail)} are not plain")
        if pattern.get("source") != ["aws.s3"] or pattern.get("detail-type") != ["Object Created"]:
            problems.append(f"{name}: does not match only S3 Object Created events")
        if detail.get("bucket") != {"name": [{"Ref": bucket}]}:
            problems.append(f"{name}: does not match only the bucket {bucket}")
        obj = detail.get("object", {})
        keys = as_list(obj.get("key")) if set(obj) == {"key"} else []
        if not keys:
            problems.append(f"{name}: does not filter object keys")
        problems += [p for key in keys if (p := _key_problem(name, key, prefix, suffix))]
    return problems


# --- checkov skips ---------------------------------------------------------------------------------------------------
def checkov_skip_problems(template: Json) -> list[str]:
    """Every checkov skip names a check and gives its reason."""
    problems = []
    for name, resource in template["Resources"].items():
        for skip in as_list(resource.get("Metadata", {}).get("checkov", {}).get("skip")):
            check = str(skip.get("id", ""))
            if not re.fullmatch(r"CKV2?_AWS_\d+", check):
                problems.append(f"{name}: skip {check!r} does not name a checkov check")
            if len(str(skip.get("comment", "")).split()) < 5:
                problems.append(f"{name}: skip {check} does not give its reason")
    return problems
