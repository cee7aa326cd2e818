"""``junit.xml``: the run as test results, the shape CI test reporters read.

One ``<testsuite>`` (the workflow) inside ``<testsuites>``; a ``(run)`` testcase that fails when
the run does (whatever the reason); one ``<testcase>`` per step (nested
steps by their path) and one per gate, named ``<step> gate <gate name>``. A failed step or gate
holds a ``<failure message=... type=...>``; a skipped step holds ``<skipped message=...>``.
Warned gates pass, with the finding in ``<system-out>``; so does a failure the run tolerated
(``continue_on_error``, a group or for_each that met its threshold), its ``<system-out>``
starting ``failed, tolerated``: a reporter would show a passing run's tests as failed. The
items of a fan-out whose items are in ``items.jsonl`` (a big run) are grouped: one
``<step>[*] gate <gate name>`` testcase per gate, failed when any item's failed, saying how
many did and which first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from agnoctl.printable import clipped
from agnoctl.reports.model import (
    GateGroup,
    GateReport,
    ItemReport,
    RunReport,
    StepReport,
    last_checked,
)

_MAX_TEXT = 8_000  # failure bodies: enough to act on, small enough for CI annotations

# What XML 1.0 cannot carry, even escaped (its `Char` production): C0 controls but tab, newline
# and carriage return, the surrogates and U+FFFE/U+FFFF. One of them in a step's stderr, a
# model's reply or a gate's finding would make the whole file unreadable to every CI reporter.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: RunReport) -> str:
    suite = ET.Element(
        "testsuite",
        name=report.workflow.name,
        timestamp=_timestamp(report.started),
        time=_seconds(report.duration_ms),
    )
    properties = ET.SubElement(suite, "properties")
    for name, text in (("run_id", report.run_id), ("status", report.status)):
        ET.SubElement(properties, "property", name=name, value=text)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in _cases(report):
        suite.append(case)
        counts["tests"] += 1
        if case.find("failure") is not None:
            counts["failures"] += 1
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
    root = ET.Element("testsuites", name="agnoctl", time=suite.get("time", "0"))
    for key, count in counts.items():
        suite.set(key, str(count))
        root.set(key, str(count))
    root.append(suite)
    ET.indent(root)
    document = ET.tostring(root, encoding="unicode")
    # Dropped from the whole document, so no name, message or text can carry one.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _NOT_XML.sub("", document) + "\n"


def _cases(report: RunReport) -> Iterator[ET.Element]:
    classname = report.workflow.name
    yield _run_case(report, classname)
    for step, tolerated in report.tolerance():
        yield _step_case(step, classname, report.items_of(step), tolerated)
        # A failed item of a step that succeeded is one its threshold let through.
        items_tolerated = tolerated or step.status == "succeeded"
        if step.items_file is not None:
            yield from _grouped_gate_cases(
                step, report.tally(step).item_gates, classname, (items_tolerated, tolerated)
            )
            continue
        for label, gate in _gates(step):
            tolerance = tolerated if label == step.path else items_tolerated
            yield _gate_case(f"{label} gate {gate.name}", gate, classname, tolerance)


def _run_case(report: RunReport, classname: str) -> ET.Element:
    # A run can fail with every step green (a limit, a threshold, an output): CI must see red.
    case = ET.Element("testcase", classname=classname, name="(run)")
    case.set("time", _seconds(report.duration_ms))
    if report.status == "waiting":  # not a failure: try again later, once someone decides
        ET.SubElement(case, "skipped", message=_clip(report.reason))
    elif report.status != "passed":
        failure = ET.SubElement(case, "failure", message=_clip(report.reason), type=report.status)
        failure.text = _clip(report.reason)
    return case


def _step_case(
    step: StepReport, classname: str, items: Iterable[ItemReport], tolerated: bool
) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=step.path)
    case.set("time", _seconds(step.duration_ms))
    if step.status == "failed" and tolerated:
        _tolerated(case, _failure_text(step, items))
    elif step.status == "failed":
        message = step.error.message if step.error else "failed"
        kind = step.error.kind if step.error else "failed"
        failure = ET.SubElement(case, "failure", message=_clip(message), type=kind)
        failure.text = _clip(_failure_text(step, items))
    elif step.status == "skipped":
        ET.SubElement(case, "skipped", message=step.reason or "skipped")
    elif step.status == "waiting":
        ET.SubElement(case, "skipped", message="waiting for approval")
    elif step.status in ("pending", "running"):
        ET.SubElement(case, "skipped", message="not finished")
    return case


def _failure_text(step: StepReport, items: Iterable[ItemReport]) -> str:
    lines = [step.error.message if step.error else "failed"]
    length = 0
    for item in items:
        if length > _MAX_TEXT:
            break  # the rest would be clipped
        if item.status != "succeeded" and item.error is not None:
            lines.append(f"item {item.index}: {item.error.message}")
            length += len(lines[-1])
    if step.stderr:
        lines.append("stderr:\n" + step.stderr)
    return "\n".join(lines)


def _gates(step: StepReport) -> Iterator[tuple[str, GateReport]]:
    """The gates of the last checked attempt, per step or per item."""
    executions = [(f"{step.path}[{i.index}]", i.gates) for i in step.items or ()]
    executions.append((step.path, step.gates))
    for label, gates in executions:
        for gate in last_checked(gates):
            yield label, gate


def _grouped_gate_cases(
    step: StepReport,
    groups: dict[str, GateGroup],
    classname: str,
    tolerance: tuple[bool, bool],
) -> Iterator[ET.Element]:
    """``tolerance``: whether the run tolerated the failure of an item, and of the step."""
    items_tolerated, tolerated = tolerance
    for name, group in groups.items():
        case = ET.Element("testcase", classname=classname, name=f"{step.path}[*] gate {name}")
        case.set("time", "0")
        if group.failed and group.first is not None:
            index, finding = group.first
            message = (
                f"{group.failed} of {group.checked} items failed the gate; "
                f"first: item {index}: {finding or 'gate failed'}"
            )
            if items_tolerated:
                _tolerated(case, message)
            else:
                failure = ET.SubElement(case, "failure", message=_clip(message), type="gate_failed")
                failure.text = _clip(message)
        elif group.warned:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {group.warned} of {group.checked} items failed the gate"
        yield case
    for gate in last_checked(step.gates):
        yield _gate_case(f"{step.path} gate {gate.name}", gate, classname, tolerated)


def _gate_case(name: str, gate: GateReport, classname: str, tolerated: bool) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=name, time="0")
    if not gate.passed and gate.severity == "fail" and tolerated:
        _tolerated(case, gate.finding or "gate failed")
    elif not gate.passed and gate.severity == "fail":
        failure = ET.SubElement(
            case, "failure", message=_clip(gate.finding or "gate failed"), type="gate_failed"
        )
        failure.text = _clip(gate.finding or "gate failed")
    elif not gate.passed:
        out = ET.SubElement(case, "system-out")
        out.text = _clip(f"warning: {gate.finding}")
    return case


def _tolerated(case: ET.Element, text: str) -> None:
    out = ET.SubElement(case, "system-out")
    out.text = _clip(f"failed, tolerated: {text}")


def _timestamp(started: datetime) -> str:
    # The JUnit XSD's ISO8601_DATETIME_PATTERN: to the second, "timezone may not be specified"
    # (validating readers refuse fractions and offsets), so UTC, as every agnoctl time is.
    return started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(duration_ms: float | None) -> str:
    return f"{(duration_ms or 0.0) / 1000:.3f}"


def _clip(text: str) -> str:
    return clipped(text, _MAX_TEXT)
