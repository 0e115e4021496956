"""Rule: optimisations do not change outputs (issue 12). Every case of the golden corpus (the
examples, a derandomized generated corpus, the scaling shapes and a large case), under every
definition and luteal policy, gives the same assessment JSON, FHIR Bundle and CDS cards, byte
for byte, as the code the digests were written from (tests/reasoning/golden/make_golden.py says
how to regenerate them when a change is meant to alter an output)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import make_golden

GOLDEN = json.loads(gzip.decompress(make_golden.OUT.read_bytes()))


def test_every_output_matches_its_golden_digest() -> None:
    differ = []
    for key, expected in GOLDEN["digests"].items():
        name, definition, policy = key.split("|")
        got = make_golden.digests(name, GOLDEN["cases"][name], definition, policy)
        differ.extend(f"{key}: {face}" for face in expected if got[face] != expected[face])
    assert not differ, f"{len(differ)} outputs changed, e.g. {differ[:5]}"


def test_corpus_covers_examples_generated_and_large_cases() -> None:
    names = GOLDEN["cases"]
    assert sum(n.startswith("example/") for n in names) == len(
        list((make_golden.ROOT / "examples").glob("*.yaml"))
    )
    assert sum(n.startswith("generated/") for n in names) == make_golden.GENERATED
    assert "large" in names
