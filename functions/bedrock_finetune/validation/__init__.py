"""Streaming dataset validator: the one function the ValidateDataset Lambda and the ``bedrock-finetune`` CLI call."""

from bedrock_finetune.validation.engine import validate_dataset
from bedrock_finetune.validation.reader import DatasetSource
from bedrock_finetune.validation.report import FileStats, Issue, Stats, TokenStats, TurnStats, ValidationReport

__all__ = [
    "DatasetSource",
    "FileStats",
    "Issue",
    "Stats",
    "TokenStats",
    "TurnStats",
    "ValidationReport",
    "validate_dataset",
]
