"""junit.xml: one test case per criterion, so any CI that reads JUnit shows which criterion failed.

FAIL is a <failure>; INCONCLUSIVE is an <error> when the criterion is required (the run is
inconclusive, exit 3) and <skipped> when it is not; WARN passes, with the warning in <system-out>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from runner.model import Result, RunRecord, Status
from runner.reports.atomic import write_atomic
from runner.reports.redact import redacted_record
from runner.reports.tables import observed_and_limit, verdict_line
from runner.timefmt import iso_utc

FILE_NAME = "junit.xml"
SUITE_NAME = "loadlens"
# XML 1.0 cannot carry most control characters at all, not even escaped; a reason quoting a
# server's response body might hold some.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(record: RunRecord) -> str:
    """The JUnit XML text of ``record``'s verdict (a <testsuites> holding one <testsuite>),
    credentials redacted."""
    record = redacted_record(record)
    verdict = record.verdict
    results = verdict.results
    failures = sum(r.status is Status.FAIL for r in results)
    errors = sum(r.status is Status.INCONCLUSIVE and r.required for r in results)
    skipped = sum(r.status is Status.INCONCLUSIVE and not r.required for r in results)
    counts = {
        "tests": str(len(results)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
    }
    duration_s = f"{max(0.0, record.run_end - record.run_start):.3f}"

    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts, "time": duration_s})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": SUITE_NAME, **counts, "time": duration_s, "timestamp": iso_utc(record.run_start)},
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", record.info.run_id),
        ("scenario", record.info.scenario),
        ("host", record.info.host),
        ("verdict", verdict.status.value),
        ("exit_code", str(verdict.exit_code)),
        ("interrupted", "true" if record.interrupted or verdict.interrupted else "false"),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
    for result in results:
        _testcase(suite, result)
    out = ET.SubElement(suite, "system-out")
    summary = ["verdict: " + verdict_line(verdict), *(f"note: {n}" for n in verdict.notes)]
    out.text = _clean("\n".join(summary))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(record: RunRecord, run_dir: Path) -> Path:
    """Write ``run_dir/junit.xml`` atomically (creating ``run_dir``); returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(run_dir / FILE_NAME, junit_xml(record))


def _testcase(suite: ET.Element, result: Result) -> None:
    attrs = {"classname": f"{SUITE_NAME}.{result.scope}", "name": _clean(result.name), "time": "0"}
    case = ET.SubElement(suite, "testcase", attrs)
    observed, limit = observed_and_limit(result)
    facts = f"{result.criterion}: observed {observed}, limit {limit}"
    reason = _clean(result.reason)
    if result.status is Status.FAIL:
        ET.SubElement(case, "failure", {"message": reason, "type": "fail"}).text = _clean(facts)
    elif result.status is Status.INCONCLUSIVE and result.required:
        ET.SubElement(case, "error", {"message": reason, "type": "inconclusive"}).text = _clean(facts)
    elif result.status is Status.INCONCLUSIVE:
        ET.SubElement(case, "skipped", {"message": reason})
    text = f"WARNING: {result.reason}\n{facts}" if result.status is Status.WARN else facts
    ET.SubElement(case, "system-out").text = _clean(text)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
