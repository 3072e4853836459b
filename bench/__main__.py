"""Run the benchmark: generate data if missing, measure each pair in a fresh process, print a table; then the CLI
against the baseline as a script, both as subprocesses on the 250 MB Claude file; then each Lambda function's cold
start against a floor, and its package size (bench/coldstart.py); then the CLI's start-up against a floor
(bench/startup.py).

Each pair runs ``ROUNDS`` times, alternating, and the fastest run of each is kept: other processes on the machine only
ever slow a run down, and they hit both sides alike. The targets are on wall time; CPU seconds (user + system, the
least of the runs) are printed beside it, as a check that a ratio is not an artefact of a busy machine. Peak RSS is
the largest of the runs.

``python -m bench --profile`` adds a cProfile of our validator on the 250 MB Claude file (top functions by own time).
``python -m bench --coldstart-only`` runs only the cold-start and size section, ``--startup-only`` only the CLI's,
``--validator-only`` only the validator's two sections (no build needed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench import coldstart, generate, startup

IMPLEMENTATIONS = ("ours", "baseline")
ROUNDS = 5
TARGET_RATIO = 2.0
TARGET_RSS_MB = 100.0
PROFILE_LINES = 25
CLI_DATASET = "claude-250mb.jsonl"
CLI_MODEL = "anthropic.claude-3-haiku-20240307-v1:0:200k"  # bench/measure.py's "claude" model


def measure(implementation: str, dataset_format: str, path: str) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.measure", implementation, dataset_format, path]
    result: dict[str, float] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return result


def best_of(rounds: int, dataset_format: str, path: str) -> dict[str, dict[str, float]]:
    """Per implementation, its fastest run of ``rounds`` (alternating) and its least CPU time, with the largest peak
    RSS of them all."""
    runs: dict[str, list[dict[str, float]]] = {implementation: [] for implementation in IMPLEMENTATIONS}
    for _ in range(rounds):
        for implementation in IMPLEMENTATIONS:
            runs[implementation].append(measure(implementation, dataset_format, path))
    best = {}
    for implementation, results in runs.items():
        fastest = min(results, key=lambda result: result["seconds"])
        best[implementation] = {
            **fastest,
            "cpu_seconds": min(result["cpu_seconds"] for result in results),
            "peak_rss_mb": max(result["peak_rss_mb"] for result in results),
        }
    return best


def cli_versus_script(path: Path, rounds: int = ROUNDS) -> list[str]:
    """``bedrock-finetune validate`` against ``python -m bench.baseline`` on the same file, each a subprocess (start-up,
    imports and the printed report included); prints the table, returns the targets missed."""
    commands = {
        "bedrock-finetune validate": [*startup.cli(), "validate", str(path), "--base-model", CLI_MODEL],
        "baseline script": [sys.executable, "-m", "bench.baseline", "claude", str(path)],
    }
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            runs[name].append(startup.sample_with_cpu(command))
    mb = path.stat().st_size / generate.MB
    print(f"\nCLI vs the baseline as a script, both subprocesses on {path.name}: fastest of {rounds} runs each")
    header = f"{'command':<26} {'s':>7} {'CPU s':>7} {'MB/s':>7} {'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    seconds, cpu = {}, {}
    for name, samples in runs.items():
        seconds[name] = min(wall for wall, _, _ in samples)
        cpu[name] = min(cpu_seconds for _, cpu_seconds, _ in samples)
        peak = max(rss for _, _, rss in samples)
        print(f"{name:<26} {seconds[name]:>7.2f} {cpu[name]:>7.2f} {mb / seconds[name]:>7.1f} {peak:>12.1f}")
    ratio = seconds["baseline script"] / seconds["bedrock-finetune validate"]
    cpu_ratio = cpu["baseline script"] / cpu["bedrock-finetune validate"]
    print(
        f"{'':<27}ratio CLI/baseline script throughput {ratio:.2f}x (CPU {cpu_ratio:.2f}x; target >= {TARGET_RATIO}x)"
    )
    missed = []
    if ratio < TARGET_RATIO:
        missed.append(f"CLI on {path.name}: throughput ratio {ratio:.2f}x < {TARGET_RATIO}x the baseline script")
    cli_peak = max(rss for _, _, rss in runs["bedrock-finetune validate"])
    if cli_peak > TARGET_RSS_MB:
        missed.append(f"CLI on {path.name}: peak RSS {cli_peak:.0f} MB > {TARGET_RSS_MB:.0f} MB")
    return missed


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
    header = (
        f"{'dataset':<20} {'MB':>7} {'impl':<9} {'s':>7} {'CPU s':>7} {'MB/s':>7} {'records/s':>10} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for name, (dataset_format, _) in generate.DATASETS.items():
        generation_started = time.perf_counter()
        path = str(generate.ensure(name))
        generation = time.perf_counter() - generation_started
        results = best_of(ROUNDS, dataset_format, path)
        for implementation, result in results.items():
            mb = result["bytes"] / generate.MB
            print(
                f"{name:<20} {mb:>7.1f} {implementation:<9} {result['seconds']:>7.2f} {result['cpu_seconds']:>7.2f} "
                f"{mb / result['seconds']:>7.1f} {result['records'] / result['seconds']:>10,.0f} "
                f"{result['peak_rss_mb']:>12.1f}"
            )
        ratio = results["baseline"]["seconds"] / results["ours"]["seconds"]
        cpu_ratio = results["baseline"]["cpu_seconds"] / results["ours"]["cpu_seconds"]
        print(
            f"{'':<29}ratio ours/baseline throughput {ratio:.2f}x (CPU {cpu_ratio:.2f}x; "
            f"data generated in {generation:.1f} s)"
        )
        if ratio < TARGET_RATIO:
            missed.append(f"{name}: throughput ratio {ratio:.2f}x < {TARGET_RATIO}x")
        if results["ours"]["peak_rss_mb"] > TARGET_RSS_MB:
            missed.append(f"{name}: peak RSS {results['ours']['peak_rss_mb']:.0f} MB > {TARGET_RSS_MB:.0f} MB")
    print(
        f"\nfastest of {ROUNDS} alternating runs each; total {time.perf_counter() - started:.0f} s; "
        f"targets: >= {TARGET_RATIO}x, <= {TARGET_RSS_MB:.0f} MB RSS"
    )
    missed += cli_versus_script(generate.ensure(CLI_DATASET))
    if "--validator-only" not in argv:
        missed += coldstart.run()
        missed += startup.run()
    for line in missed:
        print(f"MISSED {line}")
    if "--profile" in argv:
        profile(str(generate.DATA_DIR / CLI_DATASET))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
