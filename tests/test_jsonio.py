"""Rule (issue 12 §1): the one JSON encoder (orjson through util/jsonio.py) writes what
`json.dumps` wrote on every face: indented, compact, sorted, ASCII-escaped and with
`default=str`, on generated documents (floats in the range where `repr` has no exponent, the
one documented difference)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.util import jsonio

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(min_value=1e-4, max_value=1e15, allow_nan=False)
    | st.floats(min_value=-1e15, max_value=-1e-4, allow_nan=False)
    | st.text()  # control characters, quotes, backslashes, astral characters
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_indented_compact_sorted_and_ascii_match_json(doc):
    assert jsonio.dumps(doc) == json.dumps(doc, indent=2, ensure_ascii=False)
    assert jsonio.dumps(doc, ensure_ascii=True) == json.dumps(doc, indent=2)
    assert jsonio.dumps(doc, compact=True) == json.dumps(
        doc, separators=(",", ":"), ensure_ascii=False
    )
    assert jsonio.dumps(doc, sort_keys=True) == json.dumps(
        doc, indent=2, sort_keys=True, ensure_ascii=False
    )


@dataclasses.dataclass
class _Row:
    n: int


def test_default_str_writes_dates_times_dataclasses_and_int_keys_as_json_does():
    doc = {
        "day": date(2026, 11, 23),
        "at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        "naive": datetime(2026, 11, 23, 9, 0, 5, 120),
        "row": _Row(3),
        "counts": {1: "a", 2: "b"},
        "name": "Zoë 😀",
    }
    assert jsonio.dumps(doc, default=str) == json.dumps(
        doc, indent=2, ensure_ascii=False, default=str
    )
    assert jsonio.dumps(doc, default=str, ensure_ascii=True) == json.dumps(
        doc, indent=2, default=str
    )


def test_the_faces_documents_are_written_as_json_wrote_them():
    """The case Bundle (`rplcare case-to-fhir`) of every example and the case JSON Schema
    (`rplcare schema case`); the assessment and its FHIR Bundle are in the golden digests."""
    from pathlib import Path

    from rplcare.case.loader import load_case
    from rplcare.case.model import Case
    from rplcare.interop.fhir.write import case_to_bundle

    for p in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")):
        bundle = case_to_bundle(load_case(p, today=date(2026, 11, 23)))
        assert jsonio.dumps(bundle) == json.dumps(bundle, indent=2, ensure_ascii=False), p.name
    schema = Case.model_json_schema()
    assert jsonio.dumps(schema, ensure_ascii=True) == json.dumps(schema, indent=2)
