"""Counts, sizes, token limits, hyperparameters and statistics: the rules about a record's size or a file's shape."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import (
    CLAUDE,
    COHERE,
    LLAMA_31_8B,
    LLAMA_32_11B,
    NOVA_2_LITE,
    NOVA_MICRO,
    TITAN_EXPRESS,
    TITAN_IMAGE_V1,
    TITAN_LITE,
    Records,
    Validate,
)

from bedrock_finetune.catalog import get_model
from bedrock_finetune.validation import DatasetSource, ValidationReport, validate_dataset


def file_issues(report: ValidationReport) -> list[tuple[str, str | None]]:
    return [(issue.code, issue.file) for issue in report.errors if issue.line is None]


def claude_with_content(chars: int, count: int = 40) -> list[dict[str, Any]]:
    """Claude records; record 3 has ``chars`` characters in all (content split over user and assistant)."""
    lines = [Records.claude(index) for index in range(count)]
    lines[2] = {
        "messages": [
            {"role": "user", "content": "u" * (chars // 2)},
            {"role": "assistant", "content": "a" * (chars - chars // 2)},
        ]
    }
    return lines


# --- record counts -------------------------------------------------------------------------------------------------
def test_too_few_training_records(validate: Validate) -> None:
    # Given 31 Claude records (Claude needs 32) / When validated / Then E_RECORDS_TOO_FEW for the train file
    report = validate([Records.claude(index) for index in range(31)], CLAUDE)
    assert file_issues(report) == [("E_RECORDS_TOO_FEW", "train.jsonl")]
    assert "31 records" in report.errors[0].message
    assert "at least 32" in report.errors[0].message


def test_too_many_validation_records(validate: Validate) -> None:
    # Given 40 training and 1,001 validation records for Claude (validation max 1,000)
    validation = [Records.claude(index, exchanges=2) for index in range(1001)]

    # When validated / Then E_RECORDS_TOO_MANY for the validation file
    report = validate([Records.claude(index) for index in range(40)], CLAUDE, validation=validation)
    assert file_issues(report) == [("E_RECORDS_TOO_MANY", "validation.jsonl")]


def test_combined_bounds_are_checked_across_both_files(validate: Validate) -> None:
    # Given 60 training and 30 validation records for Llama 3.2 (train + validation must be 100 to 10,000)
    train = [Records.converse(index) for index in range(60)]
    validation = [Records.converse(1000 + index) for index in range(30)]

    # When validated / Then one run-level E_RECORDS_TOO_FEW (file None) naming the total
    report = validate(train, "meta.llama3-2-3b-instruct-v1:0:128k", validation=validation)
    assert file_issues(report) == [("E_RECORDS_TOO_FEW", None)]
    assert "90 records" in report.errors[0].message


def test_a_lone_training_file_must_meet_the_combined_bounds(validate: Validate) -> None:
    # Given 60 Llama 3.2 training records and no validation file (train + validation must be 100 to 10,000)
    report = validate([Records.converse(index) for index in range(60)], "meta.llama3-2-3b-instruct-v1:0:128k")

    # When validated / Then one E_RECORDS_TOO_FEW, for the training file
    assert file_issues(report) == [("E_RECORDS_TOO_FEW", "train.jsonl")]
    assert "at least 100" in report.errors[0].message


def test_a_bound_is_reported_once_when_train_and_combined_bounds_agree(validate: Validate) -> None:
    # Given 10,001 Claude training records (train max and train + validation max are both 10,000)
    report = validate([Records.claude(index) for index in range(10_001)], CLAUDE)

    # When validated / Then a single E_RECORDS_TOO_MANY
    assert file_issues(report) == [("E_RECORDS_TOO_MANY", "train.jsonl")]


def test_an_empty_file_is_never_accepted(validate: Validate) -> None:
    # Given an empty file for a model with no stated minimum / When validated / Then E_RECORDS_TOO_FEW
    report = validate(b"", TITAN_EXPRESS)
    assert file_issues(report) == [("E_RECORDS_TOO_FEW", "train.jsonl")]


def test_fewer_records_than_recommended_is_a_warning(validate: Validate) -> None:
    # Given 50 Nova Micro records (hard minimum 8, AWS recommends 100)
    report = validate([Records.converse(index) for index in range(50)], NOVA_MICRO)

    # When validated / Then valid with a file-level W_FEW_RECORDS
    assert report.valid
    assert [(w.code, w.line) for w in report.warnings] == [("W_FEW_RECORDS", None)]


def test_the_recommendation_is_silent_when_the_minimum_already_fails(validate: Validate) -> None:
    # Given 5 Nova Micro records (below the hard minimum of 8) / When validated / Then the error, not also the warning
    report = validate([Records.converse(index) for index in range(5)], NOVA_MICRO)
    assert file_issues(report) == [("E_RECORDS_TOO_FEW", "train.jsonl")]
    assert not report.warnings


# --- files ---------------------------------------------------------------------------------------------------------
def test_validation_file_refused_when_the_model_takes_none(validate: Validate) -> None:
    # Given Nova 2 Lite, which takes no validation data, and a validation file
    report = validate([Records.converse(index) for index in range(200)], NOVA_2_LITE, validation=[Records.converse(1)])

    # When validated / Then E_VALIDATION_NOT_ALLOWED and the file is not read
    assert file_issues(report) == [("E_VALIDATION_NOT_ALLOWED", "validation.jsonl")]
    assert report.stats.files[1].sha256 is None


class Unreadable:
    def read(self, size: int, /) -> bytes:
        raise AssertionError("a file refused by its size must not be read")


def test_a_file_known_to_be_too_large_is_refused_unread() -> None:
    # Given a Titan Express training file announced at 1 GB + 1 byte (limit 1 GB)
    source = DatasetSource(name="big.jsonl", stream=Unreadable(), size=1_000_000_001)

    # When validated / Then E_FILE_TOO_LARGE without a read
    report = validate_dataset(train=source, model=get_model(TITAN_EXPRESS), customization_type="FINE_TUNING")
    assert file_issues(report) == [("E_FILE_TOO_LARGE", "big.jsonl")]
    assert "1,000,000,001 bytes" in report.errors[0].message


def test_a_file_of_unknown_size_is_measured_while_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Titan Express validation limit lowered to 100 bytes and a 300-byte validation stream of unknown size
    spec = get_model(TITAN_EXPRESS)
    customization = spec.customization("FINE_TUNING").model_copy(update={"max_validation_bytes": 100})
    small = spec.model_copy(update={"customizations": {"FINE_TUNING": customization}})
    data = b"\n".join(b'{"prompt": "p%d", "completion": "c"}' % index for index in range(10)) + b"\n"

    # When validated
    report = validate_dataset(
        train=DatasetSource(name="t.jsonl", stream=io.BytesIO(data)),
        validation=DatasetSource(name="v.jsonl", stream=io.BytesIO(data)),
        model=small,
        customization_type="FINE_TUNING",
    )

    # Then the validation file is too large, found after reading it
    assert file_issues(report) == [("E_FILE_TOO_LARGE", "v.jsonl")]
    assert report.stats.files[1].bytes == len(data)


@pytest.mark.parametrize(
    "name",
    ["s3://datasets-bucket/inbox/train.jsonl", "s3://datasets-bucket/my data.jsonl", "s3://Datasets/train.jsonl",
     "s3://datasets-bucket/a=b+c.jsonl", "s3://datasets-bucket/inbox/Q4 reports/my data (v2)+ü.JSONL"],
)  # fmt: skip
def test_dropped_dataset_locations_are_not_held_to_bedrocks_uri_pattern(validate: Validate, name: str) -> None:
    # Given a dataset in S3 under any key / When validated
    report = validate([Records.claude(index) for index in range(40)], CLAUDE, train_name=name)

    # Then its name is no finding: Bedrock reads the staged datasets/<sha256>/ copy (naming.bedrock_s3_uri_problem)
    assert report.valid is True
    assert file_issues(report) == []


# --- token limits --------------------------------------------------------------------------------------------------
def test_claude_token_estimate_is_characters_over_three(validate: Validate) -> None:
    # Given records of 96,000 characters (32,000 tokens: the limit), 96,003 (over: input and output each round up)
    # and 87,000 (above 90 %)
    at_limit, over, near = claude_with_content(96_000), claude_with_content(96_003), claude_with_content(87_000)

    # When validated
    reports = [validate(lines, CLAUDE) for lines in (at_limit, over, near)]

    # Then at the limit is a warning, one over is an error on line 3 naming the estimate, 87,000 is a warning
    assert reports[0].valid
    assert [w.code for w in reports[0].warnings] == ["W_TOKENS_NEAR_LIMIT"]
    assert [(e.code, e.line) for e in reports[1].errors] == [("E_TOKENS_OVER_LIMIT", 3)]
    assert "about 32,002 input + output tokens (estimated as characters/3)" in reports[1].errors[0].message
    assert "accepts 32,000" in reports[1].errors[0].message
    assert [(w.code, w.line) for w in reports[2].warnings] == [("W_TOKENS_NEAR_LIMIT", 3)]


def test_titan_limit_shrinks_with_the_batch_size(validate: Validate) -> None:
    # Given a Titan Lite record of 3,000 tokens (18,000 characters at 6 per token)
    lines = [Records.prompt_completion(index) for index in range(20)]
    lines[2] = {"prompt": "p" * 9_000, "completion": "c" * 9_000}

    # When validated at batch size 2 (limit 4,096) and 3 (limit 2,048)
    fits = validate(lines, TITAN_LITE, hyperparameters={"batchSize": 2})
    too_big = validate(lines, TITAN_LITE, hyperparameters={"batchSize": 3})

    # Then only batch size 3 is over, and the message names the batch size
    assert fits.valid
    assert [(e.code, e.line) for e in too_big.errors] == [("E_TOKENS_OVER_LIMIT", 3)]
    assert "accepts 2,048 at batch size 3" in too_big.errors[0].message


def test_titan_continued_pre_training_input_limit(validate: Validate) -> None:
    # Given a CPT record of 4,919 estimated tokens (the size of a real failure report) / When validated
    lines = [Records.cpt(index) for index in range(10)]
    lines[2] = {"input": "w" * (4_919 * 6)}
    report = validate(lines, TITAN_EXPRESS, customization_type="CONTINUED_PRE_TRAINING")

    # Then E_TOKENS_OVER_LIMIT against 4,096
    assert [(e.code, e.line) for e in report.errors] == [("E_TOKENS_OVER_LIMIT", 3)]
    assert "accepts 4,096" in report.errors[0].message


def test_cohere_input_and_output_have_separate_limits(validate: Validate) -> None:
    # Given a Cohere record with 2,100 output tokens (output limit 2,048) and a short prompt
    lines = [Records.prompt_completion(index) for index in range(20)]
    lines[2] = {"prompt": "short", "completion": "c" * (2_100 * 6)}

    # When validated / Then one error, about the output
    report = validate(lines, COHERE)
    assert [(e.code, e.line) for e in report.errors] == [("E_TOKENS_OVER_LIMIT", 3)]
    assert "output tokens" in report.errors[0].message


def test_llama_31_input_limit(validate: Validate) -> None:
    # Given a Llama 3.1 prompt of 16,001 tokens at 4 characters per token / When validated / Then over the limit
    lines = [Records.prompt_completion(index) for index in range(100)]
    lines[2] = {"prompt": "p" * (16_001 * 4), "completion": "ok"}
    report = validate(lines, LLAMA_31_8B)
    assert [(e.code, e.line) for e in report.errors] == [("E_TOKENS_OVER_LIMIT", 3), ("E_TOKENS_OVER_LIMIT", 3)]
    assert {e.message.split(" tokens")[0].split()[-1] for e in report.errors} == {"input", "output"}


def test_llama_vision_images_count_towards_tokens(validate: Validate) -> None:
    # Given a Llama 3.2 11B record with 10 images (1,601 tokens each, 16,010 > 16,000)
    images = [Records.image(key=f"images/{index}.png") for index in range(10)]
    lines = [Records.converse(index) for index in range(100)]
    lines[2] = Records.converse(2, user_content=[*images, {"text": "Which one is red?"}])

    # When validated / Then E_TOKENS_OVER_LIMIT naming the per-image estimate
    report = validate(lines, LLAMA_32_11B)
    assert [(e.code, e.line) for e in report.errors] == [("E_TOKENS_OVER_LIMIT", 3)]
    assert "plus 1,601 per image" in report.errors[0].message


# --- hyperparameters and statistics --------------------------------------------------------------------------------
def test_hyperparameter_errors_make_the_report_invalid(validate: Validate) -> None:
    # Given a valid dataset and epochCount 11 for Claude (max 10)
    report = validate([Records.claude(index) for index in range(40)], CLAUDE, hyperparameters={"epochCount": "11"})

    # When validated / Then E_HYPERPARAMETER, run-level, and no resolved hyperparameters
    assert [(e.code, e.file, e.line, e.path) for e in report.errors] == [
        ("E_HYPERPARAMETER", None, None, "hyperParameters.epochCount")
    ]
    assert report.hyperparameters == {}
    assert report.stats.epochs is None


def test_statistics(validate: Validate) -> None:
    # Given 40 Claude records, 20 with 1 exchange and 20 with 2, and 10 validation records
    lines = [Records.claude(index, exchanges=1 + index % 2) for index in range(40)]
    validation = [Records.claude(100 + index) for index in range(10)]

    # When validated with 3 epochs
    report = validate(lines, CLAUDE, validation=validation, hyperparameters={"epochCount": 3})
    stats = report.stats

    # Then counts, token statistics, turns and billable tokens hold together
    assert report.valid
    assert [(f.role, f.records) for f in stats.files] == [("train", 40), ("validation", 10)]
    assert stats.records == 50
    assert stats.tokens.estimator == "characters/3"
    assert stats.tokens.total == sum(f.estimated_tokens for f in stats.files)
    assert 0 < stats.tokens.p50 <= stats.tokens.p95 <= stats.tokens.max
    assert stats.turns is not None
    assert (stats.turns.min, stats.turns.max) == (2, 4)
    assert stats.epochs == 3
    assert stats.estimated_billable_tokens == stats.files[0].estimated_tokens * 3
    assert report.hyperparameters["epochCount"] == "3"


def test_models_without_epochs_have_no_billable_estimate(validate: Validate) -> None:
    # Given Titan Image Generator (stepCount, no epochCount) / When validated / Then no billable estimate
    report = validate(
        [Records.image_caption(index) for index in range(10)], TITAN_IMAGE_V1, hyperparameters={"stepCount": 100}
    )
    assert report.valid
    assert report.stats.estimated_billable_tokens is None
