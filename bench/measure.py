"""One measurement, in its own process: ``python -m bench.measure ours|baseline claude|cpt PATH`` prints JSON (wall
and CPU seconds of the validation alone, after the imports; the process's peak RSS)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from bedrock_finetune.catalog import get_model
from bedrock_finetune.validation import DatasetSource, validate_dataset
from bench import baseline

MODELS = {
    "claude": ("anthropic.claude-3-haiku-20240307-v1:0:200k", "FINE_TUNING"),
    "cpt": ("amazon.titan-text-express-v1:0:8k", "CONTINUED_PRE_TRAINING"),
}


def ours(path: Path, dataset_format: str) -> dict[str, int]:
    model_id, customization_type = MODELS[dataset_format]
    with path.open("rb") as stream:
        report = validate_dataset(
            train=DatasetSource(name=path.name, stream=stream, size=path.stat().st_size),
            model=get_model(model_id),
            customization_type=customization_type,
        )
    line_errors = sum(1 for issue in report.errors if issue.line is not None)
    return {"records": report.stats.records, "errors": line_errors, "tokens": report.stats.tokens.total}


def main() -> None:
    implementation, dataset_format, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    run = ours if implementation == "ours" else baseline.validate
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run(path, dataset_format)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                **result,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "bytes": path.stat().st_size,
                "peak_rss_mb": peak_kib / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
