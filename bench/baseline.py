"""The naive validator, written the way public samples are (aws-samples' Nova validator, the Llama validator):
text-mode lines, ``json.loads``, a pydantic model per record whose ``field_validator``s check the role pattern and
the alternation, and a characters/N token estimate. It streams (no list of records), so its memory is not inflated.

``python -m bench.baseline claude|cpt PATH`` runs it as a script of its own and prints its counts as JSON: what the
CLI is compared with, start-up included.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

ROLE_PATTERN = re.compile(r"^(user|assistant)$")


class Message(BaseModel):
    role: str
    content: str

    @field_validator("role")
    @classmethod
    def role_pattern(cls, role: str) -> str:
        if not ROLE_PATTERN.match(role):
            raise ValueError("role must be user or assistant")
        return role


class ClaudeRecord(BaseModel):
    system: str | None = None
    messages: list[Message]

    @field_validator("messages")
    @classmethod
    def roles_alternate(cls, messages: list[Message]) -> list[Message]:
        for index, message in enumerate(messages):
            expected = "user" if index % 2 == 0 else "assistant"
            if message.role != expected:
                raise ValueError(f"message {index} should be {expected}")
        return messages

    def characters(self) -> int:
        return len(self.system or "") + sum(len(message.content) for message in self.messages)


class CptRecord(BaseModel):
    input: str

    def characters(self) -> int:
        return len(self.input)


def validate(path: Path, dataset_format: str) -> dict[str, int]:
    model, chars_per_token = (ClaudeRecord, 3) if dataset_format == "claude" else (CptRecord, 6)
    records = errors = tokens = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            records += 1
            try:
                record = model(**json.loads(line))
            except (ValueError, ValidationError):
                errors += 1
                continue
            tokens += record.characters() // chars_per_token
    return {"records": records, "errors": errors, "tokens": tokens}


def main() -> None:
    print(json.dumps(validate(Path(sys.argv[2]), sys.argv[1])))


if __name__ == "__main__":
    main()
