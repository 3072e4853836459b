"""Per-format record rules: each test breaks one rule and asserts its code, line and JSON path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import (
    CLAUDE,
    COHERE,
    LLAMA_32_1B,
    LLAMA_32_11B,
    NOVA_2_LITE,
    NOVA_LITE,
    NOVA_MICRO,
    TITAN_EMBEDDINGS,
    TITAN_EXPRESS,
    TITAN_IMAGE_V1,
    Records,
    Validate,
)

from bedrock_finetune.validation import Issue, ValidationReport

Where = tuple[str, int | None, str | None]


def issues_of(report: ValidationReport, *, warnings: bool = False) -> list[Where]:
    listed: list[Issue] = report.warnings if warnings else report.errors
    return [(issue.code, issue.line, issue.path) for issue in listed]


def with_record(build: Callable[[int], dict[str, Any]], count: int, bad: Any, at: int = 3) -> list[Any]:
    """``count`` valid records with ``bad`` replacing record number ``at`` (1-based line)."""
    lines: list[Any] = [build(index) for index in range(count)]
    lines[at - 1] = bad
    return lines


def claude(bad: Any) -> list[Any]:
    return with_record(Records.claude, 40, bad)


def converse(bad: Any, count: int = 120) -> list[Any]:
    return with_record(Records.converse, count, bad)


def user(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


def assistant(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(content)}


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def media(kind: str, media_format: str, uri: str) -> dict[str, Any]:
    return {kind: {"format": media_format, "source": {"s3Location": {"uri": uri}}}}


VIDEO = media("video", "mp4", "s3://example-bucket/v.mp4")
TOOL_USE = {"toolUse": {"toolUseId": "t", "name": "n", "input": {}}}
REASONING = {"reasoningContent": {"reasoningText": {"text": "Because the order shipped."}}}


# --- Claude --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "id": 1},
            [("E_FIELD_UNKNOWN", 3, "$")],
            id="unknown-top-field",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "q", "name": "x"}, {"role": "assistant", "content": "a"}]},
            [("E_FIELD_UNKNOWN", 3, "$.messages[0]")],
            id="unknown-message-field",
        ),
        pytest.param(
            {"system": ["s"], "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
            [("E_FIELD_TYPE", 3, "$.system")],
            id="system-not-string",
        ),
        pytest.param({"system": "s"}, [("E_FIELD_MISSING", 3, "$")], id="messages-missing"),
        pytest.param({"messages": {"role": "user"}}, [("E_FIELD_TYPE", 3, "$.messages")], id="messages-not-list"),
        pytest.param(
            {"messages": [{"role": "human", "content": "q"}, {"role": "assistant", "content": "a"}]},
            [("E_ROLE_INVALID", 3, "$.messages[0].role")],
            id="role-invalid",
        ),
        pytest.param(
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
            [("E_ROLE_FIRST", 3, "$.messages[0].role"), ("E_ROLE_LAST", 3, "$.messages[1].role")],
            id="roles-reversed",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "user", "content": "q2"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            [("E_ROLE_ALTERNATION", 3, "$.messages[1].role")],
            id="roles-do-not-alternate",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "q"}]},
            [("E_MESSAGES_TOO_FEW", 3, "$.messages"), ("E_ROLE_LAST", 3, "$.messages[0].role")],
            id="one-message",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": " \n"}, {"role": "assistant", "content": "a"}]},
            [("E_CONTENT_EMPTY", 3, "$.messages[0].content")],
            id="blank-content",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "q"}]},
                    {"role": "assistant", "content": "a"},
                ]
            },
            [("E_FIELD_TYPE", 3, "$.messages[0].content")],
            id="content-not-string",
        ),
        pytest.param(
            {"messages": [{"content": "q"}, {"role": "assistant"}]},
            [("E_FIELD_MISSING", 3, "$.messages[0]"), ("E_FIELD_MISSING", 3, "$.messages[1]")],
            id="role-and-content-missing",
        ),
        pytest.param(
            {"messages": ["q", {"role": "assistant", "content": "a"}]},
            [("E_FIELD_TYPE", 3, "$.messages[0]")],
            id="message-not-object",
        ),
    ],
)
def test_claude_rules(validate: Validate, record: dict[str, Any], expected: list[Where]) -> None:
    # Given 40 valid Claude records with one broken on line 3 / When validated / Then exactly the expected errors
    assert issues_of(validate(claude(record), CLAUDE)) == expected


def test_claude_accepts_multi_turn_and_no_system(validate: Validate) -> None:
    # Given multi-turn records, some without a system prompt
    lines = [Records.claude(index, exchanges=1 + index % 3) for index in range(40)]
    for record in lines[::2]:
        del record["system"]

    # When validated / Then valid, and the turn statistics count the messages
    report = validate(lines, CLAUDE)
    assert report.valid, report.errors
    assert report.stats.turns is not None
    assert (report.stats.turns.min, report.stats.turns.max) == (2, 6)


# --- converse (Nova, Llama 3.2/3.3) ---------------------------------------------------------------------------------
def test_converse_role_rules(validate: Validate) -> None:
    # Given records with an assistant first, a user last, a system role in messages and a repeated role
    lines = converse(None, count=120)
    lines[2] = {"messages": [assistant(text("a")), user(text("q")), assistant(text("a"))]}
    lines[4] = {"messages": [user(text("q")), assistant(text("a")), user(text("q"))]}
    lines[6] = {"messages": [{"role": "system", "content": [text("s")]}, user(text("q")), assistant(text("a"))]}
    lines[8] = {"messages": [user(text("q")), user(text("q")), assistant(text("a"))]}

    # When validated for Nova Micro / Then each rule is reported where it breaks
    assert issues_of(validate(lines, NOVA_MICRO)) == [
        ("E_ROLE_FIRST", 3, "$.messages[0].role"),
        ("E_ROLE_LAST", 5, "$.messages[2].role"),
        ("E_ROLE_INVALID", 7, "$.messages[0].role"),
        ("E_ROLE_ALTERNATION", 9, "$.messages[1].role"),
    ]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param({"schemaVersion": 1, "messages": [user(text("q")), assistant(text("a"))]},
                     [("E_FIELD_TYPE", 3, "$.schemaVersion")], id="schema-version-type"),
        pytest.param({"system": "s", "messages": [user(text("q")), assistant(text("a"))]},
                     [("E_FIELD_TYPE", 3, "$.system")], id="system-not-list"),
        pytest.param({"system": [{"text": "s", "x": 1}], "messages": [user(text("q")), assistant(text("a"))]},
                     [("E_CONTENT_BLOCK", 3, "$.system")], id="system-block-shape"),
        pytest.param({"messages": [{"role": "user", "content": "q"}, assistant(text("a"))]},
                     [("E_FIELD_TYPE", 3, "$.messages[0].content")], id="content-not-list"),
        pytest.param({"messages": [user(), assistant(text("a"))]},
                     [("E_CONTENT_EMPTY", 3, "$.messages[0].content")], id="content-empty-list"),
        pytest.param({"messages": [user(text("q")), assistant(text(""))]},
                     [("E_CONTENT_EMPTY", 3, "$.messages[1].content")], id="empty-text"),
        pytest.param({"messages": [user(text("q")), assistant(TOOL_USE)]},
                     [("E_CONTENT_BLOCK", 3, "$.messages[1].content[0].toolUse")], id="tool-use"),
        pytest.param({"messages": [user({"text": "q", "image": {}}), assistant(text("a"))]},
                     [("E_CONTENT_BLOCK", 3, "$.messages[0].content[0]")], id="two-kinds-in-one-block"),
        pytest.param({"messages": [user({"text": 5}), assistant(text("a"))]},
                     [("E_FIELD_TYPE", 3, "$.messages[0].content[0].text")], id="text-not-string"),
        pytest.param({"toolConfig": {}, "messages": [user(text("q")), assistant(text("a"))]},
                     [("E_FIELD_UNKNOWN", 3, "$.toolConfig")], id="tool-config"),
        pytest.param({"messages": [user(text("q")), assistant(REASONING, text("a"))]},
                     [("E_REASONING", 3, "$.messages[1].content[0].reasoningContent")], id="reasoning-on-nova-1"),
    ],
)  # fmt: skip
def test_converse_structure_rules(validate: Validate, record: dict[str, Any], expected: list[Where]) -> None:
    # Given 120 valid Nova Lite records with one broken on line 3 / When validated / Then exactly the expected errors
    assert issues_of(validate(converse(record), NOVA_LITE)) == expected


# Changed (issue 11): "bot:" and "ASSISTANT:" were errors here; case variants are now W_RESERVED_KEYWORD_CASE (see
# test_nova_reserved_keyword_case_variants_are_warnings). Only the keywords as the docs write them remain errors.
@pytest.mark.parametrize(
    "keyword", ["User:", "Bot:", "Assistant:", "System:", "Thought:", "[EOS]", "<image>", "<video>", "<unk>"]
)
def test_nova_reserved_keywords_in_prompts_are_errors(validate: Validate, keyword: str) -> None:
    # Given a user prompt and a system prompt containing a reserved keyword, as written in the Nova guide (reference
    # 2.5 "Nova understanding models": "If any of these appears anywhere in a user or system prompt, the job fails")
    record = {
        "system": [text(f"Rules {keyword} apply")],
        "messages": [user(text(f"Say {keyword} now")), assistant(text("ok"))],
    }

    # When validated for Nova Micro
    report = validate(converse(record), NOVA_MICRO)

    # Then both are E_RESERVED_KEYWORD, and the message names our keyword, not the text around it
    assert issues_of(report) == [
        ("E_RESERVED_KEYWORD", 3, "$.system[0].text"),
        ("E_RESERVED_KEYWORD", 3, "$.messages[0].content[0].text"),
    ]
    assert "Rules" not in report.errors[0].message
    assert "Say" not in report.errors[1].message


def test_nova_reserved_keywords_in_answers_are_warnings(validate: Validate) -> None:
    # Given an assistant answer containing 'Thought:'
    record = {"messages": [user(text("q")), assistant(text("Thought: fine"))]}

    # When validated / Then a warning only, naming the keyword
    report = validate(converse(record), NOVA_MICRO)
    assert report.valid
    assert issues_of(report, warnings=True) == [("W_RESERVED_KEYWORD", 3, "$.messages[1].content[0].text")]
    assert "'Thought:'" in report.warnings[0].message


@pytest.mark.parametrize("variant", ["user:", "BOT:", "assistant:", "system:", "thought:", "[eos]", "<IMAGE>", "<Unk>"])
def test_nova_reserved_keyword_case_variants_are_warnings(validate: Validate, variant: str) -> None:
    # The Nova guide lists the reserved keywords as `User:`, `Bot:`, `Assistant:`, `System:`, `<image>`, `<video>`,
    # `[EOS]` (bedrock-reference.md 2.5 "Nova understanding models", source
    # https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html) and is silent on
    # other letter cases; only AWS's sample validator ignores case. So a variant ("note for user:") is a warning.
    # Given a system prompt, a user prompt and an answer each containing a variant
    record = {
        "system": [text(f"Rules {variant} apply")],
        "messages": [user(text(f"Note for {variant} hi")), assistant(text(f"Reply {variant} ok"))],
    }

    # When validated for Nova Micro
    report = validate(converse(record), NOVA_MICRO)

    # Then the dataset is valid, with one W_RESERVED_KEYWORD_CASE per text naming our keyword, not the user's text
    assert report.valid
    assert issues_of(report, warnings=True) == [
        ("W_RESERVED_KEYWORD_CASE", 3, "$.system[0].text"),
        ("W_RESERVED_KEYWORD_CASE", 3, "$.messages[0].content[0].text"),
        ("W_RESERVED_KEYWORD_CASE", 3, "$.messages[1].content[0].text"),
    ]
    assert all("Rules" not in w.message and "Note" not in w.message for w in report.warnings)
    assert [w.message.split(" text contains", 1)[0] for w in report.warnings] == ["system", "user", "assistant"]


def test_nova_reserved_keyword_as_written_wins_over_an_earlier_case_variant(validate: Validate) -> None:
    # Given a prompt with a variant first and the keyword as written later ("anywhere in a user or system prompt",
    # bedrock-reference.md 2.5) / When validated / Then the error, and no case warning for the same text
    record = {"messages": [user(text("user: then User: again")), assistant(text("ok"))]}
    report = validate(converse(record), NOVA_MICRO)
    assert issues_of(report) == [("E_RESERVED_KEYWORD", 3, "$.messages[0].content[0].text")]
    assert "'User:'" in report.errors[0].message
    assert not report.warnings


def test_reserved_keywords_do_not_apply_to_llama(validate: Validate) -> None:
    # Given the same prompt for Llama 3.2 / When validated / Then no keyword issue (the rule is Nova's)
    record = {"messages": [user(text("User: hello")), assistant(text("hi"))]}
    assert validate(with_record(Records.converse, 100, record), LLAMA_32_1B).valid


def test_llama_accepts_one_system_block_only(validate: Validate) -> None:
    # Given a Llama record with two system blocks / When validated / Then E_SYSTEM_BLOCKS
    record = {"system": [text("a"), text("b")], "messages": [user(text("q")), assistant(text("a"))]}
    assert issues_of(validate(with_record(Records.converse, 100, record), LLAMA_32_1B)) == [
        ("E_SYSTEM_BLOCKS", 3, "$.system")
    ]


# --- media --------------------------------------------------------------------------------------------------------
def media_record(*user_blocks: dict[str, Any], answer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"messages": [user(*user_blocks, text("What is this?")), answer or assistant(text("A kettle."))]}


@pytest.mark.parametrize(
    ("model_id", "record", "expected"),
    [
        pytest.param(NOVA_MICRO, media_record(Records.image()),
                     [("E_MEDIA_NOT_SUPPORTED", 3, "$.messages[0].content[0].image")], id="micro-is-text-only"),
        pytest.param(LLAMA_32_1B, media_record(Records.image()),
                     [("E_MEDIA_NOT_SUPPORTED", 3, "$.messages[0].content[0].image")], id="llama-1b-is-text-only"),
        pytest.param(NOVA_LITE, media_record(media("image", "bmp", "s3://example-bucket/a.bmp")),
                     [("E_MEDIA_FORMAT", 3, "$.messages[0].content[0].image.format")], id="image-format"),
        pytest.param(NOVA_LITE, media_record(media("image", "png", "https://x/a.png")),
                     [("E_IMAGE_REF", 3, "$.messages[0].content[0].image.source.s3Location.uri")], id="not-s3"),
        pytest.param(NOVA_LITE, media_record(Records.image(key="my photos/a.png")),
                     [("E_IMAGE_REF", 3, "$.messages[0].content[0].image.source.s3Location.uri")], id="nova-key-chars"),
        pytest.param(NOVA_LITE, media_record({"image": {"format": "png"}}),
                     [("E_FIELD_MISSING", 3, "$.messages[0].content[0].image.source.s3Location.uri")], id="no-uri"),
        pytest.param(NOVA_LITE, media_record(answer=assistant(Records.image(), text("a"))),
                     [("E_MEDIA_ROLE", 3, "$.messages[1].content[0].image")], id="image-in-answer"),
        pytest.param(NOVA_LITE, media_record(*[Records.image()] * 11),
                     [("E_MEDIA_TOO_MANY", 3, "$.messages")], id="eleven-images"),
        pytest.param(NOVA_LITE, media_record(VIDEO, Records.image()),
                     [("E_MEDIA_MIXED", 3, "$")], id="video-and-image"),
        pytest.param(NOVA_LITE, media_record(VIDEO),
                     [], id="video-ok"),
        pytest.param(NOVA_LITE, media_record(media("video", "avi", "s3:/x")),
                     [("E_MEDIA_FORMAT", 3, "$.messages[0].content[0].video.format"),
                      ("E_VIDEO_REF", 3, "$.messages[0].content[0].video.source.s3Location.uri")], id="video-rules"),
        pytest.param(LLAMA_32_11B, media_record(Records.image(key="my photos/a.png")), [], id="llama-any-key"),
    ],
)  # fmt: skip
def test_media_rules(validate: Validate, model_id: str, record: dict[str, Any], expected: list[Where]) -> None:
    # Given valid records with one media record on line 3 / When validated / Then exactly the expected errors
    assert issues_of(validate(with_record(Records.converse, 120, record), model_id)) == expected


def test_a_dataset_holds_images_or_videos_not_both(validate: Validate) -> None:
    # Given an image record on line 3 and a video record on line 5
    lines = with_record(Records.converse, 120, media_record(Records.image()))
    lines[4] = media_record(VIDEO)

    # When validated for Nova Lite / Then E_MEDIA_MIXED on line 5
    assert issues_of(validate(lines, NOVA_LITE)) == [("E_MEDIA_MIXED", 5, "$")]


def test_nova_media_bucket_is_checked_against_an_s3_dataset(validate: Validate) -> None:
    # Given a dataset in s3://datasets-bucket with an image in another bucket on line 3
    lines = with_record(Records.converse, 120, media_record(Records.image(bucket="other-bucket")))
    lines[4] = media_record(Records.image(bucket="datasets-bucket"))

    # When validated / Then E_MEDIA_BUCKET on line 3 only
    report = validate(lines, NOVA_LITE, train_name="s3://datasets-bucket/inbox/train.jsonl")
    assert issues_of(report) == [("E_MEDIA_BUCKET", 3, "$.messages[0].content[0].image.source.s3Location.uri")]
    assert not report.warnings


def test_nova_media_bucket_locally_is_a_warning_unless_buckets_differ(validate: Validate) -> None:
    # Given a local dataset whose images are in two buckets (lines 3 and 5)
    lines = with_record(Records.converse, 120, media_record(Records.image(bucket="bucket-one")))
    lines[4] = media_record(Records.image(bucket="bucket-two"))

    # When validated locally
    report = validate(lines, NOVA_LITE)

    # Then the second bucket is an error (they cannot both be the dataset's), and one file-level warning remains
    assert issues_of(report) == [("E_MEDIA_BUCKET", 5, "$.messages[0].content[0].image.source.s3Location.uri")]
    assert issues_of(report, warnings=True) == [("W_MEDIA_BUCKET_UNCHECKED", None, None)]
    assert "2 records reference images or videos" in report.warnings[0].message


def test_nova_2_lite_takes_reasoning_in_answers_only(validate: Validate) -> None:
    # Changed (issue 11): line 7 (an image with text-only reasoning) was E_REASONING at $.messages; it is now valid,
    # see test_nova_2_lite_takes_text_reasoning_in_records_with_media.
    # Given Nova 2 Lite records: reasoning in an answer (fine), in a prompt, with an image (fine), and empty
    lines = with_record(Records.converse, 220, media_record(answer=assistant(REASONING, text("It shipped."))))
    lines[4] = media_record(REASONING)
    lines[6] = media_record(Records.image(), answer=assistant(REASONING, text("a")))
    lines[8] = media_record(answer=assistant({"reasoningContent": {"reasoningText": {}}}, text("a")))

    # When validated / Then lines 3 and 7 pass and the others break the reasoning rules
    assert issues_of(validate(lines, NOVA_2_LITE)) == [
        ("E_REASONING", 5, "$.messages[0].content[0].reasoningContent"),
        ("E_FIELD_MISSING", 9, "$.messages[1].content[0].reasoningContent"),
    ]


@pytest.mark.parametrize("user_media", [Records.image(), VIDEO], ids=["image", "video"])
def test_nova_2_lite_takes_text_reasoning_in_records_with_media(validate: Validate, user_media: dict[str, Any]) -> None:
    # The Nova 2 SFT page rules out multimodal reasoning *content*, not reasoning in multimodal records: "Only
    # `reasoningText` is supported" and "Multimodal reasoning content is not supported" (bedrock-reference.md 2.5
    # "Nova 2 Lite SFT", https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html).
    # Given Nova 2 Lite records that each pair a user image (or video) with a text-only reasoningText answer
    lines = [media_record(user_media, answer=assistant(REASONING, text(f"Answer {index}."))) for index in range(220)]

    # When validated / Then valid: no E_REASONING; the only warning is the local media-bucket notice
    report = validate(lines, NOVA_2_LITE)
    assert issues_of(report) == []
    assert issues_of(report, warnings=True) == [("W_MEDIA_BUCKET_UNCHECKED", None, None)]


def test_reasoning_with_media_is_still_refused_where_reasoning_is(validate: Validate) -> None:
    # Given the same image + reasoning record for Nova Lite (1.0: no reasoning_allowed in the catalog)
    record = media_record(Records.image(), answer=assistant(REASONING, text("a")))

    # When validated / Then the model's own rule still applies, once, at the block
    assert issues_of(validate(converse(record), NOVA_LITE)) == [
        ("E_REASONING", 3, "$.messages[1].content[0].reasoningContent")
    ]


# --- prompt-completion, CPT, image captions -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param({"prompt": "p"}, [("E_FIELD_MISSING", 3, "$")], id="completion-missing"),
        pytest.param({"prompt": 1, "completion": "c"}, [("E_FIELD_TYPE", 3, "$.prompt")], id="prompt-type"),
        pytest.param({"prompt": "p", "completion": ""}, [("E_CONTENT_EMPTY", 3, "$.completion")], id="empty"),
    ],
)
def test_prompt_completion_rules(validate: Validate, record: dict[str, Any], expected: list[Where]) -> None:
    # Given Titan Express records with one broken / When validated / Then exactly the expected errors
    assert issues_of(validate(with_record(Records.prompt_completion, 20, record), TITAN_EXPRESS)) == expected


def test_prompt_completion_extra_fields_are_ignored_with_a_warning(validate: Validate) -> None:
    # Given a record with an extra 'id' field / When validated for Cohere / Then valid, one warning at $
    report = validate(with_record(Records.prompt_completion, 20, {"prompt": "p", "completion": "c", "id": 7}), COHERE)
    assert report.valid
    assert issues_of(report, warnings=True) == [("W_FIELD_UNKNOWN", 3, "$")]


def test_continued_pre_training_takes_input_only(validate: Validate) -> None:
    # Given CPT records: one prompt-completion record, one with an extra field
    lines = with_record(Records.cpt, 20, {"prompt": "p", "completion": "c"})
    lines[4] = {"input": "text", "source": "web"}

    # When validated for Titan Express continued pre-training
    report = validate(lines, TITAN_EXPRESS, customization_type="CONTINUED_PRE_TRAINING")

    # Then the first lacks input (error) and both extra fields are warnings
    assert issues_of(report) == [("E_FIELD_MISSING", 3, "$")]
    assert issues_of(report, warnings=True) == [
        ("W_FIELD_UNKNOWN", 3, "$.prompt"),
        ("W_FIELD_UNKNOWN", 3, "$.completion"),
        ("W_FIELD_UNKNOWN", 5, "$.source"),
    ]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param({"image-ref": "s3://example-bucket/a.gif", "caption": "A kettle"},
                     [("E_IMAGE_REF", 3, "$['image-ref']")], id="gif-not-allowed"),
        pytest.param({"image-ref": "/local/a.png", "caption": "A kettle"},
                     [("E_IMAGE_REF", 3, "$['image-ref']")], id="not-s3"),
        pytest.param({"image-ref": "s3://example-bucket/a.JPG", "caption": "A kettle"}, [], id="jpg-is-jpeg"),
        pytest.param({"image-ref": "s3://example-bucket/a.webp", "caption": "A kettle"},
                     [("E_IMAGE_REF", 3, "$['image-ref']")], id="webp-not-allowed"),
        pytest.param({"image-ref": "s3://example-bucket/images/a", "caption": "A kettle"}, [], id="no-extension"),
        pytest.param({"image-ref": "s3://example-bucket/a.png", "caption": "ab"},
                     [("E_CAPTION_LENGTH", 3, "$.caption")], id="caption-too-short"),
        pytest.param({"image-ref": "s3://example-bucket/a.png", "caption": "x" * 1025},
                     [("E_CAPTION_LENGTH", 3, "$.caption")], id="caption-too-long"),
        pytest.param({"caption": "A kettle"}, [("E_FIELD_MISSING", 3, "$")], id="image-ref-missing"),
    ],
)  # fmt: skip
def test_image_caption_rules(validate: Validate, record: dict[str, Any], expected: list[Where]) -> None:
    # Given Titan Image Generator records with one broken / When validated / Then exactly the expected errors
    report = validate(
        with_record(Records.image_caption, 10, record), TITAN_IMAGE_V1, hyperparameters={"stepCount": "auto"}
    )
    assert issues_of(report) == expected


@pytest.mark.parametrize(
    ("key", "wording"),
    [
        ("images/photo-001", "no file extension"),
        ("images.v2/photo-001", "no file extension"),
        ("images/photo-001.txt", "an extension that names no image type"),
        ("images/photo-001.bin", "an extension that names no image type"),
    ],
)
def test_image_ref_without_an_image_extension_is_a_warning(validate: Validate, key: str, wording: str) -> None:
    # Titan Image Generator's rule is on the image, not its name: "Images must be JPEG or PNG" (bedrock-reference.md
    # 2.6 "Image generation and embeddings"); the docs say nothing of extensions. Without S3 access the object's
    # content type is unknown, so a missing, unknown or non-image extension only warns (a .txt too: no doc rule).
    # Given Titan Image Generator records with one such image-ref on line 3
    lines = with_record(
        Records.image_caption, 10, {"image-ref": f"s3://example-bucket/{key}", "caption": "A red kettle"}
    )

    # When validated
    report = validate(lines, TITAN_IMAGE_V1, hyperparameters={"stepCount": "auto"})

    # Then valid, with one W_IMAGE_REF_EXTENSION that does not echo the key
    assert report.valid
    assert issues_of(report, warnings=True) == [("W_IMAGE_REF_EXTENSION", 3, "$['image-ref']")]
    assert wording in report.warnings[0].message
    assert "photo-001" not in report.warnings[0].message


def test_embeddings_accept_an_empty_caption(validate: Validate) -> None:
    # Given Titan Multimodal Embeddings (caption 0 to 2,560 characters) / When a caption is empty / Then still valid
    lines = with_record(Records.image_caption, 1000, {"image-ref": "s3://example-bucket/x.png", "caption": ""})
    assert validate(lines, TITAN_EMBEDDINGS, hyperparameters={"epochCount": "auto"}).valid
