"""Run the benchmark: generate data if missing, measure each pair in a fresh process, print a table; then each
Lambda function's cold start against a floor, and its package size (bench/coldstart.py); then the CLI's start-up
against a floor (bench/startup.py).

``python -m bench --profile`` adds a cProfile of our validator on the 250 MB Claude file (top functions by own time).
``python -m bench --coldstart-only`` runs only the cold-start and size section, ``--startup-only`` only the CLI's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench import coldstart, generate, startup

IMPLEMENTATIONS = ("ours", "baseline")
TARGET_RATIO = 2.0
TARGET_RSS_MB = 100.0
PROFILE_LINES = 25


def measure(implementation: str, dataset_format: str, path: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.measure", implementation, dataset_format, path]
    result: dict[str, float] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return result


def profile(path: str) -> None:
    command = [sys.executable, "-m", "cProfile", "-s", "tottime", "-m", "bench.measure", "ours", "claude", path]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    print(f"\ncProfile of ours on {path} (sorted by own time):")
    print("\n".join(output.splitlines()[:PROFILE_LINES]))


def main(argv: list[str]) -> int:
    if "--coldstart-only" in argv:
        for line in coldstart.run():
            print(f"MISSED {line}")
        return 0
    if "--startup-only" in argv:
        for line in startup.run():
            print(f"MISSED {line}")
        return 0
    started = time.perf_counter()
    header = f"{'dataset':<20} {'MB':>7} {'impl':<9} {'s':>7} {'MB/s':>7} {'records/s':>10} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    missed = []
    for name, (dataset_format, _) in generate.DATASETS.items():
        generation_started = time.perf_counter()
        path = str(generate.ensure(name))
        generation = time.perf_counter() - generation_started
        results = {implementation: measure(implementation, dataset_format, path) for implementation in IMPLEMENTATIONS}
        for implementation, result in results.items():
            mb = result["bytes"] / generate.MB
            print(
                f"{name:<20} {mb:>7.1f} {implementation:<9} {result['seconds']:>7.2f} {mb / result['seconds']:>7.1f} "
                f"{result['records'] / result['seconds']:>10,.0f} {result['peak_rss_mb']:>12.1f}"
            )
        ratio = results["baseline"]["seconds"] / results["ours"]["seconds"]
        print(f"{'':<29}ratio ours/baseline throughput {ratio:.2f}x (data generated in {generation:.1f} s)")
        if ratio < TARGET_RATIO:
            missed.append(f"{name}: throughput ratio {ratio:.2f}x < {TARGET_RATIO}x")
        if results["ours"]["peak_rss_mb"] > TARGET_RSS_MB:
            missed.append(f"{name}: peak RSS {results['ours']['peak_rss_mb']:.0f} MB > {TARGET_RSS_MB:.0f} MB")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; targets: >= {TARGET_RATIO}x, <= {TARGET_RSS_MB:.0f} MB RSS")
    missed += coldstart.run()
    missed += startup.run()
    for line in missed:
        print(f"MISSED {line}")
    if "--profile" in argv:
        profile(str(generate.DATA_DIR / "claude-250mb.jsonl"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
