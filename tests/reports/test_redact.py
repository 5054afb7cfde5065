"""Secrets on the command line a report shows ("what ran"): a locustfile's own option may take a
token as its next argument, which no single argument reveals as secret."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from runner.reports import redact
from runner.reports.html import report_html
from tests.reports.test_reports import make_record

COMMAND = (
    "loadlens", "run", "-f", "lf.py", "-H", "https://admin:pw1hidden@shop.example.com",
    "--api-token", "tok2hidden", "--db-password=pw3hidden", "--web-auth", "user:pw4hidden",
    "--aws-secret-access-key", "key5hidden", "--client-credentials", "cred6hidden", "--x-bearer",
    "bear7hidden", "--passwd", "pw8hidden", "--privatekey=key9hidden", "--users", "5", "--headless",
    "--secret-flag", "--tags", "checkout", "--header", "Authorization: Bearer abc10hidden",
)  # fmt: skip


def _page_command(command: tuple[str, ...]) -> str:
    text = report_html([dataclasses.replace(make_record(), command=command)])
    found = re.search(r'<script type="application/json" id="loadlens-data">(.*?)</script>', text, re.S)
    assert found is not None
    return str(json.loads(found.group(1))["meta"]["command"])


class TestCommandLine:
    def test_the_page_hides_the_value_after_an_option_named_like_a_secret(self) -> None:
        """``--api-token VALUE`` and ``--db-password=VALUE`` (and the other secret-looking names) show
        ``***``; URL passwords and header secrets stay hidden; every other argument is shown as typed."""
        shown = _page_command(COMMAND)
        assert "hidden" not in shown, shown
        assert shown == (
            "loadlens run -f lf.py -H https://***@shop.example.com --api-token *** --db-password=*** "
            "--web-auth *** --aws-secret-access-key *** --client-credentials *** --x-bearer *** "
            "--passwd *** --privatekey=*** --users 5 --headless --secret-flag --tags checkout "
            "--header Authorization: *** ***"
        )

    @pytest.mark.parametrize(
        "parts",
        [
            ("--author", "Ada"),  # "auth" inside another word
            ("--monkey-patch", "yes"),
            ("--keep-alive", "10"),
            ("-t", "10s"),
            ("--token",),  # last argument: nothing to hide
        ],
    )
    def test_options_that_only_look_alike_keep_their_values(self, parts: tuple[str, ...]) -> None:
        """Only an option name made of a secret word is followed by a secret: the rest is untouched."""
        assert redact.redact_command(parts) == parts

    def test_redaction_is_idempotent(self) -> None:
        """A summary read back and written again is unchanged."""
        once = redact.redacted_record(dataclasses.replace(make_record(), command=COMMAND))
        assert redact.redacted_record(once).command == once.command
