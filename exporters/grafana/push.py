"""Pushing loadlens's folder and dashboards to Grafana (`loadlens grafana push`), idempotently.

The folder is found by a stable uid ("loadlens") and created when missing, renamed when its title
differs; each ``dashboards/*.json`` is posted to ``/api/dashboards/db`` (``overwrite``, the folder's
uid) unless Grafana already holds the same JSON (compared without ``id`` and ``version``) in that
folder, so a second push writes nothing. Before writing, the datasources the dashboards reference
are looked up; a missing one is a one-line warning (the push still succeeds: the datasource can be
added afterwards). Every failure (bad token, wrong URL, not a Grafana, an API error) is one line
and exit 2. The token comes from GRAFANA_TOKEN or a file, never from a flag's value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from exporters.grafana.api import HEALTH_REQUEST, translate_error
from runner.errors import GrafanaError, UsageError

FOLDER_UID = "loadlens"
DEFAULT_FOLDER = "loadlens"
URL_ENV = "GRAFANA_URL"
TIMEOUT_S = 10.0
PUSH_MESSAGE = "loadlens grafana push"
# Datasource uids that are Grafana's own, not something a user has to create.
BUILTIN_DATASOURCES = frozenset({"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --"})
_VOLATILE_KEYS = ("id", "version")  # Grafana assigns these; they never make a dashboard different


@dataclass(frozen=True, slots=True)
class DashboardFile:
    """A dashboard read from disk: its uid, title and JSON model."""

    path: Path
    uid: str
    title: str
    model: Mapping[str, Any]


@dataclass(frozen=True, slots=True, order=True)
class DatasourceNeed:
    """A datasource dashboards reference: ``ref`` (a uid or name), or any datasource of ``type``
    when ``ref`` is None (a datasource variable)."""

    type: str | None
    ref: str | None


@dataclass(frozen=True, slots=True)
class Pushed:
    """What push did with one dashboard: ``action`` is "created", "updated" or "unchanged"."""

    uid: str
    title: str
    action: str
    url: str


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """The folder's action ("created", "renamed", "unchanged"), each dashboard's, and warnings."""

    folder_action: str
    dashboards: tuple[Pushed, ...]
    warnings: tuple[str, ...]


def resolve_url(flag: str | None, *, configured: str | None, env: Mapping[str, str]) -> str:
    """The Grafana URL: the flag, else [grafana] url (or LOADLENS_GRAFANA_URL), else GRAFANA_URL."""
    from runner.config.rules import url

    for value, where in ((flag, "--url"), (configured, None), (env.get(URL_ENV, "").strip(), URL_ENV)):
        if not value:
            continue
        if where is None:
            return value  # already checked when the config was read
        try:
            return str(url().check(value))
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
    raise UsageError(f"no Grafana URL: pass --url URL, set [grafana] url in loadlens.toml, or set {URL_ENV}")


def default_dashboards_dir() -> Path:
    """The dashboards shipped with loadlens: ``runner/dashboards`` (package data), the source
    checkout's ``dashboards/`` (also an editable install), or ``<prefix>/share/loadlens/dashboards``."""
    root = Path(__file__).resolve().parents[2]
    candidates = (
        root / "runner" / "dashboards",
        root / "dashboards",
        Path(sys.prefix) / "share/loadlens/dashboards",
    )
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    raise UsageError("no bundled dashboards found: pass --dashboards DIR")


