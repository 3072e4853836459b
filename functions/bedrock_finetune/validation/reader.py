"""Split a binary stream into lines while hashing it, reading fixed-size chunks so memory never depends on file size."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, cast

CHUNK_BYTES = 1 << 20
# Lines are split from, and yielded for, pieces of this size of each chunk read: a piece's lines are still in the
# CPU's cache when they are checked (whole 1 MiB chunks took a third longer).
PIECE_BYTES = 1 << 18
# No base model takes a record anywhere near this long (the largest per-record limit is 32,000 tokens, about 100 kB);
# longer lines are reported without being held in memory.
MAX_LINE_BYTES = 8 << 20

Lines = list[bytes | None]


class BinaryStream(Protocol):
    """What we need from a stream: a local file opened 'rb' and botocore's ``StreamingBody`` both qualify."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True)
class DatasetSource:
    """One dataset file. ``name`` is what issues report as ``file`` (a local path, or ``s3://bucket/key``);
    ``size`` in bytes when known up front (lets a too-large file be refused without reading it)."""

    name: str
    stream: BinaryStream
    size: int | None = None


class LineReader:
    """Yields the lines of a stream in batches, one per piece of a chunk read: ``(number of the first line, lines)``.

    Lines are 1-based, without ``\\n`` or a trailing ``\\r``; a line longer than ``max_line_bytes`` is None (skipped,
    never buffered). A missing final newline is fine. ``bytes_read`` and ``sha256`` cover the raw bytes and are
    complete once the iteration ends.
    """

    def __init__(self, stream: BinaryStream, chunk_bytes: int = CHUNK_BYTES, max_line_bytes: int = MAX_LINE_BYTES):
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._max_line_bytes = max_line_bytes
        self._sha256 = hashlib.sha256()
        self.bytes_read = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def batches(self) -> Iterator[tuple[int, Lines]]:
        max_line = self._max_line_bytes
        next_line = 1
        pending: list[bytes] = []  # pieces of a line that continues into the next chunk
        pending_size = 0
        too_long = False
        for chunk in self._chunks():
            pieces = _split_lines(chunk)
            tail = pieces.pop()
            if b"\r" in chunk:
                pieces = [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces]
            if not pieces:  # the chunk holds no line end
                lines: Lines = []
            elif max(map(len, pieces)) > max_line:
                lines = [None if len(piece) > max_line else piece for piece in pieces]
            else:
                lines = cast(Lines, pieces)  # the same list: lines[0] may become None below
            if lines and (pending_size or too_long):
                fits = not too_long and pending_size + len(pieces[0]) <= max_line
                lines[0] = _strip_cr(b"".join([*pending, pieces[0]])) if fits else None
                pending, pending_size, too_long = [], 0, False
            if lines:
                yield next_line, lines
                next_line += len(lines)
            if tail and not too_long:
                pending.append(tail)
                pending_size += len(tail)
                if pending_size > max_line:
                    pending, pending_size, too_long = [], 0, True
        if pending_size or too_long:
            yield next_line, [None if too_long else _strip_cr(b"".join(pending))]

    def _chunks(self) -> Iterator[bytes]:
        read, update = self._stream.read, self._sha256.update
        while chunk := read(self._chunk_bytes):
            self.bytes_read += len(chunk)
            update(chunk)
            if len(chunk) <= PIECE_BYTES:
                yield chunk
            else:
                yield from (chunk[start : start + PIECE_BYTES] for start in range(0, len(chunk), PIECE_BYTES))


def _split_lines(chunk: bytes) -> list[bytes]:
    """``chunk.split(b"\\n")``, sooner: split compares byte by byte, find uses memchr (long lines gain most)."""
    pieces: list[bytes] = []
    append, find = pieces.append, chunk.find
    start = 0
    while (end := find(b"\n", start)) >= 0:
        append(chunk[start:end])
        start = end + 1
    append(chunk[start:])
    return pieces


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line
