"""Record checkers for the non-converse dataset formats, and the helpers every checker shares.

A checker gets one parsed JSON object per call, reports what breaks its format's rules, and returns the character
counts the token estimate is made from. Checkers are plain dict/type code: this is the hot path.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any

from bedrock_finetune.catalog import FormatRules
from bedrock_finetune.validation import codes
from bedrock_finetune.validation.report import FileIssues
from bedrock_finetune.validation.typed import CLAUDE_MESSAGES, CPT_INPUT, PROMPT_COMPLETION, TypedPath

USER, ASSISTANT = "user", "assistant"
# Field names of the formats we know, the only keys a message may name (see field_label).
SCHEMA_FIELDS = frozenset(
    {
        "prompt", "completion", "input", "image-ref", "caption", "system", "messages", "role", "content",
        "schemaVersion", "text", "image", "video", "document", "reasoningContent", "reasoningText", "toolUse",
        "toolResult", "toolConfig", "guardContent", "cachePoint", "format", "source", "s3Location", "uri",
        "bucketOwner",
    }
)  # fmt: skip
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.*[^/])$")
# File extensions that name an image type, and the type (as the catalog's image_formats spell it). An image-ref whose
# extension names a type the model does not take is an error; any other extension (or none) leaves the type unknown.
_IMAGE_EXTENSIONS = {
    "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp",
    "tif": "tiff", "tiff": "tiff", "heic": "heic", "heif": "heif", "avif": "avif", "svg": "svg",
}  # fmt: skip
_ROLE, _CONTENT = itemgetter("role"), itemgetter("content")
_ALTERNATING = [USER, ASSISTANT] * 512  # records with more messages take the detailed path


Measure = tuple[int, int, int, int]
"""What a record adds to the statistics: (input characters, output characters, messages, images). A plain tuple,
not a NamedTuple, because it is built once per record on the hot path."""


class RecordChecker:
    """Base class: one instance per file. The engine decodes lines with :attr:`typed` when the format has a fast path;
    a line it does not take is parsed, then given to :meth:`quick`, then to :meth:`check` if quick declines."""

    #: The format's fast path (typed.py): records it decodes break no rule of this checker.
    typed: TypedPath | None = None

    def __init__(self, rules: FormatRules, issues: FileIssues, model_id: str, dataset_bucket: str | None) -> None:
        self.rules = rules
        self.issues = issues
        self.model_id = model_id
        self.dataset_bucket = dataset_bucket

    def quick(self, record: dict[str, Any]) -> Measure | None:
        """The measure of a record that breaks no rule, found with C-level builtins only; None when unsure, and the
        engine then calls :meth:`check`. Must never accept a record :meth:`check` would report (tests assert it)."""
        return None

    def check(self, record: dict[str, Any], line: int) -> Measure:
        """Report every rule the record breaks; return its measure."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last record, for file-level findings."""

    def string_field(self, record: dict[str, Any], name: str, line: int, *, allow_empty: bool = False) -> int:
        """Check a required string field; its length in characters (0 if missing or not a string)."""
        value = record.get(name)
        if type(value) is str:
            if not allow_empty and (not value or value.isspace()):
                self.issues.error(line, codes.E_CONTENT_EMPTY, f"{name} is empty", field_path("$", name))
            return len(value)
        if name not in record:
            self.issues.error(line, codes.E_FIELD_MISSING, f"required field {name} is missing", "$")
        else:
            self.issues.error(line, codes.E_FIELD_TYPE, f"{name} must be a string", field_path("$", name))
        return 0

    def ignored_fields(self, record: dict[str, Any], known: frozenset[str], line: int) -> None:
        """Warn about fields the format does not use (Bedrock ignores them)."""
        for key in record:
            if key not in known:
                self.issues.warning(
                    line,
                    codes.W_FIELD_UNKNOWN,
                    f"{field_label(key)} is not part of the format ({', '.join(sorted(known))}) and is ignored",
                    field_path("$", key),
                )


class PromptCompletionChecker(RecordChecker):
    """``{"prompt": str, "completion": str}`` (Titan, Cohere, Llama 3.1)."""

    _KNOWN = frozenset({"prompt", "completion"})
    typed = PROMPT_COMPLETION

    def check(self, record: dict[str, Any], line: int) -> Measure:
        if len(record) != 2:
            self.ignored_fields(record, self._KNOWN, line)
        return self.string_field(record, "prompt", line), self.string_field(record, "completion", line), 0, 0


