"""Which loadlens.toml to read, and reading it: a missing file, bytes that are not UTF-8 and
invalid TOML each stop at one line naming the file (and the line), before any key is checked."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from runner.errors import ConfigError

CONFIG_FILE_NAME = "loadlens.toml"


def find_file(path: Path | None, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    """The file to read and the name messages give it: ``path`` (relative to ``cwd``), else the
    one LOADLENS_CONFIG names, else ``cwd/loadlens.toml`` if it exists; (None, "") for none."""
    if path is not None:
        file = path if path.is_absolute() else cwd / path
        if file.is_dir():
            raise ConfigError(f"{path}: is a directory, not a config file: name the loadlens.toml in it")
        if not file.is_file():
            raise ConfigError(f"{path}: config file not found")
        return file, str(path)
    named = env.get("LOADLENS_CONFIG", "").strip()
    if named:
        file = Path(named) if Path(named).is_absolute() else cwd / named
        if file.is_dir():
            raise ConfigError(f"LOADLENS_CONFIG: {named} is a directory, not a config file")
        if not file.is_file():
            raise ConfigError(f"LOADLENS_CONFIG: config file not found: {named}")
        return file, named
    default = cwd / CONFIG_FILE_NAME
    return (default, CONFIG_FILE_NAME) if default.is_file() else (None, "")


_TOML_POSITION = re.compile(
    r"^(?P<msg>.*?)\s*\(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


def read_toml(file: Path, display: str) -> dict[str, object]:
    """The file's TOML document; a ConfigError naming the file (and the line) when it cannot be."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: some Windows editors start the file with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_POSITION.match(message)
        if where is None:
            raise ConfigError(f"{display}: invalid TOML: {message}") from None
        line = where["line"]
        at = f"line {line}, column {where['col']}" if line else "end of file"
        raise ConfigError(f"{display}: {at}: invalid TOML: {where['msg']}") from None
