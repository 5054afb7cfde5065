"""Packages a feature needs, checked before it is used: a missing one is one line and exit 2.

``pip install loadlens`` brings boto3, the OpenTelemetry SDK with its OTLP exporters and
grafana-client as regular dependencies. A trimmed image can still lack one; then the command that
needs it says which package and the pip command, before any load, instead of a traceback from
inside Locust's event handlers. A feature nobody asked for never imports its package.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from runner.errors import UsageError


@dataclass(frozen=True, slots=True)
class Extra:
    """One optional ability: the modules it imports and how to install them."""

    what: str
    modules: tuple[str, ...]
    pip: str


AWS = Extra("the AWS SDK (boto3)", ("boto3", "botocore"), "boto3>=1.34")
OTLP = Extra(
    "the OpenTelemetry SDK and its OTLP exporters",
    (
        "opentelemetry.sdk",
        "opentelemetry.exporter.otlp.proto.http",
        "opentelemetry.exporter.otlp.proto.grpc",
    ),
    "opentelemetry-sdk>=1.25,<2 opentelemetry-exporter-otlp-proto-http>=1.25,<2 "
    "opentelemetry-exporter-otlp-proto-grpc>=1.25,<2",
)
GRAFANA = Extra("grafana-client", ("grafana_client",), "grafana-client>=3.11,<4")


def missing_module(extra: Extra) -> str | None:
    """The first of ``extra``'s modules that cannot be imported here, or None."""
    for module in extra.modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ModuleNotFoundError, ValueError):  # a parent package is missing too
            return module
    return None


def require(extra: Extra, *, used_by: str) -> None:
    """Raise a one-line UsageError (exit 2) naming ``used_by`` and the pip command when ``extra``
    is not installed."""
    module = missing_module(extra)
    if module is not None:
        packages = " ".join(f"'{p}'" for p in extra.pip.split())
        raise UsageError(
            f"{used_by} needs {extra.what}, not installed here (no module {module!r}): pip install {packages}"
        )
