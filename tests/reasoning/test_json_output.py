"""Rule: the assessment JSON is written by orjson (every face) and says exactly what the
standard library's encoder says: the same text on every example under every definition and
luteal policy, and the same value on generated cases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rplcare.case.loader import load_case
from rplcare.reasoning.assess import assess
from rplcare.reasoning.classification import DEFINITIONS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
TODAY = date(2026, 11, 23)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("definition", sorted(DEFINITIONS))
@pytest.mark.parametrize("policy", ["guideline", "article"])
def test_orjson_text_equals_stdlib_text(path: Path, definition: str, policy: str) -> None:
    a = assess(load_case(path, today=TODAY), definition=definition, luteal_policy=policy)
    expected = json.dumps(a.to_dict(), indent=2, ensure_ascii=False)
    assert a.to_json() == expected
    compact = json.dumps(a.to_dict(), ensure_ascii=False, separators=(",", ":"))
    assert a.to_json(indent=None) == compact
