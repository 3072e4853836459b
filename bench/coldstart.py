"""Cold start and package size of each Lambda function in template.yaml.

Cold start = importing the handler module and creating the boto3 clients the handler uses, timed inside a fresh
interpreter (the .venv's, warm bytecode caches, fake credentials, no network), median of ``SAMPLES`` runs. The floor
is what any handler of this stack pays: a bare module importing boto3, aws_lambda_powertools (a Logger) and pydantic
(one small input model) and creating two clients. Floor and handler runs are interleaved, in a shuffled order per
round, so machine noise hits both alike. Size = bytes of ``.aws-sam/build/<LogicalId>/`` and its deflated zip.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
BUILD_DIR = ROOT / ".aws-sam" / "build"
SAMPLES = 7
FLOOR_RUNS_PER_ROUND = 2
TARGET_RATIO = 1.2
FLOOR = "floor"
FLOOR_SERVICES = ("s3", "bedrock")
MB = 1_000_000

# Handler module -> the boto3 clients it creates: ``aws.client("...")`` in the logic it calls, and ``s3`` where it
# uses aws.py's S3 helpers (head_object, open_object, put_json, get_text, copy_object, list_keys, MultipartWriter).
SERVICES: dict[str, tuple[str, ...]] = {
    "resolve_config": ("s3",),
    "validate_dataset": ("s3",),
    "stage_dataset": ("s3",),
    "create_customization_job": ("bedrock",),
    "poll_job": ("bedrock", "s3"),
    "deploy_model": ("bedrock",),
    "poll_deployment": ("bedrock",),
    "smoke_test": ("bedrock-runtime", "s3"),
    "release_deployment": ("bedrock",),
    "finalize": ("s3",),
    "cleanup": ("bedrock", "s3"),
    "notify": ("sns",),
    "aborted_run_cleanup": ("bedrock", "s3", "sns"),
}

_TIMED = "import sys, time\nstarted = time.perf_counter()\n{body}\nprint(time.perf_counter() - started)\n"
HANDLER_CODE = _TIMED.format(
    body="import importlib\n"
    "importlib.import_module(sys.argv[1])\n"
    "from bedrock_finetune import aws\n"
    "for service in sys.argv[2:]:\n"
    "    aws.client(service)"
)
WARM_UP_CODE = (
    "import importlib, sys\n"
    "from bedrock_finetune import aws\n"
    "split = sys.argv.index('--')\n"
    "for module in sys.argv[1:split]:\n"
    "    importlib.import_module(module)\n"
    "for service in sys.argv[split + 1 :]:\n"
    "    aws.client(service)\n"
)
FLOOR_CODE = _TIMED.format(
    body="import boto3\n"
    "from aws_lambda_powertools import Logger\n"
    "from pydantic import BaseModel\n"
    "logger = Logger()\n"
    "class Event(BaseModel):\n"
    "    name: str\n"
    "for service in sys.argv[1:]:\n"
    "    boto3.client(service)"
)


def _intrinsic(loader: Any, suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


# A SafeLoader that reads CloudFormation's short-form intrinsics (!Ref, !GetAtt, ...) as plain values.
_TemplateLoader: Any = type("_TemplateLoader", (yaml.SafeLoader,), {})
_TemplateLoader.add_multi_constructor("!", _intrinsic)


def functions(template: Path = TEMPLATE) -> dict[str, str]:
    """Logical id -> handler module of every AWS::Serverless::Function, in template order."""
    document = yaml.load(template.read_text(encoding="utf-8"), Loader=_TemplateLoader)
    default = ((document.get("Globals") or {}).get("Function") or {}).get("Handler")
    found = {}
    for name, resource in document["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            handler = (resource.get("Properties") or {}).get("Handler") or default
            found[name] = str(handler).rsplit(".", 1)[0]
    return found


def _environment(pycache: str) -> dict[str, str]:
    """No AWS settings from the caller: a region and fake credentials, no config files, no instance metadata.

    Bytecode goes to a private cache that the warm-up run fills, so the floor and the handlers (whose sources the
    checkout may keep without bytecode, e.g. under PYTHONDONTWRITEBYTECODE) all load compiled modules alike."""
    skipped = ("AWS_", "POWERTOOLS_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {key: value for key, value in os.environ.items() if not key.startswith(skipped)}
    env.update(
        PYTHONPYCACHEPREFIX=pycache,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        POWERTOOLS_SERVICE_NAME="bench",
    )
    return env


def _services(module: str) -> tuple[str, ...]:
    return SERVICES.get(module.rsplit(".", 1)[-1], FLOOR_SERVICES)


def _sample(module: str, env: dict[str, str]) -> float:
    """Milliseconds of one cold start in a fresh interpreter."""
    if module == FLOOR:
        command = [sys.executable, "-c", FLOOR_CODE, *FLOOR_SERVICES]
    else:
        command = [sys.executable, "-c", HANDLER_CODE, module, *_services(module)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return float(output.strip().splitlines()[-1]) * 1000


def cold_starts(modules: list[str], samples: int = SAMPLES) -> dict[str, list[float]]:
    """Samples per module and for the floor, after one warm-up run that imports everything (bytecode, page cache)."""
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        return _cold_starts(modules, samples, _environment(pycache))


def _cold_starts(modules: list[str], samples: int, env: dict[str, str]) -> dict[str, list[float]]:
    unique = sorted(set(modules))
    services = sorted({*FLOOR_SERVICES, *(service for module in unique for service in _services(module))})
    warm_up = [sys.executable, "-c", WARM_UP_CODE, *unique, "--", *services]
    subprocess.run(warm_up, check=True, capture_output=True, env=env, cwd=ROOT)
    _sample(FLOOR, env)  # compiles the floor's own imports (pydantic's plugin loader, ...)
    results: dict[str, list[float]] = {module: [] for module in [FLOOR, *unique]}
    rng = random.Random(4)
    for _ in range(samples):
        order = unique + [FLOOR] * FLOOR_RUNS_PER_ROUND
        rng.shuffle(order)
        for module in order:
            results[module].append(_sample(module, env))
    return results


_compressed: dict[bytes, int] = {}


def package_size(directory: Path) -> tuple[int, int]:
    """Bytes of the files under ``directory``, and the size of its zip (deflate, as ``sam package`` writes it).

    Identical files (every function here ships the same package) are compressed once."""
    total = zipped = 0
    for parent, _, names in os.walk(directory):
        for name in names:
            path = Path(parent, name)
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if digest not in _compressed:
                compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
                _compressed[digest] = len(compressor.compress(data)) + len(compressor.flush())
            arcname = len(str(path.relative_to(directory)).encode())
            total += len(data)
            zipped += _compressed[digest] + 30 + 46 + 2 * arcname  # local header + central directory entry
    return total, zipped + 22


def run(samples: int = SAMPLES) -> list[str]:
    """Print the cold-start and size table; return the targets missed."""
    started = time.perf_counter()
    handlers = functions()
    results = cold_starts(list(handlers.values()), samples)
    floor = statistics.median(results[FLOOR])
    floor_spread = max(results[FLOOR]) - min(results[FLOOR])
    print(
        f"\ncold start: import handler + create its clients, median of {samples} fresh interpreters "
        f"(floor: boto3 + powertools Logger + pydantic model + {len(FLOOR_SERVICES)} clients, "
        f"{len(results[FLOOR])} runs interleaved)"
    )
    header = f"{'function':<32} {'services':<24} {'ms':>7} {'x floor':>8} {'<=1.2x':>6} {'MB':>7} {'zip MB':>7}"
    print(header)
    print("-" * len(header))
    print(f"{FLOOR:<32} {','.join(FLOOR_SERVICES):<24} {floor:>7.1f} {1:>8.2f} {'':>6} (spread {floor_spread:.0f} ms)")
    missed = []
    unbuilt = []
    for name, module in handlers.items():
        median = statistics.median(results[module])
        ratio = median / floor
        verdict = "pass" if ratio <= TARGET_RATIO else "FAIL"
        directory = BUILD_DIR / name
        if directory.is_dir():
            size, zipped = package_size(directory)
            sizes = f"{size / MB:>7.1f} {zipped / MB:>7.1f}"
        else:
            sizes = f"{'-':>7} {'-':>7}"
            unbuilt.append(name)
        services = ",".join(_services(module)) + ("" if module.rsplit(".", 1)[-1] in SERVICES else " (?)")
        print(f"{name:<32} {services:<24} {median:>7.1f} {ratio:>8.2f} {verdict:>6} {sizes}")
        if ratio > TARGET_RATIO:
            missed.append(f"{name}: cold start {median:.0f} ms = {ratio:.2f}x floor > {TARGET_RATIO}x")
    if unbuilt:
        print(f"not built (run `make build`): {', '.join(unbuilt)}")
    unknown = sorted({module for module in handlers.values() if module.rsplit(".", 1)[-1] not in SERVICES})
    if unknown:
        print(f"(?) no entry in bench/coldstart.py SERVICES, measured with the floor's clients: {', '.join(unknown)}")
    print(f"cold-start section {time.perf_counter() - started:.0f} s; target: <= {TARGET_RATIO}x floor")
    return missed
