"""A fake Grafana: the few HTTP API endpoints loadlens calls, served on 127.0.0.1 for the tests.

No Grafana server can be installed on these machines (it is not in Debian and has no PyPI or npm
build), so the tests talk to this ``ThreadingHTTPServer`` instead. It answers like Grafana's HTTP
API does for what loadlens uses, with Grafana's status codes and body shapes:

    GET   /api/health                 no auth needed, as in Grafana
    GET   /api/folders/:uid           404 when missing
    POST  /api/folders                409 when the uid exists
    PUT   /api/folders/:uid           needs ``overwrite`` or the current ``version`` (412 otherwise)
    GET   /api/dashboards/uid/:uid    {"dashboard": ..., "meta": {"folderUid", "url", "version"}}
    POST  /api/dashboards/db          stores with a new id/version; 400 for an unknown folderUid
    GET   /api/datasources            the list it was given
    POST  /api/annotations            {"id": n, "message": "Annotation added"}
    PATCH /api/annotations/:id        Grafana's patch rules: tags replaced when given, text when
                                      non-empty, time/timeEnd when > 0

Every other request needs ``Authorization: Bearer <token>`` (401 otherwise). Each request is
recorded (method, path without the sub path, headers, JSON body). It can serve under a sub path
(``prefix``), and be told to fail: every answer a given status (``fail_status``), every answer late
(``delay_s``), requests held until released (``hold``), or no Grafana at all (``not_grafana``: an
HTML 404 for everything). "Down" is a closed port.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMETHEUS = {"id": 1, "uid": "prometheus", "name": "Prometheus", "type": "prometheus"}


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # the decoded JSON body, or None


@dataclass
class _State:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {dashboard, folderUid}
    annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1


class FakeGrafana:
    """A fake Grafana on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(
        self,
        *,
        token: str = "glsa_test_token",
        datasources: Sequence[Mapping[str, Any]] = (PROMETHEUS,),
        version: str = "10.4.1",
        prefix: str = "",
    ) -> None:
        self.token = token
        self.prefix = prefix.rstrip("/")  # a Grafana served under a sub path (root_url .../grafana)
        self.datasources = [dict(d) for d in datasources]
        self.version = version
        self.fail_status: int | None = None
        self.delay_s = 0.0
        self.not_grafana = False
        self.state = _State()
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._arrived = threading.Condition(self._lock)
        self._release: threading.Event | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._release is not None:
            self._release.set()
        self._server.shutdown()
        self._server.server_close()

    # -- what the tests look at ---------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def writes(self) -> list[Recorded]:
        """Every request that could change something (not a GET)."""
        return [r for r in self.requests if r.method != "GET"]

    def wait_for_requests(self, count: int, *, timeout_s: float = 30.0) -> list[Recorded]:
        """Block until at least ``count`` requests have arrived; fail after ``timeout_s``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout=timeout_s):
                raise AssertionError(f"the fake Grafana got {len(self._requests)} requests, not {count}")
            return list(self._requests)

    def annotations(self) -> list[dict[str, Any]]:
        """The stored annotations, oldest first."""
        with self._lock:
            return [dict(a) for _, a in sorted(self.state.annotations.items())]

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Requests arriving inside the block are recorded, then held unanswered until it ends."""
        self._release = threading.Event()
        try:
            yield
        finally:
            self._release.set()
            self._release = None

    # -- serving ---------------------------------------------------------------------------------
    def _record(self, request: Recorded) -> threading.Event | None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            return self._release

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> tuple[int, Any]:
        """Grafana's answer to one request: (status, JSON body)."""
        if self.fail_status is not None:
            return self.fail_status, {"message": "fake failure"}
        if path == "/api/health" and method == "GET":
            return 200, {"commit": "fake", "database": "ok", "version": self.version}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "invalid API key"}
        with self._lock:
            for pattern, route in _ROUTES:
                match = re.fullmatch(pattern, f"{method} {path}")
                if match:
                    return route(self, self.state, body, *match.groups())
        return 404, {"message": "Not found"}


# -- routes (called under the fake's lock) ---------------------------------------------------------
def _get_folder(fake: FakeGrafana, st: _State, body: Any, uid: str) -> tuple[int, Any]:
    folder = st.folders.get(uid)
    return (200, folder) if folder else (404, {"message": "folder not found", "status": "not-found"})


def _create_folder(fake: FakeGrafana, st: _State, body: Any) -> tuple[int, Any]:
    uid = body.get("uid") or f"f{st.next_id}"
    if uid in st.folders:
        return 409, {"message": "a folder with the same uid already exists"}
    st.folders[uid] = {
        "id": st.next_id,
        "uid": uid,
        "title": body["title"],
        "url": f"/dashboards/f/{uid}/",
        "version": 1,
    }
    st.next_id += 1
    return 200, st.folders[uid]


