"""The HTML run report in a real browser: Debian's chromium-headless-shell (`make test` installs it), driven through
its DevTools protocol over a websocket (a small client below, standard library only).

Each page is loaded from a file with JavaScript enabled, with JavaScript disabled, and with JavaScript enabled but the
page's Content-Security-Policy removed (escaping alone must hold), at a desktop and a phone size:

* the loss curves are SVG polylines with one point per CSV row in the DOM the browser built, and they have a box;
* markup in a smoke-test answer, a base-model answer, a prompt, a dataset error message and an error cause is text:
  no element is created from it and no payload runs (the title is unchanged, no element with id "pwned");
* the browser reports nothing: no console message, no exception, no log entry (a blocked script or fetch is one);
* on a phone the page is no wider than the screen; the screenshots are PNGs of the page, far from blank.

A control page proves the harness sees a script that runs, an element a payload adds and a console error, so these
tests fail when the report's escaping breaks. Without the browser the tests are skipped, except in CI (``CI`` set).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune.logic import html_report, outcome

CHROMIUM_NAME = "chromium-headless-shell"
DESKTOP, PHONE = (1280, 900), (390, 844)
TITLE = "bedrock-finetune"
# Each payload, if it ran, would change the title or add an element with id "pwned".
SCRIPT = "<script>document.title='pwned'</script>"
IMAGE = "<img src=x onerror=\"document.body.appendChild(document.createElement('mark')).id='pwned'\">"
ARN = "arn:aws:bedrock:us-east-1:123456789012"
TRAINING_ROWS, VALIDATION_ROWS, BUCKETS = 24, 4, 15
TRAINING_CSV = "step_number,epoch_number,training_loss,perplexity\n" + "".join(
    f"{step},{step // 8},{2.2 * 0.93**step:.4f},{2.0:.3f}\n" for step in range(TRAINING_ROWS)
)
VALIDATION_CSV = "step_number,epoch_number,validation_loss,perplexity\n" + "".join(
    f"{8 * (epoch + 1) - 1},{epoch},{1.9 - 0.2 * epoch:.4f},{3.0:.3f}\n" for epoch in range(VALIDATION_ROWS)
)
TIMEOUT = 15.0


def chromium() -> Path:
    found = shutil.which(CHROMIUM_NAME) or f"/usr/bin/{CHROMIUM_NAME}"
    if Path(found).exists():
        return Path(found)
    reason = f"{CHROMIUM_NAME} is not installed; `make chromium` (part of `make test`) installs it"
    if "CI" in os.environ:
        pytest.fail(f"{reason}. CI is set, so it must be there.")
    pytest.skip(reason)


# --- the pages --------------------------------------------------------------------------------------------------------
def succeeded_page() -> str:
    """A successful run compared with its base model that kept its deployment: every answer and a prompt carry a
    payload."""
    report = {
        "outcome": "SUCCEEDED",
        "runId": "support-chat-1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:stack-finetune:support-chat-1",
        "dataset": {"source": "s3://bucket/inbox/support-chat.jsonl", "finalUri": "s3://bucket/processed/x"},
        "baseModelId": "amazon.nova-micro-v1:0:128k",
        "model": {"arn": f"{ARN}:custom-model/m1"},
        "metrics": {
            "trainingLoss": 0.4,
            "validationLoss": 1.3,
            "trainingCsv": {"key": "outputs/support-chat-1/t.csv", "rows": TRAINING_ROWS},
            "validationCsv": {"key": "outputs/support-chat-1/v.csv", "rows": VALIDATION_ROWS},
        },
        "deployment": {"mode": "provisioned", "arn": f"{ARN}:provisioned-model/kept", "kept": True},
        "smokeTest": {"prompts": 2, "answered": 2, "medianLatencyMs": 20, "baseModelAnswered": 2},
    }
    smoke = {
        "results": [
            {"prompt": "Reset my password?", "answer": f"Sure {SCRIPT}", "baseAnswer": f"Base {IMAGE}", "latencyMs": 9},
            {"prompt": f"Question {IMAGE}", "answer": f"Answer {IMAGE}", "baseAnswer": f"Base {SCRIPT}"},
        ]
    }
    histogram = [{"low": 40 + 10 * i, "high": 49 + 10 * i, "records": 1 + (i * 7) % 11} for i in range(BUCKETS)]
    validation = {"token_histogram": histogram, "stats": {"tokens": {"p50": 80, "p95": 150, "max": 189}}}
    inputs = html_report.Inputs(
        training_csv=TRAINING_CSV, validation_csv=VALIDATION_CSV, validation=validation, smoke=smoke, history=[]
    )
    return html_report.render(report, inputs)


def rejected_page() -> str:
    """A rejected dataset whose error message and cause quote payloads, with a leftover to delete by hand."""
    arn = f"{ARN}:provisioned-model/left"
    report = {
        "outcome": "FAILED",
        "runId": "support-chat-2",
        "dataset": {"source": "s3://bucket/inbox/support-chat.jsonl", "finalUri": "s3://bucket/failed/y"},
        "error": {"error": "DatasetInvalid", "cause": f"1 error(s); inbox/x.jsonl:3 E_JSON {SCRIPT}"},
        "validation": {
            "valid": False,
            "errorCounts": {"E_JSON": 2},
            "errors": [
                {"file": "inbox/x.jsonl", "line": 3, "code": "E_JSON", "message": f"bad {SCRIPT}", "path": "$"},
                {"file": "inbox/x.jsonl", "line": 5, "code": "E_JSON", "message": f"bad {IMAGE}", "path": "$"},
            ],
        },
        "cleanup": {
            "complete": False,
            "actions": [],
            "problems": [],
            "leftovers": [
                {
                    "kind": "provisioned-throughput",
                    "arn": arn,
                    "state": "Creating",
                    "cost": outcome.COSTS["provisioned-throughput"],
                    "command": outcome.remove_command("provisioned-throughput", arn),
                    "reason": "still creating",
                }
            ],
        },
    }
    return html_report.render(report, html_report.Inputs())


CONTROL_PAGE = (
    f"<!DOCTYPE html><html><head><title>{TITLE}</title></head>"
    f"<body><p>text</p><script>console.error('boom')</script>{SCRIPT}{IMAGE}</body></html>"
)
BLANK_PAGE = "<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>"


# --- the DevTools protocol over a websocket (RFC 6455 client frames: masked, text) -----------------------------------
class DevTools:
    """One headless browser and one websocket to it; pages are targets attached in flat mode (``sessionId``)."""

    def __init__(self, binary: Path, folder: Path) -> None:
        self.log = folder / "chromium.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    "--headless",
                    "--disable-gpu",
                    "--no-sandbox",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--remote-debugging-port=0",
                    f"--user-data-dir={folder / 'profile'}",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                # Debian's binary is a shell script that starts the browser as its child: a group of its own, so
                # close() ends the browser too, not only the script
                start_new_session=True,
            )
        try:
            self.socket = self._connect(self._endpoint())
        except BaseException:
            self._end()
            raise
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _endpoint(self) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"DevTools listening on (ws://\S+)", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"chromium did not start: {self.log.read_text(errors='replace')[-2000:]}")

    @staticmethod
    def _connect(url: str) -> socket.socket:
        host_port, path = url.removeprefix("ws://").split("/", 1)
        host, port = host_port.rsplit(":", 1)
        connection = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        connection.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                raise RuntimeError("the DevTools websocket closed during the handshake")
            answer += chunk
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"no websocket: {answer[:200]!r}")
        return connection

    def _send_frame(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])  # FIN, text
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = secrets.token_bytes(4)
        header += mask
        self.socket.sendall(bytes(header) + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload)))

    def _exactly(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.socket.recv(count - len(data))
            if not chunk:
                raise RuntimeError("the DevTools websocket closed")
            data += chunk
        return bytes(data)

    def _receive(self) -> dict[str, Any]:
        message = bytearray()
        while True:
            first, second = self._exactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self._exactly(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self._exactly(8))
            payload = self._exactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise RuntimeError("the browser closed the DevTools websocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return dict(json.loads(message))

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        command: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        self._send_frame(json.dumps(command))
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})
            self.events.append(message)

    def wait_for(self, method: str, session: str) -> None:
        for seen in self.events:
            if seen.get("method") == method and seen.get("sessionId") == session:
                return
        while True:
            message = self._receive()
            self.events.append(message)
            if message.get("method") == method and message.get("sessionId") == session:
                return

    def close(self) -> None:
        self.socket.close()
        self._end()

    def _end(self) -> None:
        """End the browser: every process of the group this class started (the script, the browser, its helpers)."""
        group = self.process.pid  # start_new_session: the script leads its own group
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(group):
                time.sleep(0.05)
            if not _group_alive(group):
                break
        self.process.wait(timeout=5)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Load:
    """One page as the browser built it: the DOM, what the browser reported, layout facts and a screenshot."""

    dom: str
    reported: list[str]  # console messages, exceptions and log entries
    content_width: float
    boxes: dict[str, tuple[float, float]]  # polyline data-series → rendered width and height
    png: bytes


def load(tools: DevTools, page: Path, *, scripts: bool, size: tuple[int, int], mobile: bool = False) -> Load:
    target = tools.call("Target.createTarget", url="about:blank")["targetId"]
    session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    first_event = len(tools.events)
    for domain in ("Page", "Runtime", "Log", "DOM"):
        tools.call(f"{domain}.enable", session)
    tools.call("Emulation.setScriptExecutionDisabled", session, value=not scripts)
    width, height = size
    tools.call(
        "Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1, mobile=mobile
    )
    tools.call("Page.navigate", session, url=page.as_uri())
    tools.wait_for("Page.loadEventFired", session)
    root = tools.call("DOM.getDocument", session, depth=-1)["root"]["nodeId"]
    dom = tools.call("DOM.getOuterHTML", session, nodeId=root)["outerHTML"]
    boxes = {}
    for node in tools.call("DOM.querySelectorAll", session, nodeId=root, selector="polyline")["nodeIds"]:
        attributes = tools.call("DOM.getAttributes", session, nodeId=node)["attributes"]
        series = dict(zip(attributes[::2], attributes[1::2], strict=True))["data-series"]
        model = tools.call("DOM.getBoxModel", session, nodeId=node)["model"]
        boxes[series] = (float(model["width"]), float(model["height"]))
    content_width = float(tools.call("Page.getLayoutMetrics", session)["cssContentSize"]["width"])
    png = base64.b64decode(
        tools.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)["data"]
    )
    tools.call("Target.closeTarget", targetId=target)
    reported = [
        json.dumps(event["params"])[:500]
        for event in tools.events[first_event:]
        if event.get("sessionId") == session
        and event.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")
    ]
    return Load(dom=dom, reported=reported, content_width=content_width, boxes=boxes, png=png)


# --- what the browser built -------------------------------------------------------------------------------------------
@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


class Dom(HTMLParser):
    """The elements of a DOM as the browser serialized it, its title and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    @classmethod
    def of(cls, markup: str) -> Dom:
        parsed = cls()
        parsed.feed(markup)
        parsed.close()
        return parsed

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {key: value or "" for key, value in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)

    def tags(self, name: str) -> list[Element]:
        return [element for element in self.elements if element.tag == name]

    def ids(self) -> set[str]:
        return {element.attrs["id"] for element in self.elements if "id" in element.attrs}

    def joined_text(self) -> str:
        return "".join(self.text)


