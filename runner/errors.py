"""One exception hierarchy for everything loadlens reports to a user.

The CLI maps each class to an exit code and prints ``str(error)`` as one line; a traceback is
shown only with ``--debug``. Third-party errors are translated into these where they enter.
"""

from __future__ import annotations


class LoadlensError(Exception):
    """Root of every error loadlens raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class UsageError(LoadlensError):
    """A bad command line: unknown option, bad value, missing file."""


class ConfigError(LoadlensError):
    """A bad loadlens.toml or LOADLENS_* variable; the message names the file, the key and the problem."""


class SourceError(LoadlensError):
    """A server-metric source could not answer (credentials, permissions, names, network)."""


class SourceUnavailableError(SourceError):
    """The source's endpoint cannot be reached at all."""


class SourcePermissionError(SourceError):
    """The credentials lack a permission; the message names the missing action."""


class SourceCredentialsError(SourceError):
    """No credentials, or expired ones."""


class ExporterError(LoadlensError):
    """A live exporter could not start (port taken, bad endpoint URL)."""


class RunDirError(LoadlensError):
    """A run directory is missing or does not hold a loadlens summary."""


class GrafanaError(LoadlensError):
    """Grafana refused or could not be reached (bad token, wrong URL, not a Grafana, API error);
    the message says which, in one line, and what to do about it."""


class BaselineError(LoadlensError):
    """A baseline could not be found, read or published (a run directory, ``latest``, or S3)."""
