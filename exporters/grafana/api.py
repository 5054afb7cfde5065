"""How loadlens talks to Grafana: the client, the token, and one-line errors.

Shared by the run's annotations (exporters/grafana/annotations.py) and ``loadlens grafana push``
(exporters/grafana/push.py), so both connect, authenticate and fail the same way. The client is
grafana-client 3.11.x, which uses plain requests/urllib3: 4.x and later pull niquests, which replaces
urllib3 in the whole environment and slows Locust's HttpUser (see facts.md). grafana-client is an
regular dependency, imported only when Grafana is used; an image without it says so in one line
(runner.installed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runner.errors import GrafanaError, UsageError
from runner.logs import redact_text

TOKEN_ENV = "GRAFANA_TOKEN"
TOKEN_FILE_ENV = "GRAFANA_TOKEN_FILE"
EXTRA_HINT = "pip install 'grafana-client>=3.11,<4'"
HEALTH_REQUEST = "GET /api/health"
_MAX_ERROR_CHARS = 300


def resolve_token(env: Mapping[str, str], *, token_file: Path | None = None) -> str | None:
    """The Grafana token: from ``token_file`` (a flag's file), else GRAFANA_TOKEN, else the file
    GRAFANA_TOKEN_FILE names; None when none is set. A token is never taken from a flag's value, so
    it never shows in the process list."""
    if token_file is None:
        token = env.get(TOKEN_ENV, "").strip()
        if token:
            return token
        named = env.get(TOKEN_FILE_ENV, "").strip()
        if not named:
            return None
        token_file, what = Path(named), TOKEN_FILE_ENV
    else:
        what = "--token-file"
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {token_file}: {exc.strerror or exc}") from None
    if not token:
        raise UsageError(f"{what}: {token_file} is empty")
    return token


def connect(url: str, *, token: str | None, timeout_s: float) -> Any:
    """A grafana-client ``GrafanaApi`` for ``url`` (bearer ``token``; without one, a user:password in
    the URL is used as basic auth). No request is made here."""
    from runner import installed

    installed.require(installed.GRAFANA, used_by="Grafana support")
    from grafana_client import GrafanaApi

    parts = urlsplit(url.strip())
    if parts.path and not parts.path.endswith("/"):
        # grafana-client appends "api" to the path as is: https://host/grafana must become .../grafana/
        parts = parts._replace(path=parts.path + "/")
    return GrafanaApi.from_url(urlunsplit(parts), credential=token, timeout=timeout_s)


def translate_error(
    exc: BaseException, *, url: str, request: str, token: str | None, timeout_s: float
) -> GrafanaError:
    """One line saying what went wrong talking to Grafana and what to do, for any error that
    grafana-client or requests raises (``request`` is e.g. "GET /api/health")."""
    import requests
    from grafana_client.client import GrafanaException

    where = redact_text(url)
    if isinstance(exc, requests.exceptions.Timeout):
        return GrafanaError(
            f"Grafana at {where} did not answer {request} within {timeout_s:g} s: "
            "check the URL and the network"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return GrafanaError(f"TLS with Grafana at {where} failed: {_reason(exc)}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return GrafanaError(f"cannot reach Grafana at {where}: {_reason(exc)}: check the URL")
    if isinstance(exc, GrafanaException):
        code = exc.status_code
        if code in (401, 403):
            if token is None:
                return GrafanaError(
                    f"Grafana requires a token ({code}): set {TOKEN_ENV} to a service account token "
                    "with Editor rights"
                )
            return GrafanaError(
                f"Grafana rejected the token ({code}): set {TOKEN_ENV} to a service account token "
                "with Editor rights"
            )
        message = _message(exc.response)
        if code == 404 and request == HEALTH_REQUEST:
            return GrafanaError(f"{where} is not a Grafana ({request} answered 404): check the URL")
        return GrafanaError(f"Grafana answered {code} to {request}: {message}")
    if isinstance(exc, ValueError):  # a body that is not JSON: something else answers at that URL
        return GrafanaError(f"{where} is not a Grafana ({request} did not answer JSON): check the URL")
    return GrafanaError(f"Grafana at {where}, {request}: {_clip(f'{type(exc).__name__}: {exc}')}")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "the host name does not resolve"),
        ("nodename nor servname", "the host name does not resolve"),
        ("Temporary failure in name resolution", "the host name does not resolve"),
        ("NameResolutionError", "the host name does not resolve"),
        ("Network is unreachable", "the network is unreachable"),
        ("No route to host", "no route to host"),
        ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "the server closed the connection"),
    ):
        if needle in text:
            return reason
    return _clip(text)


def _message(response: Any) -> str:
    if isinstance(response, dict) and isinstance(response.get("message"), str):
        return _clip(response["message"])
    return _clip(" ".join(str(response).split())) or "no message"


def _clip(text: str) -> str:
    text = redact_text(text)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
