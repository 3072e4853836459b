"""IAM policy evaluation for the local AWS, as AWS documents it for a request within one account.

Sources (AWS IAM User Guide): "Policy evaluation logic" (reference_policies_evaluation-logic.html): an explicit
Deny in any applicable policy wins; otherwise an Allow in an identity-based policy *or* in a resource-based policy
of the same account allows; otherwise the request is implicitly denied. "IAM JSON policy elements: Condition
operators" (reference_policies_elements_condition_operators.html): every operator below, the ``IfExists`` suffix,
the ``ForAllValues:``/``ForAnyValue:`` set operators, and the rule that a key missing from the request context
makes a condition false, except for negated operators (true), ``...IfExists`` (true), ``ForAllValues`` (true)
and ``Null``. Condition key names are case-insensitive, values of ``String*`` operators case-sensitive unless
the operator says ``IgnoreCase``.

Strictness: a condition operator or key this evaluator does not know makes the statement *not apply* when it
allows and *apply* when it denies, and the decision says so in ``unknown``: it never allows silently.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

ContextValue = str | list[str]


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an assumed role session, a service principal, or the local account's administrator."""

    kind: Literal["role", "service", "admin"]
    arn: str  # assumed-role session ARN, service name (bedrock.amazonaws.com) or the account root ARN
    account: str
    role_arn: str | None = None
    role_name: str | None = None
    service: str | None = None

    @property
    def describe(self) -> str:
        return self.arn


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` perform ``action`` on ``resource`` with this context?"""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySource:
    """A policy document and where it comes from (for messages)."""

    document: Mapping[str, Any]
    kind: Literal["identity", "resource"]
    name: str


@dataclass
class Decision:
    allowed: bool
    explicit_deny: PolicySource | None = None
    allowed_by: PolicySource | None = None
    unknown: list[str] = field(default_factory=list)

    def reason(self, request: Request) -> str:
        """AWS's wording: '... because no identity-based policy allows the s3:GetObject action'."""
        if self.allowed:
            return "allowed"
        if self.explicit_deny is not None:
            where = "an identity-based" if self.explicit_deny.kind == "identity" else "a resource-based"
            text = f"with an explicit deny in {where} policy"
        else:
            text = f"because no identity-based policy allows the {request.action} action"
        if self.unknown:
            text += f" (local IAM could not evaluate: {'; '.join(sorted(set(self.unknown)))})"
        return text


# ---- matching ----------------------------------------------------------------------------------------------------
@cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character; nothing else is special."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case=ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def action_matches(patterns: Iterable[str], action: str) -> bool:
    # Action names are case-insensitive (IAM User Guide, "IAM JSON policy elements: Action").
    return any(wildcard_match(str(pattern), action, ignore_case=True) for pattern in patterns)


def arn_matches(pattern: str, arn: str) -> bool:
    """ARN matching as ``ArnLike`` and the Resource element do it: per colon-separated part, wildcards allowed."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(arn_matches(str(pattern), resource) for pattern in patterns)


# ---- conditions --------------------------------------------------------------------------------------------------
_STRING_OPERATORS = {
    "StringEquals": (False, False, "equals"),
    "StringNotEquals": (True, False, "equals"),
    "StringEqualsIgnoreCase": (False, True, "equals"),
    "StringNotEqualsIgnoreCase": (True, True, "equals"),
    "StringLike": (False, False, "like"),
    "StringNotLike": (True, False, "like"),
}
_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}
_DATE = {
    "DateEquals": lambda a, b: a == b,
    "DateNotEquals": lambda a, b: a != b,
    "DateLessThan": lambda a, b: a < b,
    "DateLessThanEquals": lambda a, b: a <= b,
    "DateGreaterThan": lambda a, b: a > b,
    "DateGreaterThanEquals": lambda a, b: a >= b,
}
_ARN = {"ArnEquals": False, "ArnLike": False, "ArnNotEquals": True, "ArnNotLike": True}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals"}
_NEGATED |= {"ArnNotEquals", "ArnNotLike", "NotIpAddress"}


class UnknownCondition(Exception):
    """An operator the evaluator does not implement."""


def _single(operator: str, expected: str, actual: str) -> bool:
    """Does one context value match one policy value under a (non-negated form of the) operator?"""
    if operator in _STRING_OPERATORS:
        _, ignore_case, kind = _STRING_OPERATORS[operator]
        if kind == "like":
            return wildcard_match(expected, actual, ignore_case=ignore_case)
        return expected.lower() == actual.lower() if ignore_case else expected == actual
    if operator in _NUMERIC:
        try:
            return bool(_NUMERIC[operator](float(actual), float(expected)))
        except ValueError:
            return False
    if operator in _DATE:
        try:
            return bool(_DATE[operator](_parse_date(actual), _parse_date(expected)))
        except ValueError:
            return False
    if operator == "Bool":
        return expected.lower() == actual.lower()
    if operator in _ARN:
        return arn_matches(expected, actual)
    if operator in {"IpAddress", "NotIpAddress"}:
        try:
            return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
        except ValueError:
            return False
    if operator == "BinaryEquals":
        return expected == actual
    raise UnknownCondition(operator)


def _parse_date(value: str) -> float:
    if value.isdigit():
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _positive(operator: str) -> tuple[str, bool]:
    """(operator whose match is computed, whether the result is negated)."""
    if operator in _NEGATED:
        positive = {
            "StringNotEquals": "StringEquals",
            "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike",
            "NumericNotEquals": "NumericEquals",
            "DateNotEquals": "DateEquals",
            "ArnNotEquals": "ArnEquals",
            "ArnNotLike": "ArnLike",
            "NotIpAddress": "IpAddress",
        }[operator]
        return positive, True
    return operator, False


def _known(operator: str) -> bool:
    return (
        operator in _STRING_OPERATORS
        or operator in _NUMERIC
        or operator in _DATE
        or operator in _ARN
        or operator in {"Bool", "IpAddress", "NotIpAddress", "BinaryEquals", "Null"}
    )


def _lookup(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def evaluate_condition_block(
    block: Mapping[str, Any], context: Mapping[str, ContextValue], known_keys: KnownKeys
) -> tuple[bool, list[str]]:
    """(does the whole Condition block hold, what could not be evaluated). All operators and keys are ANDed."""
    unknown: list[str] = []
    result = True
    for raw_operator, pairs in block.items():
        set_operator, _, rest = raw_operator.rpartition(":")
        if_exists = rest.endswith("IfExists") and rest != "IfExists"
        operator = rest.removesuffix("IfExists") if if_exists else rest
        if set_operator not in {"", "ForAllValues", "ForAnyValue"} or not _known(operator):
            unknown.append(f"condition operator {raw_operator}")
            result = False
            continue
        for key, expected_raw in dict(pairs).items():
            if not known_keys.knows(key):
                unknown.append(f"condition key {key}")
                result = False
                continue
            expected = [str(item).lower() if isinstance(item, bool) else str(item) for item in _as_list(expected_raw)]
            actual_value = _lookup(context, key)
            if not _holds(operator, set_operator, if_exists, expected, actual_value):
                result = False
    return result, unknown


def _holds(operator: str, set_operator: str, if_exists: bool, expected: list[str], actual: ContextValue | None) -> bool:
    if operator == "Null":
        # "Null": true means the key must be absent; false means it must be present.
        wants_absent = any(value.lower() == "true" for value in expected)
        return (actual is None) == wants_absent
    if actual is None:
        if if_exists or set_operator == "ForAllValues":
            return True
        if set_operator == "ForAnyValue":
            return False
        return operator in _NEGATED
    positive, negated = _positive(operator)
    values = _as_list(actual)
    if set_operator == "ForAllValues":
        matches = [any(_single(positive, exp, value) for exp in expected) for value in values]
        return all(not m for m in matches) if negated else all(matches)
    if set_operator == "ForAnyValue":
        matches = [any(_single(positive, exp, value) for exp in expected) for value in values]
        return any(not m for m in matches) if negated else any(matches)
    value = values[0] if values else ""
    matched = any(_single(positive, exp, str(value)) for exp in expected)
    return not matched if negated else matched


class KnownKeys:
    """The condition keys the local AWS puts into request contexts (global, service and tag keys)."""

    GLOBAL = frozenset(
        key.lower()
        for key in (
            "aws:SecureTransport",
            "aws:SourceAccount",
            "aws:SourceArn",
            "aws:SourceOwner",
            "aws:PrincipalAccount",
            "aws:PrincipalArn",
            "aws:PrincipalType",
            "aws:PrincipalServiceName",
            "aws:RequestedRegion",
            "aws:CurrentTime",
            "aws:EpochTime",
            "aws:TagKeys",
            "aws:ViaAWSService",
            "aws:CalledVia",
        )
    )
    SERVICE = frozenset(
        key.lower()
        for key in (
            "iam:PassedToService",
            "iam:AssociatedResourceArn",
            "s3:prefix",
            "s3:delimiter",
            "s3:max-keys",
            "s3:versionid",
            "sts:ExternalId",
        )
    )
    PREFIXES = ("aws:requesttag/", "aws:resourcetag/", "aws:principaltag/")

    def knows(self, key: str) -> bool:
        lowered = key.lower()
        return lowered in self.GLOBAL or lowered in self.SERVICE or lowered.startswith(self.PREFIXES)


KNOWN_KEYS = KnownKeys()


# ---- statements and policies ---------------------------------------------------------------------------------------
def _principal_matches(element: Any, principal: Principal) -> bool:
    """The Principal element of a resource-based policy (or a trust policy)."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for kind, values in element.items():
        for raw in _as_list(values):
            value = str(raw)
            if kind == "AWS":
                if value == "*":
                    return True
                if principal.kind == "admin" and value in {principal.account, principal.arn}:
                    return True
                if principal.role_arn is not None and value in {principal.role_arn, principal.arn}:
                    return True
            elif kind == "Service" and principal.kind == "service" and value == principal.service:
                return True
    return False


def _statement_applies(
    statement: Mapping[str, Any], request: Request, source: PolicySource, unknown: list[str]
) -> bool:
    if "Action" in statement:
        if not action_matches(_as_list(statement["Action"]), request.action):
            return False
    elif "NotAction" in statement:
        if action_matches(_as_list(statement["NotAction"]), request.action):
            return False
    else:
        return False
    if "Resource" in statement:
        if not resource_matches(_as_list(statement["Resource"]), request.resource):
            return False
    elif "NotResource" in statement:
        if resource_matches(_as_list(statement["NotResource"]), request.resource):
            return False
    elif source.kind == "identity":
        return False  # an identity-based statement without Resource is invalid
    if source.kind == "resource":
        if "Principal" in statement:
            if not _principal_matches(statement["Principal"], request.principal):
                return False
        elif "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], request.principal):
                return False
        else:
            return False
    condition = statement.get("Condition")
    if not condition:
        return True
    holds, missing = evaluate_condition_block(condition, request.context, KNOWN_KEYS)
    if missing:
        unknown.extend(missing)
        # Unknown operators or keys: a Deny applies (stricter), an Allow does not.
        return str(statement.get("Effect")) == "Deny"
    return holds


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [dict(item) for item in _as_list(document.get("Statement"))]


def evaluate(request: Request, policies: Sequence[PolicySource]) -> Decision:
    """The decision for a request within one account: explicit Deny > any Allow > implicit deny."""
    if request.principal.kind == "admin":
        return Decision(allowed=True)
    decision = Decision(allowed=False)
    for source in policies:
        for statement in statements(source.document):
            if not _statement_applies(statement, request, source, decision.unknown):
                continue
            if statement.get("Effect") == "Deny":
                decision.explicit_deny = decision.explicit_deny or source
            elif statement.get("Effect") == "Allow":
                decision.allowed_by = decision.allowed_by or source
    decision.allowed = decision.explicit_deny is None and decision.allowed_by is not None
    return decision
