"""Where a baseline comes from and where a passing run publishes one.

``--baseline`` takes a run directory, ``latest`` (the newest run of the same scenario in
``--out`` whose verdict passed) or an S3 URL; ``--publish-baseline s3://…`` uploads a passing
run's summary.json there, so CI jobs on different machines share one baseline. An S3 URL names a
"directory": its summary is ``<url>/summary.json`` (a URL ending in ``.json`` names the object
itself). Local paths never touch AWS; S3 goes through boto3's standard chain (so
``AWS_ENDPOINT_URL`` points it at a stand-in) and runner.sources.aws's error translation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import BaselineError, LoadlensError, UsageError
from runner.model import RunRecord
from runner.reports.load import load_summary, record_from_dict

LATEST = "latest"
SUMMARY = "summary.json"
_PASSING = ("pass", "warn")  # exit code 0


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str  # of the summary.json object

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket/prefix`` -> the location of ``prefix/summary.json`` (UsageError when malformed)."""
    rest = url[len("s3://") :] if url.startswith("s3://") else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"not an S3 URL: {url!r} (expected s3://BUCKET/PREFIX)")
    prefix = prefix.strip("/")
    key = prefix if prefix.endswith(".json") else "/".join(p for p in (prefix, SUMMARY) if p)
    return S3Location(bucket, key)


def check_baseline_spec(spec: str) -> None:
    """Refuse a --baseline that can never work, before the run starts (exit 2)."""
    if spec == LATEST:
        return
    if spec.startswith("s3://"):
        parse_s3_url(spec)
        return
    path = Path(spec)
    if not (path / SUMMARY).is_file() and not (path.is_file() and path.suffix == ".json"):
        raise UsageError(f"--baseline {spec}: no {SUMMARY} there (a run directory, 'latest' or s3://...)")


def find_latest(out_dir: Path, scenario: str, *, exclude: Path | None = None) -> Path | None:
    """The newest run directory in ``out_dir`` of ``scenario`` whose verdict passed (exit 0)."""
    best: tuple[str, Path] | None = None
    if not out_dir.is_dir():
        return None
    for child in out_dir.iterdir():
        summary = child / SUMMARY
        if not summary.is_file() or (exclude is not None and child.resolve() == exclude.resolve()):
            continue
        try:
            doc = json.loads(summary.read_text(encoding="utf-8"))
            started = str(doc["window"]["run_start"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a readable summary: not a candidate
        if doc.get("scenario") != scenario or doc.get("verdict") not in _PASSING:
            continue
        if best is None or (started, child.name) > (best[0], best[1].name):
            best = (started, child)
    return None if best is None else best[1]


def load_baseline(
    spec: str,
    *,
    out_dir: Path,
    scenario: str,
    exclude: Path | None = None,
    aws_profile: str | None = None,
    aws_region: str | None = None,
) -> RunRecord | None:
    """The baseline run ``spec`` names; ``None`` when ``latest`` finds no passing run yet.
    Raises BaselineError (one line) when it cannot be read."""
    if spec == LATEST:
        found = find_latest(out_dir, scenario, exclude=exclude)
        return None if found is None else _load_local(found)
    if spec.startswith("s3://"):
        return fetch_s3(parse_s3_url(spec), aws_profile=aws_profile, aws_region=aws_region)
    return _load_local(Path(spec))


def _load_local(path: Path) -> RunRecord:
    try:
        return load_summary(path)
    except LoadlensError as exc:
        raise BaselineError(f"baseline: {exc}") from None


def fetch_s3(
    location: S3Location, *, aws_profile: str | None = None, aws_region: str | None = None
) -> RunRecord:
    api = _s3(aws_profile, aws_region)
    try:
        response = api.call("s3", "get_object", {"Bucket": location.bucket, "Key": location.key})
        body = response["Body"].read()
    except LoadlensError as exc:
        raise BaselineError(f"baseline {location.url}: {exc}") from None
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BaselineError(f"baseline {location.url} is not JSON: {exc}") from None
    try:
        return record_from_dict(doc, source=location.url)
    except LoadlensError as exc:
        raise BaselineError(str(exc)) from None


def publish_s3(
    summary: Path, url: str, *, aws_profile: str | None = None, aws_region: str | None = None
) -> S3Location:
    """Upload ``summary`` (a run's summary.json) to the S3 location ``url`` names."""
    location = parse_s3_url(url)
    api = _s3(aws_profile, aws_region)
    try:
        data = summary.read_bytes()
    except OSError as exc:
        raise BaselineError(f"cannot read {summary}: {exc.strerror or exc}") from None
    try:
        api.call(
            "s3",
            "put_object",
            {"Bucket": location.bucket, "Key": location.key, "Body": data, "ContentType": "application/json"},
        )
    except LoadlensError as exc:
        raise BaselineError(f"could not publish the baseline to {location.url}: {exc}") from None
    return location


def _s3(profile: str | None, region: str | None) -> Any:
    from runner.sources.aws import AwsApi, make_session

    session = make_session(profile=profile, region=region)
    if not session.region_name:  # S3 object calls work from any region; boto3 insists on one
        session = make_session(profile=profile, region="us-east-1")
    return AwsApi(session)
