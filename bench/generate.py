"""Synthetic datasets for the benchmark: unique records, written in large batches so 250 MB takes seconds."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

DATA_DIR = Path(__file__).with_name(".data")
BATCH = 5_000
MB = 1_000_000
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ho", "zi", "ba", "fe", "wu"]


def _sentences(rng: random.Random, count: int) -> list[str]:
    words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(3_000)]
    return [" ".join(rng.choices(words, k=rng.randint(6, 18))).capitalize() + "." for _ in range(count)]


def _text(rng: random.Random, sentences: list[str], low: int, high: int) -> str:
    return " ".join(rng.choices(sentences, k=rng.randint(low, high)))


def claude_records(seed: int = 7) -> Iterator[str]:
    """Claude 3 Haiku records, about 1.2 kB each: a system prompt and 1 or 2 exchanges; the id makes each unique."""
    rng = random.Random(seed)
    sentences = _sentences(rng, 4_000)
    index = 0
    while True:
        index += 1
        messages = []
        for _ in range(rng.choice((1, 1, 2))):
            messages.append({"role": "user", "content": f"Ticket {index}. {_text(rng, sentences, 1, 4)}"})
            messages.append({"role": "assistant", "content": _text(rng, sentences, 2, 8)})
        yield json.dumps({"system": _text(rng, sentences, 1, 2), "messages": messages})


def cpt_records(seed: int = 11) -> Iterator[str]:
    """Titan continued pre-training records of about 6 kB (under 4,096 tokens at 6 characters per token)."""
    rng = random.Random(seed)
    sentences = _sentences(rng, 4_000)
    index = 0
    while True:
        index += 1
        yield json.dumps({"input": f"Document {index}. {_text(rng, sentences, 40, 100)}"})


def write(path: Path, records: Iterator[str], *, max_records: int | None = None, min_bytes: int | None = None) -> None:
    """Write records until ``max_records`` lines or ``min_bytes`` bytes, whichever is set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = size = 0
    with path.open("w", encoding="utf-8") as out:
        while (max_records is None or written < max_records) and (min_bytes is None or size < min_bytes):
            batch_size = BATCH if max_records is None else min(BATCH, max_records - written)
            batch = "\n".join(next(records) for _ in range(batch_size)) + "\n"
            out.write(batch)
            written += batch_size
            size += len(batch)


DATASETS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "claude-10k.jsonl": ("claude", lambda path: write(path, claude_records(), max_records=10_000)),
    "claude-250mb.jsonl": ("claude", lambda path: write(path, claude_records(), min_bytes=250 * MB)),
    "cpt-250mb.jsonl": ("cpt", lambda path: write(path, cpt_records(), min_bytes=250 * MB)),
}


def ensure(name: str) -> Path:
    path = DATA_DIR / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        DATASETS[name][1](tmp)
        tmp.rename(path)
    return path