def _update_folder(fake: FakeGrafana, st: _State, body: Any, uid: str) -> tuple[int, Any]:
    folder = st.folders.get(uid)
    if folder is None:
        return 404, {"message": "folder not found"}
    if not body.get("overwrite") and body.get("version") != folder["version"]:
        return 412, {"message": "the folder has been changed by someone else", "status": "version-mismatch"}
    folder.update(title=body.get("title", folder["title"]), version=folder["version"] + 1)
    return 200, folder


def _get_dashboard(fake: FakeGrafana, st: _State, body: Any, uid: str) -> tuple[int, Any]:
    stored = st.dashboards.get(uid)
    if stored is None:
        return 404, {"message": "Dashboard not found"}
    dashboard = stored["dashboard"]
    meta = {
        "folderUid": stored["folderUid"],
        "url": f"/d/{uid}/slug",
        "version": dashboard["version"],
        "slug": "slug",
    }
    return 200, {"dashboard": json.loads(json.dumps(dashboard)), "meta": meta}


def _post_dashboard(fake: FakeGrafana, st: _State, body: Any) -> tuple[int, Any]:
    dashboard = dict(body["dashboard"])
    uid = dashboard.get("uid")
    folder_uid = body.get("folderUid", "")
    if folder_uid and folder_uid not in st.folders:
        return 400, {"message": "folder not found"}
    existing = st.dashboards.get(uid) if uid else None
    if (
        existing
        and not body.get("overwrite")
        and dashboard.get("version") != existing["dashboard"]["version"]
    ):
        return 412, {
            "message": "The dashboard has been changed by someone else",
            "status": "version-mismatch",
        }
    dashboard_id = existing["dashboard"]["id"] if existing else st.next_id
    st.next_id += 0 if existing else 1
    dashboard.update(id=dashboard_id, version=existing["dashboard"]["version"] + 1 if existing else 1)
    st.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder_uid}
    return 200, {
        "id": dashboard_id,
        "uid": uid,
        "url": f"/d/{uid}/slug",
        "status": "success",
        "version": dashboard["version"],
    }


def _list_datasources(fake: FakeGrafana, st: _State, body: Any) -> tuple[int, Any]:
    return 200, fake.datasources


def _post_annotation(fake: FakeGrafana, st: _State, body: Any) -> tuple[int, Any]:
    annotation_id = st.next_id
    st.next_id += 1
    st.annotations[annotation_id] = {
        "id": annotation_id,
        "dashboardUID": body.get("dashboardUID"),
        "time": body.get("time") or 0,
        "timeEnd": body.get("timeEnd") or 0,
        "tags": list(body.get("tags") or []),
        "text": body.get("text") or "",
    }
    return 200, {"id": annotation_id, "message": "Annotation added"}


def _patch_annotation(fake: FakeGrafana, st: _State, body: Any, raw_id: str) -> tuple[int, Any]:
    annotation = st.annotations.get(int(raw_id))
    if annotation is None:
        return 404, {"message": "Could not find annotation to update"}
    if body.get("tags") is not None:
        annotation["tags"] = list(body["tags"])
    if body.get("text"):
        annotation["text"] = body["text"]
    if (body.get("time") or 0) > 0:
        annotation["time"] = body["time"]
    if (body.get("timeEnd") or 0) > 0:
        annotation["timeEnd"] = body["timeEnd"]
    return 200, {"message": "Annotation patched"}


_ROUTES: Sequence[tuple[str, Any]] = (
    (r"GET /api/folders/([^/]+)", _get_folder),
    (r"POST /api/folders", _create_folder),
    (r"PUT /api/folders/([^/]+)", _update_folder),
    (r"GET /api/dashboards/uid/([^/]+)", _get_dashboard),
    (r"POST /api/dashboards/db", _post_dashboard),
    (r"GET /api/datasources", _list_datasources),
    (r"POST /api/annotations", _post_annotation),
    (r"PATCH /api/annotations/(\d+)", _patch_annotation),
)


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            if fake.prefix:
                # Outside the sub path nothing is Grafana: such a path gets no route below.
                path = path[len(fake.prefix) :] if path.startswith(fake.prefix + "/") else "/outside" + path
            headers = {k.lower(): v for k, v in self.headers.items()}
            release = fake._record(Recorded(self.command, path, headers, body))
            if release is not None:
                release.wait(timeout=60)
            if fake.delay_s:
                threading.Event().wait(fake.delay_s)
            if fake.not_grafana:
                self._send(404, b"<html><body>404 page not found</body></html>", "text/html")
                return
            status, answer = fake.answer(self.command, path, headers, body if isinstance(body, dict) else {})
            self._send(status, json.dumps(answer).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (its timeout): nothing to answer
                self.close_connection = True

        # http.server dispatches to do_<METHOD>: the names are its own.
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

    return Handler
