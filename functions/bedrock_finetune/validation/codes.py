"""Stable issue codes. ``E_`` codes make a dataset invalid; ``W_`` codes are warnings. Never rename one: users and
the workflow's notifications match on them."""

from __future__ import annotations

# --- lines and JSON ------------------------------------------------------------------------------------------------
E_UTF8 = "E_UTF8"
E_UTF8_BOM = "E_UTF8_BOM"
E_JSON = "E_JSON"
E_BLANK_LINE = "E_BLANK_LINE"
E_LINE_TOO_LONG = "E_LINE_TOO_LONG"
E_NOT_OBJECT = "E_NOT_OBJECT"
# --- fields --------------------------------------------------------------------------------------------------------
E_FIELD_MISSING = "E_FIELD_MISSING"
E_FIELD_TYPE = "E_FIELD_TYPE"
E_FIELD_UNKNOWN = "E_FIELD_UNKNOWN"
E_CONTENT_EMPTY = "E_CONTENT_EMPTY"
E_CONTENT_BLOCK = "E_CONTENT_BLOCK"
E_CAPTION_LENGTH = "E_CAPTION_LENGTH"
E_SYSTEM_BLOCKS = "E_SYSTEM_BLOCKS"
E_REASONING = "E_REASONING"
E_RESERVED_KEYWORD = "E_RESERVED_KEYWORD"
# --- conversation --------------------------------------------------------------------------------------------------
E_MESSAGES_TOO_FEW = "E_MESSAGES_TOO_FEW"
E_ROLE_INVALID = "E_ROLE_INVALID"
E_ROLE_FIRST = "E_ROLE_FIRST"
E_ROLE_LAST = "E_ROLE_LAST"
E_ROLE_ALTERNATION = "E_ROLE_ALTERNATION"
# --- media ---------------------------------------------------------------------------------------------------------
E_IMAGE_REF = "E_IMAGE_REF"
E_VIDEO_REF = "E_VIDEO_REF"
E_MEDIA_FORMAT = "E_MEDIA_FORMAT"
E_MEDIA_NOT_SUPPORTED = "E_MEDIA_NOT_SUPPORTED"
E_MEDIA_ROLE = "E_MEDIA_ROLE"
E_MEDIA_TOO_MANY = "E_MEDIA_TOO_MANY"
E_MEDIA_MIXED = "E_MEDIA_MIXED"
E_MEDIA_BUCKET = "E_MEDIA_BUCKET"
# --- tokens, counts, files, run ------------------------------------------------------------------------------------
E_TOKENS_OVER_LIMIT = "E_TOKENS_OVER_LIMIT"
E_RECORDS_TOO_FEW = "E_RECORDS_TOO_FEW"
E_RECORDS_TOO_MANY = "E_RECORDS_TOO_MANY"
E_FILE_TOO_LARGE = "E_FILE_TOO_LARGE"
E_FILE_NAME = "E_FILE_NAME"
E_VALIDATION_NOT_ALLOWED = "E_VALIDATION_NOT_ALLOWED"
E_HYPERPARAMETER = "E_HYPERPARAMETER"
# --- warnings ------------------------------------------------------------------------------------------------------
W_TOKENS_NEAR_LIMIT = "W_TOKENS_NEAR_LIMIT"
W_DUPLICATE_RECORD = "W_DUPLICATE_RECORD"
W_FEW_RECORDS = "W_FEW_RECORDS"
W_FIELD_UNKNOWN = "W_FIELD_UNKNOWN"
W_RESERVED_KEYWORD = "W_RESERVED_KEYWORD"
W_RESERVED_KEYWORD_CASE = "W_RESERVED_KEYWORD_CASE"
W_IMAGE_REF_EXTENSION = "W_IMAGE_REF_EXTENSION"
W_MEDIA_BUCKET_UNCHECKED = "W_MEDIA_BUCKET_UNCHECKED"

DESCRIPTIONS: dict[str, str] = {
    E_UTF8: "line is not valid UTF-8",
    E_UTF8_BOM: "file starts with a byte-order mark",
    E_JSON: "line is not valid JSON",
    E_BLANK_LINE: "blank line",
    E_LINE_TOO_LONG: "line longer than any model accepts",
    E_NOT_OBJECT: "line is not a JSON object",
    E_FIELD_MISSING: "required field missing",
    E_FIELD_TYPE: "field has the wrong type",
    E_FIELD_UNKNOWN: "field not allowed by the format",
    E_CONTENT_EMPTY: "empty content",
    E_CONTENT_BLOCK: "content block not supported",
    E_CAPTION_LENGTH: "caption length out of bounds",
    E_SYSTEM_BLOCKS: "too many system blocks",
    E_REASONING: "reasoning content not allowed here",
    E_RESERVED_KEYWORD: "reserved keyword in a prompt",
    E_MESSAGES_TOO_FEW: "too few messages",
    E_ROLE_INVALID: "role not allowed",
    E_ROLE_FIRST: "first message not from the user",
    E_ROLE_LAST: "last message not from the assistant",
    E_ROLE_ALTERNATION: "roles do not alternate",
    E_IMAGE_REF: "image reference malformed",
    E_VIDEO_REF: "video reference malformed",
    E_MEDIA_FORMAT: "media format not supported by the model",
    E_MEDIA_NOT_SUPPORTED: "model takes no images or videos",
    E_MEDIA_ROLE: "media outside a user message",
    E_MEDIA_TOO_MANY: "too many images or videos in a record",
    E_MEDIA_MIXED: "images and videos mixed in one dataset",
    E_MEDIA_BUCKET: "media outside the dataset's bucket",
    E_TOKENS_OVER_LIMIT: "record over the token limit (estimate)",
    E_RECORDS_TOO_FEW: "too few records",
    E_RECORDS_TOO_MANY: "too many records",
    E_FILE_TOO_LARGE: "file too large",
    E_FILE_NAME: "dataset location not accepted",
    E_VALIDATION_NOT_ALLOWED: "validation dataset not supported",
    E_HYPERPARAMETER: "hyperparameter invalid",
    W_TOKENS_NEAR_LIMIT: "record near the token limit (estimate)",
    W_DUPLICATE_RECORD: "duplicate record",
    W_FEW_RECORDS: "fewer records than AWS recommends",
    W_FIELD_UNKNOWN: "field ignored by the format",
    W_RESERVED_KEYWORD: "reserved keyword in an answer",
    W_RESERVED_KEYWORD_CASE: "reserved keyword in another letter case",
    W_IMAGE_REF_EXTENSION: "image type not known from the image-ref's extension",
    W_MEDIA_BUCKET_UNCHECKED: "media bucket not checked locally",
}