@dataclass
class Rendered:
    """One report page: scripts on and off (desktop), scripts on without its CSP, and on a phone."""

    scripts: Load
    no_scripts: Load
    no_csp: Load
    phone: Load

    def loads(self) -> list[Load]:
        return [self.scripts, self.no_scripts, self.no_csp, self.phone]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chromium")


@pytest.fixture(scope="module")
def tools(folder: Path) -> Iterator[DevTools]:
    browser = DevTools(chromium(), folder)
    try:
        yield browser
    finally:
        browser.close()


def render_in(tools: DevTools, folder: Path, markup: str, name: str) -> Rendered:
    page = folder / f"{name}.html"
    page.write_text(markup, encoding="utf-8")
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", markup)
    assert stripped != markup, "the page has no Content-Security-Policy"
    without_csp = folder / f"{name}-no-csp.html"
    without_csp.write_text(stripped, encoding="utf-8")
    rendered = Rendered(
        scripts=load(tools, page, scripts=True, size=DESKTOP),
        no_scripts=load(tools, page, scripts=False, size=DESKTOP),
        no_csp=load(tools, without_csp, scripts=True, size=DESKTOP),
        phone=load(tools, page, scripts=True, size=PHONE, mobile=True),
    )
    (folder / f"{name}-desktop.png").write_bytes(rendered.scripts.png)
    (folder / f"{name}-phone.png").write_bytes(rendered.phone.png)
    return rendered


