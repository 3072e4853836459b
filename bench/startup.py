"""Start-up time and peak memory of the ``bedrock-finetune`` commands people run most, against a floor.

Each command runs as a subprocess of this one, in the .venv, with warm bytecode and page caches: the floor
(``python -c "import pydantic"``, what any pydantic-based command pays), ``bedrock-finetune validate`` of a 10-record
file and ``bedrock-finetune models``. Rounds interleave the three in a shuffled order, so machine noise hits them
alike; the table shows medians of wall time and each command's own peak RSS.

Peak RSS is the child's own ``ru_maxrss``, read with ``os.wait4`` when the child ends. (Deltas of
``getrusage(RUSAGE_CHILDREN)`` cannot give it: that ``ru_maxrss`` is the largest of all children waited for so far,
so after one large child every smaller one would read as 0.)
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "events" / "datasets" / "support-chat.jsonl"
DATA_DIR = Path(__file__).with_name(".data")
MODEL = "amazon.nova-micro-v1:0:128k"
RECORDS = 10
ROUNDS = 15
TARGET_RATIO = 3.0
TARGET_RSS_MB = 80.0
FLOOR = "floor"


def ten_records() -> Path:
    """The first 10 records of the sample dataset (bench/.data/, gitignored)."""
    path = DATA_DIR / f"startup-{RECORDS}.jsonl"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        lines = SAMPLE.read_bytes().splitlines(keepends=True)[:RECORDS]
        path.write_bytes(b"".join(lines))
    return path


def cli() -> list[str]:
    """The ``bedrock-finetune`` command of this .venv."""
    script = Path(sys.executable).with_name("bedrock-finetune")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bedrock_finetune_cli"]


def commands(dataset: Path) -> dict[str, list[str]]:
    cli_command = cli()
    return {
        FLOOR: [sys.executable, "-c", "import pydantic"],
        f"validate ({RECORDS} records)": [*cli_command, "validate", str(dataset), "--base-model", MODEL],
        "models": [*cli_command, "models"],
    }


def sample(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of the command."""
    seconds, _, peak = sample_with_cpu(command)
    return seconds, peak


def sample_with_cpu(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one run of the command."""
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):  # validate answers 1 for an invalid file: still a complete start
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip()
            raise RuntimeError(f"{' '.join(command)} exited {child.returncode}: {reason}")
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux
    return seconds, usage.ru_utime + usage.ru_stime, peak


def measure(rounds: int = ROUNDS) -> dict[str, tuple[list[float], list[float]]]:
    runs = commands(ten_records())
    for command in runs.values():
        sample(command)  # warm-up: bytecode and page caches
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runs}
    rng = random.Random(5)
    for _ in range(rounds):
        order = list(runs)
        rng.shuffle(order)
        for name in order:
            seconds, peak = sample(runs[name])
            results[name][0].append(seconds)
            results[name][1].append(peak)
    return results


def run(rounds: int = ROUNDS) -> list[str]:
    """Print the start-up table; return the targets missed."""
    started = time.perf_counter()
    results = measure(rounds)
    floor = statistics.median(results[FLOOR][0])
    print(
        f"\nCLI start-up: median of {rounds} runs per command, interleaved; floor = python -c 'import pydantic'; "
        f"targets: <= {TARGET_RATIO:.0f}x the floor, < {TARGET_RSS_MB:.0f} MB peak RSS"
    )
    header = f"{'command':<26} {'ms':>7} {'x floor':>8} {'peak RSS MB':>12} {'verdict':>8}"
    print(header)
    print("-" * len(header))
    missed = []
    for name, (times, peaks) in results.items():
        median, peak = statistics.median(times), max(peaks)
        ratio = median / floor
        if name == FLOOR:
            print(f"{name:<26} {median * 1000:>7.1f} {1:>8.2f} {peak:>12.1f}")
            continue
        passed = ratio <= TARGET_RATIO and peak < TARGET_RSS_MB
        print(f"{name:<26} {median * 1000:>7.1f} {ratio:>8.2f} {peak:>12.1f} {'pass' if passed else 'FAIL':>8}")
        if ratio > TARGET_RATIO:
            missed.append(
                f"bedrock-finetune {name}: start-up {median * 1000:.0f} ms = {ratio:.2f}x floor > {TARGET_RATIO}x"
            )
        if peak >= TARGET_RSS_MB:
            missed.append(f"bedrock-finetune {name}: peak RSS {peak:.0f} MB >= {TARGET_RSS_MB:.0f} MB")
    print(f"start-up section {time.perf_counter() - started:.0f} s")
    return missed
