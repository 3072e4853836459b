"""The Bedrock conversation format (``schemaVersion: bedrock-conversation-2024``): Nova 1 and 2, Llama 3.2 and 3.3.

Rules applied (model-specific ones come from the catalog's ``rules``):
- ``system`` is an optional list of ``{"text"}`` blocks (Llama: at most one); ``messages`` alternate user, assistant,
  starting with user and ending with assistant; roles are only user and assistant.
- content blocks hold exactly one of text, image, video (models that take them), reasoningContent (Nova 2 Lite,
  assistant only, text only: ``reasoningText.text``, also in a record with images or videos, since the Nova 2 SFT
  guide rules out only multimodal reasoning content itself); tool use and documents are refused.
- Nova's reserved keywords are errors in user and system text and warnings in assistant text (the Nova guide names
  prompts; AWS's sample validator rejects them anywhere). They are matched anywhere in the text, as the guide writes
  them ("If any of these appears anywhere in a user or system prompt"): case-sensitive. A variant in another letter
  case (``user:``) is only a warning: the guide does not say it fails, but AWS's sample validator ignores case.
- media: allowed formats, at most N per record, user messages only, ``s3://`` URIs matching the model's pattern; a
  file holds images or videos, not both. Nova needs media in the dataset's own bucket: checked when the dataset
  itself is in S3 (``DatasetSource.name`` is an ``s3://`` URI); locally only a mix of buckets is an error and a
  single warning says the rest is checked once the dataset is in S3.
"""

from __future__ import annotations

import re
from typing import Any

from bedrock_finetune.catalog import FormatRules
from bedrock_finetune.validation import codes
from bedrock_finetune.validation.formats import (
    ASSISTANT,
    SCHEMA_FIELDS,
    USER,
    Measure,
    RecordChecker,
    check_role_sequence,
    field_label,
    field_path,
    parse_s3_uri,
)
from bedrock_finetune.validation.report import FileIssues
from bedrock_finetune.validation.typed import converse

_KNOWN_TOP = frozenset({"schemaVersion", "system", "messages"})
_SYSTEM = "system"


class _RecordMedia:
    """Media seen in one record."""

    __slots__ = ("images", "videos")

    def __init__(self) -> None:
        self.images = 0
        self.videos = 0