class ContinuedPreTrainingChecker(RecordChecker):
    """``{"input": str}`` (Titan Text continued pre-training)."""

    _KNOWN = frozenset({"input"})
    typed = CPT_INPUT

    def check(self, record: dict[str, Any], line: int) -> Measure:
        if len(record) != 1:
            self.ignored_fields(record, self._KNOWN, line)
        return self.string_field(record, "input", line), 0, 0, 0


class ImageCaptionChecker(RecordChecker):
    """``{"image-ref": "s3://bucket/key.png", "caption": str}`` (Titan Image Generator, Titan MM Embeddings, Nova
    Canvas). The caption length is checked in characters, as the documentation states it. The image type is judged by
    the key's extension: one naming a type the model does not take is an error, a missing or unknown one a warning."""

    _KNOWN = frozenset({"image-ref", "caption"})

    def check(self, record: dict[str, Any], line: int) -> Measure:
        if len(record) != 2:
            self.ignored_fields(record, self._KNOWN, line)
        self._check_image_ref(record, line)
        caption_chars = self.string_field(record, "caption", line, allow_empty=True)
        low, high = self.rules.caption_min_chars or 0, self.rules.caption_max_chars
        if type(record.get("caption")) is str and (caption_chars < low or (high is not None and caption_chars > high)):
            self.issues.error(
                line,
                codes.E_CAPTION_LENGTH,
                f"caption has {caption_chars:,} characters; {self.model_id} accepts {low:,} to {high:,}",
                "$.caption",
            )
        return caption_chars, 0, 0, 1

    def _check_image_ref(self, record: dict[str, Any], line: int) -> None:
        self.string_field(record, "image-ref", line)
        uri = record.get("image-ref")
        if type(uri) is not str or not uri.strip():
            return
        formats = self.rules.media.image_formats
        parsed = parse_s3_uri(uri)
        name = parsed[1].rsplit("/", 1)[-1] if parsed else ""
        image_type = _IMAGE_EXTENSIONS.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None
        if parsed is None or (image_type is not None and image_type not in formats):
            self.issues.error(
                line,
                codes.E_IMAGE_REF,
                f"image-ref must be an s3://bucket/key URI of a {' or '.join(formats)} file (by its extension)",
                "$['image-ref']",
            )
        elif image_type is None:
            # The docs require JPEG or PNG images, not an extension; the object's content type would settle it, but
            # the validator reads only the dataset (no S3 access), so the extension is its only hint.
            self.issues.warning(
                line,
                codes.W_IMAGE_REF_EXTENSION,
                f"image-ref has {'an extension that names no image type' if '.' in name else 'no file extension'}; "
                f"{self.model_id} takes {' or '.join(formats)} images, which cannot be checked without the object",
                "$['image-ref']",
            )


