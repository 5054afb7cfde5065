"""`loadlens init` knows the group selectors tags and user_classes: commented in the template, and
with the comment marks removed the group loads as written."""

from __future__ import annotations

import re
from pathlib import Path

from runner.commands.init import template
from runner.config.load import load_config


def test_the_template_shows_tags_and_user_classes_and_they_load(tmp_path: Path) -> None:
    text = template(env={})
    assert '# tags = ["checkout"]' in text and '# user_classes = ["Buyer"]' in text
    lines, block = [], ""
    for line in text.splitlines():
        if header := re.match(r"(?:# )?\[([a-z_.]+)", line):
            block = header[1]
        if block.startswith("thresholds") and re.match(r"# (\[|[a-z_0-9]+ = )", line):
            line = line[2:]
        lines.append(line)
    path = tmp_path / "loadlens.toml"
    path.write_text("\n".join(lines))
    group = load_config(path, env={}).thresholds.groups["checkout"]
    assert (group.tags, group.user_classes, group.error_rate) == (("checkout",), ("Buyer",), 0.001)
