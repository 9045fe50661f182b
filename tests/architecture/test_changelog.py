"""CHANGELOG.md in SimPy's style: under each version heading, one bullet per user-facing
change, each tagged [NEW], [FIX], [CHANGE] or [BREAKING]; no engineering sub-sections."""

from __future__ import annotations

import re
from pathlib import Path

TEXT = (Path(__file__).resolve().parents[2] / "CHANGELOG.md").read_text()


def test_every_entry_is_tagged_under_a_version() -> None:
    body = TEXT.split("\n## ", 1)[1]
    headings = re.findall(r"^## (.+)$", "## " + body, re.M)
    assert headings[0] == "Unreleased"
    assert all(re.fullmatch(r"\d+\.\d+\.\d+ – \d{4}-\d\d-\d\d", h) for h in headings[1:])
    assert "###" not in body, "no sub-sections: one flat list per version"
    bullets = re.findall(r"^- (.*)$", body, re.M)
    assert bullets
    untagged = [b for b in bullets if not re.match(r"\[(NEW|FIX|CHANGE|BREAKING)\] ", b)]
    assert not untagged, untagged
