"""`loadlens grafana push`: the command line of exporters.grafana.push (which holds the why)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from exporters.grafana.api import TOKEN_ENV, connect, resolve_token
from exporters.grafana.push import (
    DEFAULT_FOLDER,
    FOLDER_UID,
    TIMEOUT_S,
    URL_ENV,
    default_dashboards_dir,
    load_dashboards,
    push,
    resolve_url,
)
from runner.config.options import add_options
from runner.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def grafana_command(argv: Sequence[str], *, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """`loadlens grafana push [--url URL] [--token-file FILE] [--folder NAME] [--dashboards DIR]
    [--loadlens-config FILE]`; 0 when pushed (warnings allowed), errors raise (exit 2)."""
    argv = list(argv)
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name.startswith("--tok") and name != "--token-file":
            # Said before argparse runs: its "unrecognized arguments" message would echo the token.
            raise UsageError(
                f"loadlens grafana: {name} is not an option: the token is read from {TOKEN_ENV} "
                "or --token-file FILE, never from the command line"
            )
    parser = _Parser(prog="loadlens grafana", allow_abbrev=False)
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    push_cmd = sub.add_parser(
        "push", help="create or update the loadlens folder and dashboards", allow_abbrev=False
    )
    push_cmd.add_argument(
        "--url", metavar="URL", default=None, help=f"default: [grafana] url, else ${URL_ENV}"
    )
    push_cmd.add_argument(
        "--token-file",
        metavar="FILE",
        type=Path,
        default=None,
        help="default: $GRAFANA_TOKEN (never the token itself on the command line)",
    )
    push_cmd.add_argument("--folder", metavar="NAME", default=None, help=f"default: {DEFAULT_FOLDER}")
    push_cmd.add_argument(
        "--dashboards", metavar="DIR", type=Path, default=None, help="default: the dashboards loadlens ships"
    )
    add_options(push_cmd, "--loadlens-config", loadlens_config="default: ./loadlens.toml")
    push_cmd.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)

    from runner.config.load import load_config

    cfg = load_config(Path(args.loadlens_config) if args.loadlens_config else None, env=env)
    url = resolve_url(args.url, configured=cfg.grafana.url, env=env)
    token = resolve_token(env, token_file=args.token_file)
    folder = args.folder if args.folder is not None else cfg.grafana.folder or DEFAULT_FOLDER
    if not folder.strip():
        raise UsageError("--folder: the folder name must not be empty")
    from runner import installed

    installed.require(installed.GRAFANA, used_by="loadlens grafana push")
    dashboards = load_dashboards(args.dashboards or default_dashboards_dir())
    api = connect(url, token=token, timeout_s=TIMEOUT_S)
    outcome = push(api, dashboards, base_url=url, folder_title=folder, token=token, timeout_s=TIMEOUT_S)
    for warning in outcome.warnings:
        err.write(f"loadlens: warning: {warning}\n")
    out.write(f"folder {folder!r} (uid {FOLDER_UID}): {outcome.folder_action}\n")
    width = max(len(p.uid) for p in outcome.dashboards)
    for pushed in outcome.dashboards:
        out.write(f"{pushed.action:<9}  {pushed.uid:<{width}}  {pushed.url}\n")
    return 0