def load_dashboards(directory: Path) -> list[DashboardFile]:
    """Every ``*.json`` in ``directory`` (sorted), each a dashboard model with a uid and a title;
    an exported ``{"dashboard": {...}, "meta": ...}`` document is unwrapped."""
    if not directory.is_dir():
        raise UsageError(f"--dashboards: {directory} is not a directory")
    files = sorted(directory.glob("*.json"))
    if not files:
        raise UsageError(f"--dashboards: no *.json dashboards in {directory}")
    loaded: list[DashboardFile] = []
    seen: dict[str, Path] = {}
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a readable JSON dashboard: {exc}") from None
        if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict):
            doc = doc["dashboard"]
        if not isinstance(doc, dict):
            raise UsageError(f"{path}: a dashboard must be a JSON object")
        uid, title = doc.get("uid"), doc.get("title")
        if not isinstance(uid, str) or not uid.strip():
            raise UsageError(f"{path}: the dashboard has no uid (a fixed uid is what makes push idempotent)")
        if not isinstance(title, str) or not title.strip():
            raise UsageError(f"{path}: the dashboard has no title")
        if uid in seen:
            raise UsageError(f"{path}: uid {uid!r} is also used by {seen[uid]}")
        seen[uid] = path
        loaded.append(DashboardFile(path=path, uid=uid, title=title, model=doc))
    return loaded


def push(
    api: Any,
    dashboards: Sequence[DashboardFile],
    *,
    base_url: str,
    folder_title: str,
    folder_uid: str = FOLDER_UID,
    token: str | None = None,
    timeout_s: float = TIMEOUT_S,
) -> PushOutcome:
    """Check that ``api`` (a grafana-client ``GrafanaApi``) reaches a Grafana and the token is
    accepted, check the datasources, then create or update the folder and the dashboards."""
    call = _Caller(url=base_url, token=token, timeout_s=timeout_s)
    health = call(HEALTH_REQUEST, api.health.check)
    if not isinstance(health, dict) or "database" not in health:
        raise GrafanaError(
            f"{_plain(base_url)} is not a Grafana ({HEALTH_REQUEST} did not answer Grafana's health "
            "document): check the URL"
        )
    folder = call.optional(f"GET /api/folders/{folder_uid}", api.folder.get_folder, folder_uid)
    warnings = tuple(_datasource_warnings(call, api, dashboards))
    if folder is None:
        call("POST /api/folders", api.folder.create_folder, folder_title, uid=folder_uid)
        folder_action = "created"
    elif folder.get("title") != folder_title:
        call(
            f"PUT /api/folders/{folder_uid}",
            api.folder.update_folder,
            folder_uid,
            title=folder_title,
            overwrite=True,
        )
        folder_action = "renamed"
    else:
        folder_action = "unchanged"
    pushed = []
    for dashboard in dashboards:
        current = call.optional(
            f"GET /api/dashboards/uid/{dashboard.uid}", api.dashboard.get_dashboard, dashboard.uid
        )
        if current is not None and _same(current, dashboard, folder_uid):
            action = "unchanged"
        else:
            body = {
                "dashboard": {**_comparable(dashboard.model), "id": None},
                "folderUid": folder_uid,
                "overwrite": True,
                "message": PUSH_MESSAGE,
            }
            call("POST /api/dashboards/db", api.dashboard.update_dashboard, body)
            action = "created" if current is None else "updated"
        pushed.append(Pushed(dashboard.uid, dashboard.title, action, dashboard_url(base_url, dashboard.uid)))
    return PushOutcome(folder_action=folder_action, dashboards=tuple(pushed), warnings=warnings)


def dashboard_url(base_url: str, uid: str) -> str:
    """``<grafana>/d/<uid>`` (Grafana redirects it to the dashboard), without credentials or query."""
    return f"{_plain(base_url)}/d/{quote(uid, safe='')}"


def required_datasources(model: Mapping[str, Any]) -> set[DatasourceNeed]:
    """The datasources a dashboard model references: literal uids or names, and for datasource
    variables (``${ds}``, ``type: datasource``) any datasource of the variable's plugin type."""
    templating = model.get("templating")
    variables = templating.get("list") if isinstance(templating, dict) else None
    ds_vars: dict[str, str] = {}
    for var in variables if isinstance(variables, list) else ():
        if isinstance(var, dict) and var.get("type") == "datasource" and isinstance(var.get("query"), str):
            ds_vars[str(var.get("name"))] = var["query"]
    needs = {DatasourceNeed(plugin, None) for plugin in ds_vars.values()}
    for ref in _datasource_refs(model):
        needs.update(_need(ref, ds_vars))
    return needs


