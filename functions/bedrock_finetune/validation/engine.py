"""``validate_dataset``: one streaming pass per file, the function the Lambda and the CLI both call.

Memory is bounded whatever the file size: 1 MiB chunks checked 256 KiB at a time (lines over 8 MiB are reported, not
buffered), a token histogram of bounded size and a duplicate set capped at ``DUPLICATE_CHECK_CAPACITY`` entries.
Token counts are estimates (characters / the model's ``chars_per_token``, plus a fixed count per image), and every
token message says so.

Two paths, one verdict: the format's typed path (typed.py) decodes and measures the records that break no rule in
bulk; every other line gets the full check (formats.py, converse.py), which writes all the issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import add
from typing import Any, cast

from pydantic_core import from_json

from bedrock_finetune.catalog import CustomizationSpec, ModelSpec
from bedrock_finetune.hyperparameters import HyperparameterValue, check_hyperparameters
from bedrock_finetune.validation import codes
from bedrock_finetune.validation.converse import ConverseChecker
from bedrock_finetune.validation.formats import (
    ClaudeMessagesChecker,
    ContinuedPreTrainingChecker,
    ImageCaptionChecker,
    PromptCompletionChecker,
    RecordChecker,
    parse_s3_uri,
)
from bedrock_finetune.validation.reader import MAX_LINE_BYTES, DatasetSource, LineReader, Lines
from bedrock_finetune.validation.report import (
    FileIssues,
    FileRole,
    FileStats,
    IssueLog,
    Stats,
    ValidationReport,
)
from bedrock_finetune.validation.tokens import DuplicateDetector, TokenHistogram, TurnCounter
from bedrock_finetune.validation.typed import Measures, TypedPath

CHECKERS: dict[str, type[RecordChecker]] = {
    "prompt-completion": PromptCompletionChecker,
    "cpt-input": ContinuedPreTrainingChecker,
    "claude-messages": ClaudeMessagesChecker,
    "converse": ConverseChecker,
    "image-caption": ImageCaptionChecker,
}
NEAR_LIMIT_FRACTION = 0.9
_BOM = b"\xef\xbb\xbf"
_DUPLICATE = "record is an exact duplicate of an earlier one"
_SMALL_RUN = 32
_NO_LIMIT = float("inf")


def validate_dataset(
    *,
    train: DatasetSource,
    model: ModelSpec,
    customization_type: str,
    validation: DatasetSource | None = None,
    hyperparameters: Mapping[str, HyperparameterValue] | None = None,
    max_errors: int = 100,
) -> ValidationReport:
    """Check the dataset against the model's rules. Bad data never raises: it becomes issues in the report.
    Raises ConfigInvalid if the model does not support ``customization_type``; stream read errors propagate."""
    customization = model.customization(customization_type)
    log = IssueLog(max_errors)
    resolved = _resolve_hyperparameters(model, customization_type, hyperparameters, validation is not None, log)
    limits = _TokenLimits.at(customization, _batch_size(resolved, customization))
    has_validation_file = validation is not None and customization.validation_allowed
    run = _Run(model, customization, log, limits, has_validation_file=has_validation_file)
    files = [run.validate_file(train, "train")]
    if validation is not None:
        files.append(run.validate_validation_file(validation))
    if has_validation_file:
        run.check_combined(files)
    epochs = _epochs(resolved)
    stats = Stats(
        files=files,
        records=sum(file.records for file in files),
        tokens=run.histogram.stats(run.limits.estimator),
        turns=run.turns.stats(),
        epochs=epochs,
        estimated_billable_tokens=files[0].estimated_tokens * epochs if epochs is not None else None,
        duplicate_check_capacity=run.duplicates.capacity,
        error_counts=log.error_counts,
        warning_counts=log.warning_counts,
    )
    return ValidationReport(
        valid=not log.error_counts,
        model_id=model.id,
        customization_type=customization_type,
        errors=log.errors,
        warnings=log.warnings,
        stats=stats,
        hyperparameters=resolved,
        token_histogram=run.histogram.buckets(),
    )


def _resolve_hyperparameters(
    model: ModelSpec,
    customization_type: str,
    overrides: Mapping[str, HyperparameterValue] | None,
    has_validation: bool,
    log: IssueLog,
) -> dict[str, str]:
    resolved, problems = check_hyperparameters(model, customization_type, overrides, has_validation=has_validation)
    for problem in problems:
        log.error(None, None, codes.E_HYPERPARAMETER, problem.message, f"hyperParameters.{problem.name}")
    return {} if problems else resolved


def _batch_size(resolved: dict[str, str], customization: CustomizationSpec) -> int | None:
    """The batch size the token limit depends on: the resolved one, else the catalog default."""
    value = resolved.get("batchSize", "")
    if value.isdigit():
        return int(value)
    default = next((param.default for param in customization.hyperparameters if param.name == "batchSize"), None)
    return int(default) if default is not None else None


def _epochs(resolved: dict[str, str]) -> int | None:
    value = resolved.get("epochCount", "")
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class _TokenLimits:
    """Per-record token limits at the run's batch size (None: not stated) and the estimator's parameters."""

    chars_per_token: int
    tokens_per_image: int
    estimator: str
    batch_size: int | None
    max_input: int | None
    max_output: int | None
    max_total: int | None
    #: The warning thresholds (infinite where there is no limit): estimates above them are checked in detail.
    near_input: float
    near_output: float
    near_total: float

    @classmethod
    def at(cls, customization: CustomizationSpec, batch_size: int | None) -> _TokenLimits:
        tokens = customization.tokens
        max_total = tokens.total_limit(batch_size)
        return cls(
            chars_per_token=tokens.chars_per_token,
            tokens_per_image=tokens.tokens_per_image,
            estimator=tokens.estimator,
            batch_size=batch_size,
            max_input=tokens.max_input,
            max_output=tokens.max_output,
            max_total=max_total,
            near_input=_near(tokens.max_input),
            near_output=_near(tokens.max_output),
            near_total=_near(max_total),
        )


def _near(limit: int | None) -> float:
    """The warning threshold for a limit (infinite when there is no limit)."""
    return limit * NEAR_LIMIT_FRACTION if limit is not None else _NO_LIMIT


class _Run:
    """State shared by the files of one validation: model, issue log, token limits, duplicates, statistics."""

    def __init__(
        self,
        model: ModelSpec,
        customization: CustomizationSpec,
        log: IssueLog,
        limits: _TokenLimits,
        *,
        has_validation_file: bool,
    ) -> None:
        self.model = model
        self.has_validation_file = has_validation_file
        self.customization = customization
        self.log = log
        self.limits = limits
        self.duplicates = DuplicateDetector()
        self.histogram = TokenHistogram()
        self.turns = TurnCounter()

    def validate_validation_file(self, source: DatasetSource) -> FileStats:
        if self.customization.validation_allowed:
            return self.validate_file(source, "validation")
        self.log.error(
            source.name,
            None,
            codes.E_VALIDATION_NOT_ALLOWED,
            f"{self.model.id} does not accept a validation dataset for this customization; the file was not read",
        )
        return FileStats(name=source.name, role="validation", bytes=0, sha256=None, records=0)

    def validate_file(self, source: DatasetSource, role: FileRole) -> FileStats:
        issues = FileIssues(self.log, source.name)
        max_bytes = self.customization.max_train_bytes if role == "train" else self.customization.max_validation_bytes
        if source.size is not None and max_bytes is not None and source.size > max_bytes:
            issues.error(
                None, codes.E_FILE_TOO_LARGE, _too_large(source.size, max_bytes, role, self.model.id, unread=True)
            )
            return FileStats(name=source.name, role=role, bytes=0, sha256=None, records=0)
        dataset_bucket = _dataset_bucket(source.name)
        checker = CHECKERS[self.customization.dataset_format](
            self.customization.rules, issues, self.model.id, dataset_bucket
        )
        reader = LineReader(source.stream)
        tokens_before = self.histogram.total
        records = self._scan(reader, checker, issues)
        checker.finish()
        if max_bytes is not None and reader.bytes_read > max_bytes:
            issues.error(None, codes.E_FILE_TOO_LARGE, _too_large(reader.bytes_read, max_bytes, role, self.model.id))
        self._check_file_records(records, role, issues)
        return FileStats(
            name=source.name,
            role=role,
            bytes=reader.bytes_read,
            sha256=reader.sha256,
            records=records,
            estimated_tokens=self.histogram.total - tokens_before,
        )

    def _scan(self, reader: LineReader, checker: RecordChecker, issues: FileIssues) -> int:
        """The hot loop over every line of one file; returns the number of records (non-blank lines).

        Runs of lines the checker's typed path decodes are checked and measured in bulk (:meth:`_add_run`); the line
        that ends a run goes through :meth:`_check_line`, the full check. Statistics are added once per batch, in line
        order, and issues are written in line order whichever path finds them."""
        typed = checker.typed
        records = 0
        for first_line, lines in reader.batches():
            if first_line == 1:
                _strip_bom(lines, issues)
            totals: list[int] = []
            turns: list[int] = []
            index, end = 0, len(lines)
            while index < end:
                if typed is not None and (run := typed.decode_run(lines, index)):
                    self._add_run(run, typed, lines, index, first_line, checker, issues, totals, turns)
                    records += len(run)
                    index += len(run)
                if index < end:
                    records += self._check_line(lines[index], first_line + index, checker, issues, totals, turns)
                    index += 1
            self.histogram.add_many(totals)
            self.turns.add_many(turns)
        return records

    def _add_run(
        self,
        run: list[Any],
        typed: TypedPath,
        lines: Lines,
        start: int,
        first_line: int,
        checker: RecordChecker,
        issues: FileIssues,
        totals: list[int],
        turns: list[int],
    ) -> None:
        """The decoded records of ``lines[start:start + len(run)]``. When one breaks a rule its type cannot say, the
        run is halved until it is down to ``_SMALL_RUN`` records, which are then tried one by one (so a run where most
        records are bad costs little); the line of each bad record takes the full check, the rest are measured in
        bulk."""
        measures = typed.measure(run)
        if measures is not None:
            self._add_clean(measures, lines, start, first_line, issues, totals, turns)
        elif len(run) == 1:
            self._check_line(lines[start], first_line + start, checker, issues, totals, turns)
        else:
            step = 1 if len(run) <= _SMALL_RUN else len(run) // 2
            for offset in range(0, len(run), step):
                part = run[offset : offset + step]
                self._add_run(part, typed, lines, start + offset, first_line, checker, issues, totals, turns)

    def _add_clean(
        self,
        measures: Measures,
        lines: Lines,
        start: int,
        first_line: int,
        issues: FileIssues,
        totals: list[int],
        turns: list[int],
    ) -> None:
        """Records that break no rule of their format: their statistics, and the only issues they can have, exact
        duplicates and token estimates near or over the limits."""
        limits = self.limits
        chars_per_token, tokens_per_image = limits.chars_per_token, limits.tokens_per_image
        inputs, outputs, messages, images = measures
        input_tokens = [-(-chars // chars_per_token) for chars in inputs]
        if any(images):
            input_tokens = [
                tokens + count * tokens_per_image for tokens, count in zip(input_tokens, images, strict=True)
            ]
        output_tokens = [-(-chars // chars_per_token) for chars in outputs]
        run_totals = list(map(add, input_tokens, output_tokens))
        totals += run_totals
        turns += filter(None, messages)
        duplicates = set(self.duplicates.find(cast(list[bytes], lines[start : start + len(inputs)])))
        near_input, near_output, near_total = limits.near_input, limits.near_output, limits.near_total
        near: set[int] = set()
        if (
            max(run_totals) > near_total
            or (near_input < _NO_LIMIT and max(input_tokens) > near_input)
            or (near_output < _NO_LIMIT and max(output_tokens) > near_output)
        ):
            near = {
                index
                for index, total in enumerate(run_totals)
                if total > near_total or input_tokens[index] > near_input or output_tokens[index] > near_output
            }
        for index in sorted(duplicates | near):
            line_number = first_line + start + index
            if index in duplicates:
                issues.warning(line_number, codes.W_DUPLICATE_RECORD, _DUPLICATE)
            if index in near:
                self._check_tokens(line_number, images[index], input_tokens[index], output_tokens[index], issues)

    def _check_line(
        self,
        line: bytes | None,
        line_number: int,
        checker: RecordChecker,
        issues: FileIssues,
        totals: list[int],
        turns: list[int],
    ) -> int:
        """The full check of one line; returns how many records it counts as (a blank line none)."""
        if not line or line.isspace():
            return _report_bad_line(line, line_number, issues)
        if self.duplicates.is_duplicate(line):
            issues.warning(line_number, codes.W_DUPLICATE_RECORD, _DUPLICATE)
        try:
            record = from_json(line, allow_inf_nan=False)  # jiter: strict UTF-8, no NaN or Infinity
        except ValueError as error:
            _report_unparsable(line, line_number, error, issues)
            return 1
        if type(record) is not dict:
            issues.error(line_number, codes.E_NOT_OBJECT, "line must be one JSON object ({...})", "$")
            return 1
        input_chars, output_chars, messages, images = checker.quick(record) or checker.check(record, line_number)
        limits = self.limits
        input_tokens = -(-input_chars // limits.chars_per_token) + images * limits.tokens_per_image
        output_tokens = -(-output_chars // limits.chars_per_token)
        total = input_tokens + output_tokens
        totals.append(total)
        if messages:
            turns.append(messages)
        if total > limits.near_total or input_tokens > limits.near_input or output_tokens > limits.near_output:
            self._check_tokens(line_number, images, input_tokens, output_tokens, issues)
        return 1

    def _check_tokens(self, line: int, images: int, input_tokens: int, output_tokens: int, issues: FileIssues) -> None:
        limits = self.limits
        batch = f" at batch size {limits.batch_size}" if len(self.customization.tokens.max_total) > 1 else ""
        how = f"estimated as characters/{limits.chars_per_token}"
        if images and limits.tokens_per_image:
            how += f" plus {limits.tokens_per_image:,} per image"
        for part, tokens, limit in (
            ("input + output", input_tokens + output_tokens, limits.max_total),
            ("input", input_tokens, limits.max_input),
            ("output", output_tokens, limits.max_output),
        ):
            if limit is None or tokens <= limit * NEAR_LIMIT_FRACTION:
                continue
            text = f"record has about {tokens:,} {part} tokens ({how}); {self.model.id} accepts {limit:,}{batch}"
            if tokens > limit:
                issues.error(line, codes.E_TOKENS_OVER_LIMIT, text)
            else:
                issues.warning(line, codes.W_TOKENS_NEAR_LIMIT, f"{text}; over 90 % of the limit")

    def _check_file_records(self, records: int, role: FileRole, issues: FileIssues) -> None:
        bounds = self.customization.records
        if role == "validation":
            low, high = bounds.validation_min, bounds.validation_max
        elif self.has_validation_file:
            low, high = bounds.train_min, bounds.train_max
        else:  # the training file alone must also meet the train + validation bounds
            low = max(filter(None, (bounds.train_min, bounds.combined_min)), default=None)
            high = min(filter(None, (bounds.train_max, bounds.combined_max)), default=None)
        minimum = max(low or 0, 1)  # an empty file is never accepted
        _check_count(
            self.log, issues.name, records, low=minimum, high=high, what=f"the {role} file", model=self.model.id
        )
        recommended = self.customization.recommended_min_records
        if role == "train" and recommended is not None and minimum <= records < recommended:
            issues.warning(
                None,
                codes.W_FEW_RECORDS,
                f"{records:,} training records; AWS recommends at least {recommended:,} for {self.model.id}",
            )

    def check_combined(self, files: list[FileStats]) -> None:
        """Train + validation bounds over both files (a lone training file meets them in _check_file_records)."""
        bounds = self.customization.records
        total = sum(file.records for file in files)
        _check_count(
            self.log,
            None,
            total,
            low=bounds.combined_min,
            high=bounds.combined_max,
            what="training + validation",
            model=self.model.id,
        )


def _strip_bom(lines: list[bytes | None], issues: FileIssues) -> None:
    first = lines[0]
    if first is not None and first.startswith(_BOM):
        issues.error(1, codes.E_UTF8_BOM, "the file starts with a UTF-8 byte-order mark; save it without one")
        lines[0] = first[len(_BOM) :]


def _report_bad_line(line: bytes | None, line_number: int, issues: FileIssues) -> int:
    """Report a blank or an overlong line; returns how many records it counts as (an overlong line is one)."""
    if line is None:
        issues.error(
            line_number,
            codes.E_LINE_TOO_LONG,
            f"line is longer than {MAX_LINE_BYTES:,} bytes; no base model accepts a record this long",
        )
        return 1
    issues.error(line_number, codes.E_BLANK_LINE, "blank line; every line must hold one JSON record")
    return 0


def _report_unparsable(line: bytes, line_number: int, error: ValueError, issues: FileIssues) -> None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        issues.error(
            line_number, codes.E_UTF8, f"line is not valid UTF-8 (invalid byte at column {decode_error.start + 1})"
        )
        return
    detail = str(error).replace(" at line 1 column ", " at column ")
    issues.error(line_number, codes.E_JSON, f"line is not valid JSON ({detail})")


def _check_count(
    log: IssueLog, file: str | None, count: int, *, low: int | None, high: int | None, what: str, model: str
) -> None:
    if low is not None and count < low:
        log.error(file, None, codes.E_RECORDS_TOO_FEW, f"{count:,} records; {model} needs at least {low:,} in {what}")
    if high is not None and count > high:
        log.error(
            file, None, codes.E_RECORDS_TOO_MANY, f"{count:,} records; {model} accepts at most {high:,} in {what}"
        )


def _too_large(size: int, limit: int, role: FileRole, model_id: str, *, unread: bool = False) -> str:
    suffix = "; the file was not read" if unread else ""
    return f"{role} file is {size:,} bytes; {model_id} accepts at most {limit:,}{suffix}"


def _dataset_bucket(name: str) -> str | None:
    """The dataset's bucket when it is in S3, else None (media in the same bucket are checked against it).

    The dropped key is not held to Bedrock's S3Uri pattern: Bedrock reads the staged, content-addressed copy
    (``datasets/<sha256>/``, checked by ``naming.bedrock_s3_uri_problem``), so ``inbox/my data (v2)+ü.jsonl`` trains.
    """
    if not name.startswith("s3://"):
        return None
    parsed = parse_s3_uri(name)
    return parsed[0] if parsed else None
