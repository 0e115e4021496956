#!/usr/bin/env python
"""Scale the Synthea samples into a large FHIR Bulk export for benchmarks (never committed).

    python scripts/scale_bulk.py ../shared/fhir-samples/synthea OUT --patients 10000
        [--layout type|patient] [--gzip] [--loss-share 0.03] [--pregnancy-share 0.07]
        [--seed 1] [--all-types]

Every patient is a clone of one of the twelve Synthea women with new ids (a UUID derived from
the seed, the clone number and the old id, in the resource ids and every reference) and every
date shifted by the same random number of days (so ages and intervals stay as they were).

The population mix is an assumption for load testing, not an epidemiological figure:
`--loss-share` of the clones come from templates that carry a loss code, `--pregnancy-share`
from templates with a pregnancy and no loss, and the rest are "background" patients: a
template with every candidate resource (pregnancy, loss, RPL-relevant code; the screening
pre-filter's list) and the encounters around them removed, half of them recorded as male.
So most of the population has no candidate code, as in a health system's export.

By default only clinical resource types are written (billing `Claim` /
`ExplanationOfBenefit`, which are most of Synthea's bytes, are left out); `--all-types`
keeps everything.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from synthea_to_bulk import bundle_resources, iter_bundles, write_export  # noqa: E402

from rplcare.interop.fhir.bulk import patient_key  # noqa: E402
from rplcare.screening.candidates import is_candidate_resource  # noqa: E402

CLINICAL = {
    "Patient",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "Medication",
    "Encounter",
    "Immunization",
    "AllergyIntolerance",
    "DiagnosticReport",
    "CarePlan",
}
LOSS_CODES = {"17369002", "19169002", "85116003", "35999006", "79586000", "34801009"}
_TOKEN = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=\")\d{4}-\d{2}-\d{2}"
)
NS = uuid.UUID("6f1d4c1e-6a55-4a47-9c7e-2b8a0a6c0d11")


def _has_loss(resources: list[dict[str, Any]]) -> bool:
    return any(
        r["resourceType"] == "Condition"
        and any(c.get("code") in LOSS_CODES for c in (r.get("code") or {}).get("coding") or [])
        for r in resources
    )


def _background(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The template without candidate resources and the encounters they were recorded in."""
    drop_enc = set()
    for r in resources:
        if is_candidate_resource(r):
            enc = (r.get("encounter") or {}).get("reference")
            if enc:
                drop_enc.add(enc)
    out = []
    for r in resources:
        if is_candidate_resource(r):
            continue
        if r["resourceType"] == "Encounter" and f"Encounter/{r.get('id')}" in drop_enc:
            continue
        if (r.get("encounter") or {}).get("reference") in drop_enc:
            continue
        out.append(r)
    return out


class Template:
    def __init__(self, resources: list[dict[str, Any]], types: set[str] | None) -> None:
        keep = [
            r
            for r in resources
            if (types is None or r["resourceType"] in types)
            and (r["resourceType"] == "Patient" or patient_key(r) is not None)
        ]
        self.lines = [orjson.dumps(r) for r in keep]
        self.ids = {r["id"].encode() for r in keep if r.get("id")}
        self.patient = next(r["id"] for r in keep if r["resourceType"] == "Patient").encode()

    def clone(self, n: int, seed: int, shift: int, male: bool) -> list[dict[str, Any]]:
        cache: dict[bytes, bytes] = {}

        def sub(m: re.Match[bytes]) -> bytes:
            tok = m.group(0)
            got = cache.get(tok)
            if got is None:
                if len(tok) == 36:
                    got = (
                        str(uuid.uuid5(NS, f"{seed}:{n}:{tok.decode()}")).encode()
                        if tok in self.ids
                        else tok
                    )
                else:
                    try:
                        d = date.fromisoformat(tok.decode()) + timedelta(days=shift)
                        got = d.isoformat().encode()
                    except ValueError:
                        got = tok
                cache[tok] = got
            return got

        out = [orjson.loads(_TOKEN.sub(sub, line)) for line in self.lines]
        if male:
            for r in out:
                if r["resourceType"] == "Patient":
                    r["gender"] = "male"
        return out


def generate(
    src: Path,
    out: Path,
    patients: int,
    layout: str = "type",
    gz: bool = False,
    loss_share: float = 0.03,
    pregnancy_share: float = 0.07,
    seed: int = 1,
    all_types: bool = False,
) -> dict[str, int]:
    types = None if all_types else CLINICAL
    bundles = [bundle_resources(p) for p in iter_bundles(src)]
    loss = [Template(b, types) for b in bundles if _has_loss(b)]
    preg = [
        Template(b, types)
        for b in bundles
        if not _has_loss(b) and any(is_candidate_resource(r) for r in b)
    ]
    background = [Template(_background(b), types) for b in bundles]
    rng = random.Random(seed)
    mix = {"loss": 0, "pregnancy": 0, "background": 0}

    def clones():
        for n in range(patients):
            u = rng.random()
            if u < loss_share and loss:
                kind, pool = "loss", loss
            elif u < loss_share + pregnancy_share and preg:
                kind, pool = "pregnancy", preg
            else:
                kind, pool = "background", background
            mix[kind] += 1
            t = pool[rng.randrange(len(pool))]
            yield t.clone(
                n, seed, rng.randint(-1825, 365), kind == "background" and rng.random() < 0.5
            )

    write_export(clones(), out, layout, gz, types)
    return mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--layout", choices=("type", "patient"), default="type")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--loss-share", type=float, default=0.03)
    ap.add_argument("--pregnancy-share", type=float, default=0.07)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--all-types", action="store_true")
    a = ap.parse_args(argv)
    mix = generate(
        a.src,
        a.out,
        a.patients,
        a.layout,
        a.gzip,
        a.loss_share,
        a.pregnancy_share,
        a.seed,
        a.all_types,
    )
    print(f"{a.out}: {a.patients} patients ({mix})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
