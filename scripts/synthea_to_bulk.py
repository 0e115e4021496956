#!/usr/bin/env python
"""Turn Synthea FHIR R4 transaction bundles into a FHIR Bulk Data export (NDJSON).

    python scripts/synthea_to_bulk.py ../shared/fhir-samples/synthea OUT [--layout type|patient]
        [--gzip] [--types Patient,Condition,...]

`--layout type` (the default Bulk Data output): one file per resource type, `Patient.ndjson`,
`Condition.ndjson` …, and a `manifest.json` like a server's completion manifest.
`--layout patient` (`organizeOutputBy=Patient`): every type in one file, each patient's
resources together after a `Parameters` header naming her, `outputOrganizedBy: Patient` in the
manifest.

Transaction bundles refer to each other with `urn:uuid:` fullUrls; a Bulk export uses
`Type/id` references, so every `urn:uuid:` reference is rewritten to the `Type/id` of the
entry it names. Resources outside the patient compartment (Organization, Practitioner, …) go
to their own files in the type layout and are left out of the patient layout.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rplcare.interop.fhir.bulk import patient_key

TRANSACTION_TIME = "2026-01-01T00:00:00Z"


def _rewrite(value: Any, urls: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "reference" and isinstance(v, str) and v in urls:
                out[k] = urls[v]
            else:
                out[k] = _rewrite(v, urls)
        return out
    if isinstance(value, list):
        return [_rewrite(v, urls) for v in value]
    return value


def bundle_resources(path: Path) -> list[dict[str, Any]]:
    """The resources of one bundle with `urn:uuid:` references made `Type/id`."""
    bundle = orjson.loads(path.read_bytes())
    entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    urls = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if e.get("fullUrl") and e["resource"].get("id")
    }
    return [_rewrite(e["resource"], urls) for e in entries]


def iter_bundles(src: Path) -> Iterator[Path]:
    yield from sorted(p for p in src.iterdir() if p.suffix == ".json")


def _open(path: Path, gz: bool):
    return gzip.open(str(path) + ".gz", "wb", compresslevel=5) if gz else open(path, "wb")


def write_export(
    patients: Iterator[list[dict[str, Any]]],
    out: Path,
    layout: str,
    gz: bool = False,
    types: set[str] | None = None,
) -> dict[str, int]:
    """Write patients (each a list of resources) as a Bulk export; returns lines per file."""
    out.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    suffix = ".ndjson.gz" if gz else ".ndjson"

    def emit(name: str, res: dict[str, Any]) -> None:
        if name not in handles:
            handles[name] = _open(out / f"{name}.ndjson", gz)
            counts[name] = 0
        handles[name].write(orjson.dumps(res) + b"\n")
        counts[name] += 1

    try:
        for resources in patients:
            keep = [r for r in resources if types is None or r["resourceType"] in types]
            if layout == "type":
                for r in keep:
                    emit(r["resourceType"], r)
            else:
                pat = next((r for r in keep if r["resourceType"] == "Patient"), None)
                if pat is None:
                    continue
                header = {
                    "resourceType": "Parameters",
                    "parameter": [
                        {"name": "header", "valueReference": {"reference": f"Patient/{pat['id']}"}}
                    ],
                }
                emit("patients", header)
                emit("patients", pat)
                for r in keep:
                    if r is not pat and patient_key(r) == pat["id"]:
                        emit("patients", r)
    finally:
        for h in handles.values():
            h.close()
    manifest: dict[str, Any] = {
        "transactionTime": TRANSACTION_TIME,
        "request": "Patient/$export" + ("?organizeOutputBy=Patient" if layout == "patient" else ""),
        "requiresAccessToken": False,
        "output": [
            {"type": None if layout == "patient" else name, "url": f"{name}{suffix}", "count": n}
            for name, n in counts.items()
        ],
        "error": [],
    }
    if layout == "patient":
        manifest["outputOrganizedBy"] = "Patient"
        for o in manifest["output"]:
            o.pop("type")
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="folder of Synthea bundles (*.json)")
    ap.add_argument("out", type=Path, help="output folder for the export")
    ap.add_argument("--layout", choices=("type", "patient"), default="type")
    ap.add_argument("--gzip", action="store_true", help="write .ndjson.gz")
    ap.add_argument("--types", help="comma-separated resource types to keep (default: all)")
    args = ap.parse_args(argv)
    types = set(args.types.split(",")) if args.types else None
    counts = write_export(
        (bundle_resources(p) for p in iter_bundles(args.src)),
        args.out,
        args.layout,
        args.gzip,
        types,
    )
    print(f"{args.out}: {sum(counts.values())} lines in {len(counts)} files ({args.layout} layout)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
