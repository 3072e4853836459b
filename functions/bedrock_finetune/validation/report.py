"""The validation report (pydantic, the boundary both the Lambda and the CLI return) and the log that fills it.

Issue messages name the rule, the field and the limit, never dataset content: training data may hold personal data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileRole = Literal["train", "validation"]


class Issue(BaseModel):
    """One broken rule. ``line`` is 1-based, None for file-level and run-level issues; ``file`` is None for run-level
    issues (hyperparameters, combined record counts); ``path`` is the JSON path of the field, when there is one."""

    model_config = ConfigDict(frozen=True)

    file: str | None
    line: int | None
    code: str
    message: str
    path: str | None = None


class TokenStats(BaseModel):
    """Per-record token estimates over every record read (zeros when there is none); p50 and p95 come from a
    histogram with 0.2 % bucket resolution."""

    estimator: str
    total: int
    p50: int
    p95: int
    max: int


class TokenBucket(BaseModel):
    """Records whose token estimate is between ``low`` and ``high`` (both included): one bar of the histogram."""

    low: int
    high: int
    records: int


class TurnStats(BaseModel):
    """Messages per record, for conversational formats."""

    min: int
    max: int
    mean: float


class FileStats(BaseModel):
    """What was read from one file; ``sha256`` is None when the file was not read (refused before reading)."""

    name: str
    role: FileRole
    bytes: int
    sha256: str | None
    records: int
    estimated_tokens: int = 0


class Stats(BaseModel):
    """``tokens`` and ``turns`` cover the records of every file; ``estimated_billable_tokens`` is the training file's
    tokens times the resolved epochCount (None when the model has no epochCount or it is 'Auto')."""

    files: list[FileStats]
    records: int
    tokens: TokenStats
    turns: TurnStats | None
    epochs: int | None
    estimated_billable_tokens: int | None
    duplicate_check_capacity: int
    error_counts: dict[str, int]
    warning_counts: dict[str, int]


class ValidationReport(BaseModel):
    valid: bool
    model_id: str
    customization_type: str
    errors: list[Issue]
    warnings: list[Issue]
    stats: Stats
    hyperparameters: dict[str, str]
    #: Records per range of token estimates (equal-width ranges from the smallest to the largest estimate; counts
    #: only, no content): the HTML run report draws it. Not part of the CLI's ``--json`` output.
    token_histogram: list[TokenBucket] = Field(default_factory=list)

    @property
    def error_counts(self) -> dict[str, int]:
        """Errors per code, complete even when the ``errors`` list is capped."""
        return self.stats.error_counts

    @property
    def warning_counts(self) -> dict[str, int]:
        return self.stats.warning_counts


class IssueLog:
    """Collects issues: every one is counted per code; lists keep at most ``max_listed`` line-level issues each.

    File-level and run-level issues (``line`` None) are always listed, so a capped list never hides a verdict such as
    a record count or a file size.
    """

    def __init__(self, max_listed: int) -> None:
        self.max_listed = max_listed
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_counts: dict[str, int] = {}
        self.warning_counts: dict[str, int] = {}
        self._listed_line_errors = 0
        self._listed_line_warnings = 0

    def error(self, file: str | None, line: int | None, code: str, message: str, path: str | None = None) -> None:
        self.error_counts[code] = self.error_counts.get(code, 0) + 1
        if line is None:
            self.errors.append(Issue(file=file, line=None, code=code, message=message, path=path))
        elif self._listed_line_errors < self.max_listed:
            self._listed_line_errors += 1
            self.errors.append(Issue(file=file, line=line, code=code, message=message, path=path))

    def warning(self, file: str | None, line: int | None, code: str, message: str, path: str | None = None) -> None:
        self.warning_counts[code] = self.warning_counts.get(code, 0) + 1
        if line is None:
            self.warnings.append(Issue(file=file, line=None, code=code, message=message, path=path))
        elif self._listed_line_warnings < self.max_listed:
            self._listed_line_warnings += 1
            self.warnings.append(Issue(file=file, line=line, code=code, message=message, path=path))


class FileIssues:
    """The :class:`IssueLog` bound to one file, which is what record checkers write to."""

    __slots__ = ("log", "name")

    def __init__(self, log: IssueLog, name: str) -> None:
        self.log = log
        self.name = name

    def error(self, line: int | None, code: str, message: str, path: str | None = None) -> None:
        self.log.error(self.name, line, code, message, path)

    def warning(self, line: int | None, code: str, message: str, path: str | None = None) -> None:
        self.log.warning(self.name, line, code, message, path)
