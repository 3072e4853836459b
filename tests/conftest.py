"""Test-wide settings."""

from __future__ import annotations

import os

# Local runs in tests: Wait states and Retry backoff at a twentieth of real time. Every state still runs in the same
# order and as often; the local Bedrock's lifecycles count polls, not seconds.
os.environ.setdefault("BEDROCK_FINETUNE_LOCAL_TIME_SCALE", "0.05")
