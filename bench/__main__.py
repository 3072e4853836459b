"""Run the benchmark: generate data if missing, measure each pair in a fresh process, print a table."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench import generate

IMPLEMENTATIONS = ("ours", "baseline")
TARGET_RATIO = 2.0
TARGET_RSS_MB = 100.0


def measure(implementation: str, dataset_format: str, path: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.measure", implementation, dataset_format, path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> int:
    started = time.perf_counter()
    header = f"{'dataset':<20} {'MB':>7} {'impl':<9} {'s':>7} {'MB/s':>7} {'records/s':>10} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    failures = []
    for name, (dataset_format, _) in generate.DATASETS.items():
        generated = time.perf_counter()
        path = generate.ensure(name)
        generation = time.perf_counter() - generated
        results = {impl: measure(impl, dataset_format, str(path)) for impl in IMPLEMENTATIONS}
        for impl, result in results.items():
            mb = result["bytes"] / generate.MB
            print(
                f"{name:<20} {mb:>7.1f} {impl:<9} {result['seconds']:>7.2f} {mb / result['seconds']:>7.1f} "
                f"{result['records'] / result['seconds']:>10,.0f} {result['peak_rss_mb']:>12.1f}"
            )
        ratio = results["baseline"]["seconds"] / results["ours"]["seconds"]
        print(f"{'':<20} {'':>7} ratio     ours/baseline throughput {ratio:.2f}x (data generated in {generation:.1f} s)")
        if ratio < TARGET_RATIO:
            failures.append(f"{name}: throughput ratio {ratio:.2f}x < {TARGET_RATIO}x")
        if results["ours"]["peak_rss_mb"] > TARGET_RSS_MB:
            failures.append(f"{name}: peak RSS {results['ours']['peak_rss_mb']:.0f} MB > {TARGET_RSS_MB:.0f} MB")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; targets: >= {TARGET_RATIO}x, <= {TARGET_RSS_MB:.0f} MB")
    for failure in failures:
        print(f"MISSED {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
