"""Every row of the second hostile-input survey (docs/bad-inputs-tried-2.md, a copy of the survey filed with
issue 25) has a test in one of the tests/test_bad_inputs_2_*.py suites (each keeps a ``COVERED`` set of row ids)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

SURVEY = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs-tried-2.md"
SUITES = sorted(Path(__file__).parent.glob("test_bad_inputs_2_*.py"))


def survey_ids(text: str) -> list[str]:
    """The row ids of the survey's "All cases" table (its first column)."""
    table = text.split("## All cases", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for m in re.finditer(r"^\| ([A-Za-z][\w-]*) \|", table, flags=re.M) if m.group(1) != "id"]


def covered() -> set[str]:
    out: set[str] = set()
    for path in SUITES:
        if path.name == Path(__file__).name:
            continue
        spec = importlib.util.spec_from_file_location(f"_survey2_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out |= set(mod.COVERED)
    return out


def test_every_survey_row_has_a_test():
    ids = survey_ids(SURVEY.read_text(encoding="utf-8"))
    assert len(ids) == 102 and len(set(ids)) == 102
    have = covered()
    assert not set(ids) - have, sorted(set(ids) - have)
    assert not have - set(ids), f"ids not in the survey: {sorted(have - set(ids))}"
