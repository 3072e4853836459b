"""Lines, bytes and streaming: what holds for every format."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from conftest import CLAUDE, NOVA_2_LITE, NOVA_MICRO, Records, Validate

from bedrock_finetune.catalog import get_model
from bedrock_finetune.validation import DatasetSource, ValidationReport, validate_dataset
from bedrock_finetune.validation.reader import MAX_LINE_BYTES, LineReader
from bedrock_finetune.validation.tokens import DuplicateDetector

Codes = Callable[[ValidationReport], list[tuple[str, int | None]]]


def claude_lines(count: int) -> list[dict[str, Any]]:
    return [Records.claude(index) for index in range(count)]


def test_crlf_and_a_missing_final_newline_are_fine(validate: Validate) -> None:
    # Given 40 valid Claude records with Windows line ends and no final newline
    data = b"\r\n".join(json.dumps(record).encode() for record in claude_lines(40))

    # When validated
    report = validate(data, CLAUDE)

    # Then it is valid, all 40 records counted, and the sha256 covers the bytes as they are
    assert report.valid, report.errors
    assert report.stats.records == 40
    assert report.stats.files[0].sha256 == hashlib.sha256(data).hexdigest()
    assert report.stats.files[0].bytes == len(data)


def test_a_blank_line_is_an_error_on_its_line(validate: Validate, error_codes: Codes) -> None:
    # Given a blank line (and a whitespace-only one) between records
    lines: list[Any] = [*claude_lines(40)]
    lines[5:5] = [""]
    lines[10:10] = [" \t"]

    # When validated / Then E_BLANK_LINE on lines 6 and 11, and blank lines are not counted as records
    report = validate(lines, CLAUDE)
    assert error_codes(report) == [("E_BLANK_LINE", 6), ("E_BLANK_LINE", 11)]
    assert report.stats.records == 40


def test_invalid_json_and_invalid_utf8_are_told_apart(validate: Validate, error_codes: Codes) -> None:
    # Given a truncated JSON line, a trailing comma, a NaN, and a line with a Latin-1 byte
    lines: list[Any] = [*claude_lines(40)]
    lines[2] = '{"messages": ['
    lines[4] = '{"system": "s", "messages": [],}'
    lines[6] = '{"system": NaN, "messages": []}'
    lines[8] = b'{"system": "caf\xe9", "messages": []}'

    # When validated
    report = validate(lines, CLAUDE)

    # Then E_JSON on lines 3, 5 and 7, E_UTF8 on line 9, with a column and no content
    assert error_codes(report) == [("E_JSON", 3), ("E_JSON", 5), ("E_JSON", 7), ("E_UTF8", 9)]
    assert "trailing comma at column" in report.errors[1].message
    assert report.errors[3].message == "line is not valid UTF-8 (invalid byte at column 16)"


def test_a_json_value_that_is_not_an_object_is_an_error(validate: Validate, error_codes: Codes) -> None:
    # Given lines holding an array, a string and a number
    lines: list[Any] = [*claude_lines(40), "[1, 2]", '"text"', "42"]

    # When validated / Then E_NOT_OBJECT on each, at path $
    report = validate(lines, CLAUDE)
    assert error_codes(report) == [("E_NOT_OBJECT", 41), ("E_NOT_OBJECT", 42), ("E_NOT_OBJECT", 43)]
    assert {issue.path for issue in report.errors} == {"$"}


def test_a_byte_order_mark_is_an_error_but_the_line_is_still_checked(validate: Validate, error_codes: Codes) -> None:
    # Given a file that starts with a UTF-8 BOM
    data = b"\xef\xbb\xbf" + b"\n".join(json.dumps(record).encode() for record in claude_lines(40))

    # When validated / Then only E_UTF8_BOM on line 1 (the record itself is fine)
    assert error_codes(validate(data, CLAUDE)) == [("E_UTF8_BOM", 1)]


def test_a_line_longer_than_any_model_accepts_is_reported_without_buffering(
    validate: Validate, error_codes: Codes
) -> None:
    # Given a 9 MiB line between valid records
    long_line = json.dumps({"messages": [{"role": "user", "content": "x" * (MAX_LINE_BYTES + 1)}]})
    lines: list[Any] = [*claude_lines(40), long_line, Records.claude(99)]

    # When validated / Then E_LINE_TOO_LONG on line 41; it counts as a record and the next line is still read
    report = validate(lines, CLAUDE)
    assert error_codes(report) == [("E_LINE_TOO_LONG", 41)]
    assert report.stats.records == 42


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_lines_split_across_chunks_are_joined(chunk_bytes: int) -> None:
    # Given CRLF lines, an empty line and no final newline, read in chunks of various sizes
    data = b'{"a": 1}\r\n\r\n{"b": "two"}\n{"c": 3}\r'

    # When split by the reader
    reader = LineReader(io.BytesIO(data), chunk_bytes=chunk_bytes, max_line_bytes=20)
    lines = [(number, line) for first, batch in reader.batches() for number, line in enumerate(batch, first)]

    # Then every line is whole, numbered from 1, without CR; bytes and sha256 cover the input
    assert lines == [(1, b'{"a": 1}'), (2, b""), (3, b'{"b": "two"}'), (4, b'{"c": 3}')]
    assert reader.bytes_read == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("chunk_bytes", [3, 10, 1 << 20])
def test_overlong_lines_become_none_whatever_the_chunking(chunk_bytes: int) -> None:
    # Given a short line, a 30-byte line and a short final line, with a 20-byte line limit
    data = b"short\n" + b"y" * 30 + b"\nlast"

    # When split / Then the long line is None and its neighbours survive
    reader = LineReader(io.BytesIO(data), chunk_bytes=chunk_bytes, max_line_bytes=20)
    lines = [line for _, batch in reader.batches() for line in batch]
    assert lines == [b"short", None, b"last"]


def test_exact_duplicates_are_warnings(validate: Validate) -> None:
    # Given a record repeated on line 7 and again in the validation file
    lines = claude_lines(40)
    lines[6] = lines[0]

    # When validated
    report = validate(lines, CLAUDE, validation=[lines[1]])

    # Then it stays valid, with W_DUPLICATE_RECORD at line 7 of train and line 1 of validation
    assert report.valid
    assert [(w.code, w.file, w.line) for w in report.warnings] == [
        ("W_DUPLICATE_RECORD", "train.jsonl", 7),
        ("W_DUPLICATE_RECORD", "validation.jsonl", 1),
    ]


def test_the_error_list_is_capped_but_counts_are_complete(validate: Validate) -> None:
    # Given 150 lines that are not objects, for Nova 2 Lite which needs at least 200 records
    lines: list[Any] = ["[]"] * 150

    # When validated with max_errors 100
    report = validate(lines, NOVA_2_LITE, max_errors=100)

    # Then 100 line errors are listed, all 150 counted, and the file-level verdict is listed too
    assert report.error_counts == {"E_NOT_OBJECT": 150, "E_RECORDS_TOO_FEW": 1}
    assert sum(1 for issue in report.errors if issue.line is not None) == 100
    assert [(issue.code, issue.line) for issue in report.errors[100:]] == [("E_RECORDS_TOO_FEW", None)]


def test_messages_never_quote_dataset_content(validate: Validate) -> None:
    # Given records whose every string is a marker, broken in many ways
    secret = "SECRET-PERSONAL-DATA"
    lines: list[Any] = [
        {secret: secret, "messages": [{"role": secret, "content": secret, secret: 1}]},
        {"messages": [{"role": "assistant", "content": secret}, {"role": "assistant", "content": ""}]},
        f'{{"messages": "{secret}",',
        {"system": [secret], "messages": secret},
    ]

    # When validated for Claude and for Nova
    reports = [validate(lines, CLAUDE), validate(lines, NOVA_MICRO)]

    # Then no message or path contains the marker
    for report in reports:
        assert report.errors
        for issue in report.errors + report.warnings:
            assert secret not in issue.message
            assert secret not in (issue.path or "")


class RepeatingStream:
    """About ``total`` bytes of one repeated line, generated on demand; fails on an unbounded read()."""

    def __init__(self, line: bytes, total: int) -> None:
        self._block = line * max(1, (1 << 20) // len(line))
        self._left = total

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the validator must read in bounded chunks")
        chunk = self._block[: min(size, self._left, len(self._block))]
        self._left -= len(chunk)
        return chunk


def test_memory_does_not_grow_with_the_file() -> None:
    # Given a 16 MB generated stream (one record repeated) that refuses unbounded reads
    line = json.dumps(Records.claude(1)).encode() + b"\n"
    total = len(line) * (16_000_000 // len(line))
    stream = RepeatingStream(line, total=total)
    tracemalloc.start()
    try:
        # When it is validated
        report = validate_dataset(
            train=DatasetSource(name="generated.jsonl", stream=stream),
            model=get_model(CLAUDE),
            customization_type="FINE_TUNING",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then all of it was read, and peak memory stays at a few chunks, not the file size
    assert report.stats.files[0].bytes == total
    assert report.warning_counts["W_DUPLICATE_RECORD"] == report.stats.records - 1
    assert peak < 6_000_000, peak


def test_the_duplicate_set_is_capped() -> None:
    # Given a detector that remembers 2 records
    detector = DuplicateDetector(capacity=2)

    # When 3 distinct records pass, then all 3 again
    first = [detector.is_duplicate(line) for line in (b"a", b"b", b"c")]
    again = [detector.is_duplicate(line) for line in (b"a", b"b", b"c")]

    # Then the first two are recognised, the third was never remembered
    assert first == [False, False, False]
    assert again == [True, True, False]