class ClaudeMessagesChecker(RecordChecker):
    """``{"system"?: str, "messages": [{"role", "content": str}, ...]}`` (Claude 3 Haiku). No other keys anywhere."""

    typed = CLAUDE_MESSAGES

    def quick(self, record: dict[str, Any]) -> Measure | None:
        try:
            messages = record["messages"]
            system = record.get("system", "")
            if type(messages) is not list or type(system) is not str or len(record) != 1 + ("system" in record):
                return None
            count = len(messages)
            # exactly two keys per message, both present; roles user, assistant, user, ..., assistant
            if sum(map(len, messages)) != 2 * count or list(map(_ROLE, messages)) != _ALTERNATING[:count] or count % 2:
                return None
            contents = list(map(_CONTENT, messages))
            if count < 2 or not all(contents) or any(map(str.isspace, contents)):  # isspace raises on a non-str
                return None
        except (KeyError, TypeError):
            return None
        return len(system) + sum(map(len, contents[::2])), sum(map(len, contents[1::2])), count, 0

    def check(self, record: dict[str, Any], line: int) -> Measure:
        issues = self.issues
        for key in record:
            if key not in ("system", "messages"):
                issues.error(
                    line,
                    codes.E_FIELD_UNKNOWN,
                    f"{field_label(key)} is not allowed; a Claude record has only system and messages",
                    field_path("$", key),
                )
        input_chars = 0
        if "system" in record:
            system = record["system"]
            if type(system) is str:
                input_chars = len(system)
            else:
                issues.error(line, codes.E_FIELD_TYPE, "system must be a string", "$.system")
        messages = record.get("messages")
        if type(messages) is not list:
            if "messages" in record:
                issues.error(line, codes.E_FIELD_TYPE, "messages must be a list", "$.messages")
            else:
                issues.error(line, codes.E_FIELD_MISSING, "required field messages is missing", "$")
            return input_chars, 0, 0, 0
        output_chars = 0
        roles: list[str | None] = []
        for index, message in enumerate(messages):
            role, chars = self._check_message(message, index, line)
            roles.append(role)
            if role == ASSISTANT:
                output_chars += chars
            else:
                input_chars += chars
        check_role_sequence(roles, line, issues)
        return input_chars, output_chars, len(messages), 0

    def _check_message(self, message: Any, index: int, line: int) -> tuple[str | None, int]:
        """The message's valid role (or None) and its content length."""
        issues = self.issues
        path = f"$.messages[{index}]"
        if type(message) is not dict:
            issues.error(line, codes.E_FIELD_TYPE, f"messages[{index}] must be an object", path)
            return None, 0
        if len(message) != 2 or "role" not in message or "content" not in message:
            for key in message:
                if key not in ("role", "content"):
                    issues.error(
                        line,
                        codes.E_FIELD_UNKNOWN,
                        f"{field_label(key)} is not allowed; a Claude message has only role and content",
                        field_path(path, key),
                    )
        role = message.get("role")
        if role is None:
            issues.error(line, codes.E_FIELD_MISSING, f"messages[{index}] has no role", path)
        elif role not in (USER, ASSISTANT):
            issues.error(line, codes.E_ROLE_INVALID, "role must be user or assistant", f"{path}.role")
            role = None
        content = message.get("content")
        if type(content) is str:
            if not content or content.isspace():
                issues.error(line, codes.E_CONTENT_EMPTY, f"messages[{index}] has empty content", f"{path}.content")
            return role, len(content)
        if "content" not in message:
            issues.error(line, codes.E_FIELD_MISSING, f"messages[{index}] has no content", path)
        else:
            issues.error(line, codes.E_FIELD_TYPE, "content must be a string for Claude", f"{path}.content")
        return role, 0


def parse_s3_uri(uri: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://`` object URI, or None if it is not one."""
    match = _S3_URI.match(uri)
    return (match.group("bucket"), match.group("key")) if match else None


def check_role_sequence(roles: list[str | None], line: int, issues: FileIssues) -> None:
    """At least two messages, user first, assistant last, strictly alternating. ``None`` stands for a message whose
    role is missing or invalid (already reported), which is skipped by the order rules."""
    count = len(roles)
    if count < 2:
        issues.error(
            line,
            codes.E_MESSAGES_TOO_FEW,
            f"a record needs at least 2 messages (a user message, then an assistant answer); found {count}",
            "$.messages",
        )
    if not count:
        return
    if roles[0] not in (None, USER):
        issues.error(line, codes.E_ROLE_FIRST, "the first message must have role user", "$.messages[0].role")
    if roles[-1] not in (None, ASSISTANT):
        issues.error(
            line, codes.E_ROLE_LAST, "the last message must have role assistant", f"$.messages[{count - 1}].role"
        )
    for index in range(1, count):
        if roles[index] is not None and roles[index] == roles[index - 1]:
            issues.error(
                line,
                codes.E_ROLE_ALTERNATION,
                f"messages[{index}] has the same role as the message before it; roles must alternate user, assistant",
                f"$.messages[{index}].role",
            )


def field_label(key: str) -> str:
    """How a message names a field: by name when it is one of our schema's names, else generically (any other key
    is the user's, and could hold dataset content)."""
    return repr(key) if key in SCHEMA_FIELDS else "a field"


def field_path(parent: str, key: str) -> str:
    """The JSON path of a field; for a key outside our schema, the path of the object that holds it."""
    if key not in SCHEMA_FIELDS:
        return parent
    return f"{parent}.{key}" if key.isidentifier() else f"{parent}['{key}']"
