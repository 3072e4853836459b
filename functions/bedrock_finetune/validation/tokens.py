"""Bounded statistics fed in batches: a token histogram for percentiles, turn counts, duplicate detection."""

from __future__ import annotations

import math
from collections import Counter

from bedrock_finetune.validation.report import TokenBucket, TokenStats, TurnStats

# Distinct exact values kept before the histogram coarsens to 10 significant bits (under 0.2 % error, at most about
# 512 buckets per power of two). Token counts are bounded, so most datasets stay exact.
MAX_DISTINCT_VALUES = 20_000
_SIGNIFICANT_BITS = 10
# 500,000 distinct records cover every stated record bound (the largest, 500,000, is Titan Multimodal Embeddings)
# at about 75 bytes each (a 64-bit hash as a Python int in a set): at most ~40 MB.
DUPLICATE_CHECK_CAPACITY = 500_000
#: Bars of the token histogram in the validation report (``ValidationReport.token_histogram``).
HISTOGRAM_BUCKETS = 20


class TokenHistogram:
    """Per-record token estimates: exact counts per value while there are few distinct values; once there are more,
    every value is counted at its bucket floor (those already counted and those to come), so the result does not
    depend on how the values were batched. ``count``, ``total`` and ``max`` stay exact."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._coarse = False
        self.count = 0
        self.total = 0
        self.max = 0

    def add_many(self, values: list[int]) -> None:
        if not values:
            return
        self._counts.update(map(_bucket_floor, values) if self._coarse else values)  # counted in C
        self.count += len(values)
        self.total += sum(values)
        self.max = max(self.max, *values)
        if not self._coarse and len(self._counts) > MAX_DISTINCT_VALUES:
            self._coarsen()

    def percentile(self, fraction: float) -> int:
        """Nearest-rank percentile (the bucket floor once coarsened); 0 when empty."""
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for value in sorted(self._counts):
            seen += self._counts[value]
            if seen >= rank:
                return value
        return 0

    def stats(self, estimator: str) -> TokenStats:
        return TokenStats(
            estimator=estimator, total=self.total, p50=self.percentile(0.5), p95=self.percentile(0.95), max=self.max
        )

    def buckets(self, count: int = HISTOGRAM_BUCKETS) -> list[TokenBucket]:
        """At most ``count`` equal-width ranges from the smallest to the largest estimate, each with its number of
        records (empty when no record was read). Once coarsened, a value counts in the range of its bucket floor."""
        if not self._counts:
            return []
        low, high = min(self._counts), max(self._counts)
        width = max(1, math.ceil((high - low + 1) / count))
        records = [0] * math.ceil((high - low + 1) / width)
        for value, number in self._counts.items():
            records[(value - low) // width] += number
        return [
            TokenBucket(low=low + index * width, high=low + (index + 1) * width - 1, records=number)
            for index, number in enumerate(records)
        ]

    def _coarsen(self) -> None:
        coarse: Counter[int] = Counter()
        for value, count in self._counts.items():
            coarse[_bucket_floor(value)] += count
        self._counts = coarse
        self._coarse = True


def _bucket_floor(value: int) -> int:
    """The value with all but its ``_SIGNIFICANT_BITS`` highest bits cleared."""
    shift = value.bit_length() - _SIGNIFICANT_BITS
    return value if shift <= 0 else (value >> shift) << shift


class TurnCounter:
    """Messages per record: min, max, mean."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def add_many(self, values: list[int]) -> None:
        if not values:
            return
        self.min = min(values) if not self.count else min(self.min, *values)
        self.max = max(self.max, *values)
        self.count += len(values)
        self.total += sum(values)

    def stats(self) -> TurnStats | None:
        if not self.count:
            return None
        return TurnStats(min=self.min, max=self.max, mean=round(self.total / self.count, 2))


class DuplicateDetector:
    """Exact duplicate lines by 64-bit ``hash()`` (SipHash, keyed per process: enough within one run; false match
    odds about n²/2^65). Remembers the first ``capacity`` distinct records; later ones are checked, not remembered."""

    def __init__(self, capacity: int = DUPLICATE_CHECK_CAPACITY) -> None:
        self.capacity = capacity
        self._seen: set[int] = set()

    def find(self, lines: list[bytes]) -> list[int]:
        """The indexes of the lines that repeat an earlier one, remembering them as :meth:`is_duplicate` line by line
        would: in bulk (set operations in C) when the batch repeats nothing, line by line otherwise."""
        keys = list(map(hash, lines))
        seen = self._seen
        if seen.isdisjoint(keys):
            room = self.capacity - len(seen)
            if room >= len(keys):
                seen.update(keys)
                if len(seen) == self.capacity - room + len(keys):
                    return []
                seen.difference_update(keys)  # a line repeats within the batch; none was known before: undo
            elif len(set(keys)) == len(keys):
                seen.update(keys[: max(room, 0)])
                return []
        return [index for index, line in enumerate(lines) if self.is_duplicate(line)]

    def is_duplicate(self, line: bytes) -> bool:
        key = hash(line)
        if key in self._seen:
            return True
        if len(self._seen) < self.capacity:
            self._seen.add(key)
        return False