class ConverseChecker(RecordChecker):
    def __init__(self, rules: FormatRules, issues: FileIssues, model_id: str, dataset_bucket: str | None) -> None:
        super().__init__(rules, issues, model_id, dataset_bucket)
        keywords = rules.reserved_keywords
        alternatives = "|".join(map(re.escape, keywords))
        self._keywords = re.compile(alternatives) if keywords else None
        # ASCII folding only, so that every variant's lower() is a key of _keyword_names
        self._keyword_variants = re.compile(alternatives, re.IGNORECASE | re.ASCII) if keywords else None
        self._keyword_names = {keyword.lower(): keyword for keyword in keywords}
        self.typed = converse(keywords, self._keyword_variants, rules.max_system_blocks)
        pattern = rules.media.uri_path_pattern
        self._uri_path = re.compile(pattern) if pattern else None
        self._file_media_kind: str | None = None
        self._first_media_bucket: str | None = None
        self._media_records = 0

    def check(self, record: dict[str, Any], line: int) -> Measure:
        issues = self.issues
        if not _KNOWN_TOP.issuperset(record):
            self._unknown_top_fields(record, line)
        if "schemaVersion" in record and type(record["schemaVersion"]) is not str:
            issues.error(line, codes.E_FIELD_TYPE, "schemaVersion must be a string", "$.schemaVersion")
        input_chars = self._check_system(record, line)
        messages = record.get("messages")
        if type(messages) is not list:
            if "messages" in record:
                issues.error(line, codes.E_FIELD_TYPE, "messages must be a list", "$.messages")
            else:
                issues.error(line, codes.E_FIELD_MISSING, "required field messages is missing", "$")
            return input_chars, 0, 0, 0
        media = _RecordMedia()
        output_chars = 0
        roles: list[str | None] = []
        for index, message in enumerate(messages):
            role, chars = self._check_message(message, index, line, media)
            roles.append(role)
            if role == ASSISTANT:
                output_chars += chars
            else:
                input_chars += chars
        check_role_sequence(roles, line, issues)
        if media.images or media.videos:
            self._check_record_media(media, line)
        return input_chars, output_chars, len(messages), media.images

    def finish(self) -> None:
        if self._media_records and self.rules.media.same_bucket_as_dataset and self.dataset_bucket is None:
            self.issues.warning(
                None,
                codes.W_MEDIA_BUCKET_UNCHECKED,
                f"{self._media_records:,} records reference images or videos; {self.model_id} needs them in the same "
                "S3 bucket as the dataset, which is checked once the dataset is in S3",
            )

    def _unknown_top_fields(self, record: dict[str, Any], line: int) -> None:
        for key in record:
            if key == "toolConfig":
                self.issues.error(
                    line,
                    codes.E_FIELD_UNKNOWN,
                    "tool use (toolConfig) is not supported for fine-tuning",
                    "$.toolConfig",
                )
            elif key not in _KNOWN_TOP:
                self.issues.warning(
                    line,
                    codes.W_FIELD_UNKNOWN,
                    f"{field_label(key)} is not part of the format (schemaVersion, system, messages) and is ignored",
                    field_path("$", key),
                )

    def _check_system(self, record: dict[str, Any], line: int) -> int:
        if "system" not in record:
            return 0
        system = record["system"]
        if type(system) is not list:
            self.issues.error(line, codes.E_FIELD_TYPE, "system must be a list of {text} blocks", "$.system")
            return 0
        limit = self.rules.max_system_blocks
        if limit is not None and len(system) > limit:
            self.issues.error(
                line,
                codes.E_SYSTEM_BLOCKS,
                f"system has {len(system)} blocks; {self.model_id} accepts at most {limit}",
                "$.system",
            )
        chars = 0
        for index, block in enumerate(system):
            text = block.get("text") if type(block) is dict else None
            if type(text) is not str or len(block) != 1:
                self.issues.error(
                    line, codes.E_CONTENT_BLOCK, f"system[{index}] must be an object with one text field", "$.system"
                )
                continue
            self._check_keywords(text, _SYSTEM, line, f"$.system[{index}].text")
            chars += len(text)
        return chars

    def _check_message(self, message: Any, index: int, line: int, media: _RecordMedia) -> tuple[str | None, int]:
        """The message's valid role (or None) and its text length in characters."""
        issues = self.issues
        path = f"$.messages[{index}]"
        if type(message) is not dict:
            issues.error(line, codes.E_FIELD_TYPE, f"messages[{index}] must be an object", path)
            return None, 0
        if len(message) != 2 or "role" not in message or "content" not in message:
            for key in message:
                if key not in ("role", "content"):
                    issues.warning(
                        line,
                        codes.W_FIELD_UNKNOWN,
                        f"{field_label(key)} is not part of a message (role, content) and is ignored",
                        field_path(path, key),
                    )
        role = message.get("role")
        if role is None:
            issues.error(line, codes.E_FIELD_MISSING, f"messages[{index}] has no role", path)
        elif role not in (USER, ASSISTANT):
            issues.error(line, codes.E_ROLE_INVALID, "role must be user or assistant", f"{path}.role")
            role = None
        content = message.get("content")
        if type(content) is not list:
            if "content" in message:
                issues.error(line, codes.E_FIELD_TYPE, "content must be a list of content blocks", f"{path}.content")
            else:
                issues.error(line, codes.E_FIELD_MISSING, f"messages[{index}] has no content", path)
            return role, 0
        chars = 0
        has_content = False
        keywords = self._keywords
        for block_index, block in enumerate(content):
            text = block.get("text") if type(block) is dict else None
            if type(text) is str and len(block) == 1:
                if keywords is not None:
                    self._check_keywords(text, role, line, f"{path}.content[{block_index}].text")
                chars += len(text)
                has_content = has_content or not (not text or text.isspace())
                continue
            chars += self._check_block(block, role, line, f"{path}.content[{block_index}]", media)
            has_content = True  # present, even if wrong: reported as what it is, not as empty
        if not has_content:
            issues.error(
                line, codes.E_CONTENT_EMPTY, f"messages[{index}] has no text, image or video", f"{path}.content"
            )
        return role, chars

    def _check_block(self, block: Any, role: str | None, line: int, path: str, media: _RecordMedia) -> int:
        """A content block other than plain text; returns its characters."""
        if type(block) is not dict or len(block) != 1:
            self.issues.error(
                line,
                codes.E_CONTENT_BLOCK,
                f"a content block must be an object with exactly one of: {self._block_kinds()}",
                path,
            )
            return 0
        kind, value = next(iter(block.items()))
        if kind == "text":
            self.issues.error(line, codes.E_FIELD_TYPE, "text must be a string", f"{path}.text")
            return 0
        if kind in ("image", "video"):
            self._check_media(kind, value, role, line=line, path=f"{path}.{kind}", media=media)
            return 0
        if kind == "reasoningContent":
            return self._check_reasoning(value, role, line, f"{path}.reasoningContent")
        what = f"content block {field_label(kind)}" if kind in SCHEMA_FIELDS else "a content block of an unknown type"
        self.issues.error(
            line,
            codes.E_CONTENT_BLOCK,
            f"{what} is not supported for fine-tuning; use one of: {self._block_kinds()}",
            field_path(path, kind),
        )
        return 0

    def _block_kinds(self) -> str:
        media = self.rules.media
        kinds = ["text"]
        kinds += ["image"] if media.image_formats else []
        kinds += ["video"] if media.video_formats else []
        kinds += ["reasoningContent"] if self.rules.reasoning_allowed else []
        return ", ".join(kinds)

    def _check_keywords(self, text: str, role: str | None, line: int, path: str) -> None:
        if self._keywords is None or self._keyword_variants is None:
            return
        variant = self._keyword_variants.search(text)  # one search per text on the hot path: most texts have none
        if variant is None:
            return
        match = self._keywords.search(text)
        if match is None:
            where = "system" if role == _SYSTEM else "assistant" if role == ASSISTANT else "user"
            self.issues.warning(
                line,
                codes.W_RESERVED_KEYWORD_CASE,
                f"{where} text contains the reserved keyword {self._keyword_names[variant.group().lower()]!r} in "
                f"another letter case; {self.model_id} reserves it as written, but AWS's sample validator ignores case",
                path,
            )
            return
        keyword = self._keyword_names[match.group().lower()]
        if role == ASSISTANT:
            self.issues.warning(
                line,
                codes.W_RESERVED_KEYWORD,
                f"assistant text contains the reserved keyword {keyword!r} (ignoring case); {self.model_id} forbids it "
                "in prompts and AWS's sample validator rejects it in answers too",
                path,
            )
        else:
            where = "system" if role == _SYSTEM else "user"
            self.issues.error(
                line,
                codes.E_RESERVED_KEYWORD,
                f"{where} text contains the reserved keyword {keyword!r} (ignoring case); {self.model_id} fails the "
                "job when a prompt contains one",
                path,
            )

    def _check_media(
        self, kind: str, value: Any, role: str | None, *, line: int, path: str, media: _RecordMedia
    ) -> None:
        rules = self.rules.media
        formats = rules.image_formats if kind == "image" else rules.video_formats
        if not formats:
            self.issues.error(
                line, codes.E_MEDIA_NOT_SUPPORTED, f"{self.model_id} does not take {kind}s in training data", path
            )
            return
        if kind == "image":
            media.images += 1
        else:
            media.videos += 1
        if role == ASSISTANT:
            self.issues.error(line, codes.E_MEDIA_ROLE, f"{kind}s are allowed only in user messages", path)
        if type(value) is not dict:
            self.issues.error(line, codes.E_FIELD_TYPE, f"{kind} must be an object with format and source", path)
            return
        media_format = value.get("format")
        if type(media_format) is not str:
            self.issues.error(line, codes.E_FIELD_MISSING, f"{kind} needs a format (a string)", f"{path}.format")
        elif media_format.lower() not in formats:
            self.issues.error(
                line,
                codes.E_MEDIA_FORMAT,
                f"{kind} format must be one of {', '.join(formats)} for {self.model_id}",
                f"{path}.format",
            )
        uri = _dig(value, "source", "s3Location", "uri")
        uri_path = f"{path}.source.s3Location.uri"
        if type(uri) is not str:
            self.issues.error(line, codes.E_FIELD_MISSING, f"{kind} needs source.s3Location.uri (a string)", uri_path)
            return
        self._check_media_uri(kind, uri, line, uri_path)

    def _check_media_uri(self, kind: str, uri: str, line: int, path: str) -> None:
        code = codes.E_IMAGE_REF if kind == "image" else codes.E_VIDEO_REF
        parsed = parse_s3_uri(uri)
        if parsed is None:
            self.issues.error(line, code, f"{kind} uri must be an s3://bucket/key object URI", path)
            return
        bucket, key = parsed
        if self._uri_path is not None and not self._uri_path.fullmatch(f"{bucket}/{key}"):
            self.issues.error(
                line,
                code,
                f"{kind} uri after s3:// must match {self._uri_path.pattern} for {self.model_id} "
                "(letters, digits, _, -, / and . only)",
                path,
            )
        if not self.rules.media.same_bucket_as_dataset:
            return
        expected = self.dataset_bucket or self._first_media_bucket
        if expected is None:
            self._first_media_bucket = bucket
        elif bucket != expected:
            other = "the dataset's bucket" if self.dataset_bucket else "the first media object of this file"
            self.issues.error(
                line,
                codes.E_MEDIA_BUCKET,
                f"{kind} is in another bucket than {other}; {self.model_id} needs media in the dataset's bucket",
                path,
            )

    def _check_reasoning(self, value: Any, role: str | None, line: int, path: str) -> int:
        if not self.rules.reasoning_allowed:
            self.issues.error(line, codes.E_REASONING, f"{self.model_id} does not take reasoning content", path)
            return 0
        if role != ASSISTANT:
            self.issues.error(line, codes.E_REASONING, "reasoning content is allowed only in assistant messages", path)
        text = _dig(value, "reasoningText", "text")
        if type(text) is not str:
            self.issues.error(line, codes.E_FIELD_MISSING, "reasoningContent needs reasoningText.text (a string)", path)
            return 0
        if not text or text.isspace():
            self.issues.error(line, codes.E_CONTENT_EMPTY, "reasoning text is empty", f"{path}.reasoningText.text")
        self._check_keywords(text, role, line, f"{path}.reasoningText.text")
        return len(text)

    def _check_record_media(self, media: _RecordMedia, line: int) -> None:
        rules = self.rules.media
        for kind, count, limit in (
            ("images", media.images, rules.max_images_per_record),
            ("videos", media.videos, rules.max_videos_per_record),
        ):
            if limit is not None and count > limit:
                self.issues.error(
                    line,
                    codes.E_MEDIA_TOO_MANY,
                    f"record has {count} {kind}; {self.model_id} accepts at most {limit} per record",
                    "$.messages",
                )
        if not (media.images or media.videos):
            return
        self._media_records += 1
        kind = "video" if media.videos else "image"
        if media.images and media.videos:
            self.issues.error(
                line, codes.E_MEDIA_MIXED, "record mixes images and videos; a dataset holds one or the other", "$"
            )
        elif self._file_media_kind is None:
            self._file_media_kind = kind
        elif kind != self._file_media_kind:
            self.issues.error(
                line,
                codes.E_MEDIA_MIXED,
                f"record has {kind}s but earlier records have {self._file_media_kind}s; a dataset holds one or the "
                "other",
                "$",
            )


def _dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` through dicts only; None where the path breaks."""
    for key in keys:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value