@pytest.fixture(scope="module")
def succeeded(tools: DevTools, folder: Path) -> Rendered:
    return render_in(tools, folder, succeeded_page(), "succeeded")


@pytest.fixture(scope="module")
def rejected(tools: DevTools, folder: Path) -> Rendered:
    return render_in(tools, folder, rejected_page(), "rejected")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def polyline_points(dom: Dom) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in dom.tags("polyline"):
        pairs = line.attrs["points"].split()
        assert all(re.fullmatch(r"-?[\d.]+,-?[\d.]+", pair) for pair in pairs), pairs
        found[line.attrs["data-series"]] = len(pairs)
    return found


def assert_nothing_ran(page: Load, payload_text: list[str]) -> None:
    dom = Dom.of(page.dom)
    # No element came from a payload, nothing changed the title, and the payloads are there as text
    assert dom.tags("script") == []
    assert dom.tags("img") == []
    assert dom.tags("mark") == []
    assert "pwned" not in dom.ids()
    assert dom.title.startswith(TITLE), dom.title
    text = dom.joined_text()
    for payload in payload_text:
        assert payload in text, payload
    # And the browser reported nothing (a blocked script or image, an error: each would be reported)
    assert page.reported == []


# --- the tests --------------------------------------------------------------------------------------------------------
def test_the_harness_sees_a_payload_that_runs_and_a_console_error(tools: DevTools, folder: Path) -> None:
    # Given a page that really contains the payloads as markup (no escaping, no CSP)
    page = folder / "control.html"
    page.write_text(CONTROL_PAGE)

    # When loaded with scripts and without
    ran = load(tools, page, scripts=True, size=DESKTOP)
    blocked = load(tools, page, scripts=False, size=DESKTOP)

    # Then with scripts the title changed, the element was added and the console spoke; without, none of that
    assert Dom.of(ran.dom).title == "pwned"
    assert "pwned" in Dom.of(ran.dom).ids()
    assert any("boom" in line for line in ran.reported)
    assert Dom.of(blocked.dom).title == TITLE
    assert "pwned" not in Dom.of(blocked.dom).ids()


