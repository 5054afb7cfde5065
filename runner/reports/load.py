"""Read a run back from its summary.json, for ``loadlens verdict RUN_DIR`` and the reports.

Fields this version does not know are ignored (additive changes keep schema_version); a missing or
mistyped field, another schema_version or a histogram of another layout is refused with one line
naming the file and the field. Numbers are kept as the JSON gave them (an int stays an int), so
writing a summary that was read gives back the same text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.errors import RunDirError
from runner.model import RunRecord
from runner.reports.fields import FieldError
from runner.reports.summary_json import FILE_NAME, READ_VERSIONS, SCHEMA_VERSION, document_record


def load_summary(run_dir_or_file: Path) -> RunRecord:
    """The RunRecord a summary.json describes; ``run_dir_or_file`` is a run directory or the file.

    Raises RunDirError (one line) when the path is missing, holds no summary.json, is not JSON,
    is not a loadlens summary, or has a schema_version this loadlens does not read.
    """
    path = Path(run_dir_or_file)
    if path.is_dir():
        path = path / FILE_NAME
        if not path.is_file():
            raise RunDirError(f"{path.parent} holds no {FILE_NAME}: not a loadlens run directory")
    elif not path.exists():
        raise RunDirError(f"{path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RunDirError(f"{path} is not JSON: not UTF-8 text") from err
    except OSError as err:
        raise RunDirError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not JSON: {err.msg} at line {err.lineno}") from err
    return record_from_dict(doc, source=str(path))


def record_from_dict(doc: Any, *, source: str = "summary") -> RunRecord:
    """Rebuild a RunRecord from a parsed summary document (``source`` names it in errors)."""
    if not isinstance(doc, dict) or "schema_version" not in doc or "run_id" not in doc:
        raise RunDirError(f"{source} is not a loadlens summary (no schema_version and run_id)")
    version = doc["schema_version"]
    if version not in READ_VERSIONS or isinstance(version, bool):
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise RunDirError(
            f"{source} has schema_version {version!r}{' (written by a newer loadlens)' if newer else ''};"
            f" this loadlens reads schema_version {', '.join(map(str, sorted(READ_VERSIONS)))}"
        )
    try:
        return document_record(doc)
    except FieldError as err:
        raise RunDirError(f"{source} is not a valid loadlens summary: {err}") from err