def missing_datasources(
    dashboards: Iterable[DashboardFile], available: Iterable[Mapping[str, Any]]
) -> list[str]:
    """One warning line per referenced datasource Grafana does not have, naming the dashboards."""
    have = [d for d in available if isinstance(d, Mapping)]
    users: dict[DatasourceNeed, list[str]] = {}
    for dashboard in dashboards:
        for need in required_datasources(dashboard.model):
            users.setdefault(need, []).append(dashboard.uid)
    lines = []
    for need, uids in sorted(users.items(), key=lambda item: (item[0].type or "", item[0].ref or "")):
        if need.ref is None:
            if any(d.get("type") == need.type for d in have):
                continue
            lines.append(
                f"Grafana has no {need.type} datasource and dashboards {', '.join(uids)} need one: "
                "add it under Connections → Data sources"
            )
        elif not any(need.ref in (d.get("uid"), d.get("name")) for d in have):
            kind = f" ({need.type})" if need.type else ""
            lines.append(
                f"Grafana has no datasource {need.ref!r}{kind} and dashboards {', '.join(uids)} use it"
            )
    return lines


# -- internals -----------------------------------------------------------------------------------
class _Caller:
    """Runs one grafana-client call and turns whatever it raises into a one-line GrafanaError."""

    def __init__(self, *, url: str, token: str | None, timeout_s: float) -> None:
        self._url, self._token, self._timeout_s = url, token, timeout_s

    def __call__(self, request: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self.translate(exc, request) from None

    def optional(self, request: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Like calling, but a 404 (not there yet) is None."""
        try:
            return fn(*args)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise self.translate(exc, request) from None

    def translate(self, exc: Exception, request: str) -> GrafanaError:
        return translate_error(
            exc, url=self._url, request=request, token=self._token, timeout_s=self._timeout_s
        )


def _datasource_warnings(call: _Caller, api: Any, dashboards: Sequence[DashboardFile]) -> list[str]:
    if not any(required_datasources(d.model) for d in dashboards):
        return []
    try:
        available = api.datasource.list_datasources()
    except Exception as exc:
        if getattr(exc, "status_code", None) == 403:  # listing datasources can need more than Editor
            return ["the token may not list datasources (403): skipped the datasource check"]
        raise call.translate(exc, "GET /api/datasources") from None
    return missing_datasources(dashboards, available if isinstance(available, list) else [])


def _datasource_refs(node: Any) -> Iterable[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def _need(ref: Any, ds_vars: Mapping[str, str]) -> set[DatasourceNeed]:
    if isinstance(ref, dict):
        plugin, uid = ref.get("type"), ref.get("uid")
        plugin = plugin if isinstance(plugin, str) and plugin not in ("datasource", "grafana") else None
        if isinstance(uid, str) and uid:
            return _need_named(uid, plugin, ds_vars)
        return {DatasourceNeed(plugin, None)} if plugin else set()
    if isinstance(ref, str) and ref:
        return _need_named(ref, None, ds_vars)
    return set()


def _need_named(name: str, plugin: str | None, ds_vars: Mapping[str, str]) -> set[DatasourceNeed]:
    if name.startswith("$"):
        var = name.strip("${}").split(":", 1)[0]
        return {DatasourceNeed(ds_vars[var], None)} if var in ds_vars else set()
    if name in BUILTIN_DATASOURCES:
        return set()
    return {DatasourceNeed(plugin, name)}


def _comparable(model: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in _VOLATILE_KEYS}


def _same(current: Any, dashboard: DashboardFile, folder_uid: str) -> bool:
    if not isinstance(current, dict) or not isinstance(current.get("dashboard"), dict):
        return False
    meta = current.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    return (
        _comparable(current["dashboard"]) == _comparable(dashboard.model)
        and meta.get("folderUid") == folder_uid
    )


def _plain(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"), "", ""))
