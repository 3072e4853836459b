"""How the workflow hears a training job finish, measured on the local AWS's virtual clock (issue 11).

Three ways of waiting for the job, each run end to end on the sample (the real handlers, the local Bedrock, the
virtual clock), at job durations of 4 and 72 simulated hours:

* **callback** (what ships): one ``lambda:invoke.waitForTaskToken`` Task (AwaitJobEnd); Bedrock's job state change
  event resumes it through JobEvent; a fallback timeout (stack parameter JobEventFallbackSeconds, 3 h) re-enters it.
  Also measured with every event dropped (``--drop-events``): the fallback alone finds the end.
* **polling** (the design before it): the same stack with AwaitJobEnd replaced by the Wait → PollJob → Choice loop
  (60 s initial wait, a quarter of the elapsed time, capped at 900 s).
* **.sync** (``arn:aws:states:::bedrock:createModelCustomizationJob.sync``): Step Functions creates the job and
  waits inside one Task; its own polling is not billed as transitions, but Step Functions does not document how
  often it checks a Bedrock job, so its detection lag is not known in advance, and the job would be created by
  Step Functions directly instead of CreateCustomizationJob (no capacity queue, no idempotent names, no tags of the
  run's own checks). It is modelled here, not run: the Task counts one state for the whole wait, and the lag is
  whatever that undocumented interval is (the row shows the transitions of the callback run with its wait states
  replaced by that one Task, and a lag of "unknown").

Prints transitions (as Step Functions bills them) and detection lag (simulated seconds from the job's end to the
first state after it) per run, and the callback's ratios against polling from the same process.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "events" / "datasets" / "support-chat.jsonl"
HOUR = 3600
DURATIONS = (4 * HOUR, 72 * HOUR)
#: The wait for the job in the callback design, and what the .sync Task would replace.
CALLBACK_WAIT = ("AwaitJobEnd", "PollJob", "JobStatus")


def _polling_definition(cfn: dict[str, Any]) -> None:
    """The state machine as it was before the callback: JobCreated → PollJob → JobStatus → WaitForJob → PollJob."""
    machine = cfn["Resources"]["FineTuneStateMachine"]["Properties"]
    separator, lines = machine["DefinitionString"]["Fn::Join"]  # SAM's translation: the definition's lines joined
    definition = json.loads(separator.join(lines), object_pairs_hook=OrderedDict)
    states = definition["States"]
    states["JobCreated"]["Next"] = "PollJob"
    del states["AwaitJobEnd"]
    states["WaitForJob"] = {"Type": "Wait", "SecondsPath": "$.jobStatus.waitSeconds", "Next": "PollJob"}
    for rule in states["JobStatus"]["Choices"]:
        if rule["Next"] == "AwaitJobEnd":
            rule["Next"] = "WaitForJob"
    machine["DefinitionString"] = {"Fn::Join": ["\n", json.dumps(definition, indent=2).splitlines()]}


def measure(design: str, duration: float, **options: Any) -> dict[str, Any]:
    edit = _polling_definition if design == "polling" else None
    result = runner.run(runner.RunOptions(dataset=SAMPLE, job_duration_seconds=duration, template_edit=edit, **options))
    if result.status != "SUCCEEDED" or result.clock is None:
        raise SystemExit(f"{design} at {duration / HOUR:.0f} h: {result.status} {result.error}")
    waiting = sum(1 for state in result.states if state in (*CALLBACK_WAIT, "WaitForJob"))
    return {
        "transitions": result.clock.transitions,
        "waiting": waiting,
        "lag": result.clock.detection_lag_seconds,
        "wall": result.seconds,
    }


def main() -> int:
    rows: list[tuple[str, float, dict[str, Any]]] = []
    for duration in DURATIONS:
        rows.append(("polling", duration, measure("polling", duration)))
        rows.append(("callback", duration, measure("callback", duration)))
        callback = rows[-1][2]
        waiting = callback["waiting"]
        rows.append(
            (
                ".sync (modelled)",
                duration,
                {
                    **callback,
                    "transitions": callback["transitions"] - waiting + 1,
                    "waiting": 1,
                    "lag": None,
                    "wall": None,
                },
            )
        )
    dropped = measure("callback", 4 * HOUR, drop_events=True)
    rows.append(("callback, events dropped", 4 * HOUR, dropped))

    print("\nWaiting for the training job, on the virtual clock (simulated time; transitions as Step Functions bills)")
    header = (
        f"{'design':<26} {'job':>5} {'transitions':>12} {'of which waiting':>17} {'detection lag s':>16} {'wall s':>7}"
    )
    print(header)
    print("-" * len(header))
    for design, duration, row in rows:
        lag = "unknown" if row["lag"] is None else f"{row['lag']:.1f}"
        wall = "-" if row["wall"] is None else f"{row['wall']:.1f}"
        print(
            f"{design:<26} {duration / HOUR:>4.0f}h {row['transitions']:>12} {row['waiting']:>17} {lag:>16} {wall:>7}"
        )
    by = {(design, duration): row for design, duration, row in rows}
    failures = []
    for duration in DURATIONS:
        polling, callback = by[("polling", duration)], by[("callback", duration)]
        ratio = callback["transitions"] / polling["transitions"]
        print(
            f"{duration / HOUR:.0f} h job: callback/polling transitions {ratio:.2f}x, "
            f"detection lag {callback['lag']:.1f} s vs {polling['lag']:.1f} s"
        )
    four, seventy_two = by[("callback", 4 * HOUR)], by[("callback", 72 * HOUR)]
    checks = {
        "4 h job: whole execution <= 60 transitions": four["transitions"] <= 60,
        "4 h job: waiting <= 30 transitions": four["waiting"] <= 30,
        "4 h job: end acted on <= 60 s after it": four["lag"] <= 60,
        "72 h job: <= 30 transitions more than 4 h": seventy_two["transitions"] - four["transitions"] <= 30,
        "events dropped: lag <= the 3 h fallback": dropped["lag"] <= 3 * HOUR,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")
        if not ok:
            failures.append(name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