def test_the_loss_curves_have_one_point_per_csv_row_and_are_drawn(succeeded: Rendered) -> None:
    for page in succeeded.loads():
        dom = Dom.of(page.dom)
        assert polyline_points(dom) == {"training": TRAINING_ROWS, "validation": VALIDATION_ROWS}
        assert len([rect for rect in dom.tags("rect") if rect.attrs.get("class") == "bar"]) == BUCKETS
        assert {"loss-chart", "token-histogram"} <= dom.ids()
        # (laid out with a real size: a curve of one point, or an empty chart, has no width)
        assert all(width > 100 and height > 20 for width, height in page.boxes.values()), page.boxes


def test_payloads_in_model_answers_and_prompts_are_text_and_never_run(succeeded: Rendered) -> None:
    texts = [f"Sure {SCRIPT}", f"Base {IMAGE}", f"Question {IMAGE}", f"Answer {IMAGE}", f"Base {SCRIPT}"]
    for page in succeeded.loads():
        assert_nothing_ran(page, texts)


def test_payloads_in_a_dataset_error_message_and_cause_are_text_and_never_run(rejected: Rendered) -> None:
    texts = [f"bad {SCRIPT}", f"bad {IMAGE}", f"E_JSON {SCRIPT}"]
    for page in rejected.loads():
        assert_nothing_ran(page, texts)
    # And the leftover's red box with its delete command is there
    dom = Dom.of(rejected.scripts.dom)
    assert "leftovers" in dom.ids()
    assert "aws bedrock delete-provisioned-model-throughput" in dom.joined_text()


def test_on_a_phone_the_page_is_no_wider_than_the_screen(succeeded: Rendered, rejected: Rendered) -> None:
    for rendered in (succeeded, rejected):
        assert rendered.phone.content_width <= PHONE[0]
        assert png_size(rendered.phone.png)[0] == PHONE[0]


def test_the_screenshots_are_pngs_of_the_page_and_far_from_blank(
    tools: DevTools, folder: Path, succeeded: Rendered, rejected: Rendered
) -> None:
    blank = folder / "blank.html"
    blank.write_text(BLANK_PAGE)
    empty = load(tools, blank, scripts=True, size=DESKTOP).png

    for rendered in (succeeded, rejected):
        for page, (width, height) in ((rendered.scripts, DESKTOP), (rendered.phone, PHONE)):
            shot_width, shot_height = png_size(page.png)
            assert shot_width == width
            assert shot_height >= height
            assert len(page.png) > 20_000
            assert len(page.png) > 3 * len(empty)
    assert (folder / "succeeded-desktop.png").stat().st_size == len(succeeded.scripts.png)
