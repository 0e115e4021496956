#!/usr/bin/env bash
# npm packages the FHIR tests need: the HL7 R4 examples (hl7.fhir.r4.examples 4.0.1) and three
# validators (fhir = FHIR.js, @asymmetrik/fhir-json-schema-validator, fhirpath), pinned by
# tests/interop/node/package-lock.json and installed into tests/interop/node/node_modules.
# Nothing is downloaded at test time; without node/npm the tests that need them are skipped.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/node"
if ! command -v npm >/dev/null 2>&1; then
  echo "fhir-npm-deps: npm not found; the HL7 example and validator tests will be skipped" >&2
  exit 0
fi
if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/.installed-lock"; then
  exit 0
fi
echo "fhir-npm-deps: npm ci in $dir" >&2
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
cp "$dir/package-lock.json" "$dir/.installed-lock"
