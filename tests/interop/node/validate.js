// Validate FHIR R4 JSON files with FHIR.js (fhir), the HL7 JSON schema
// (@asymmetrik/fhir-json-schema-validator) and R4 invariants evaluated with fhirpath.
// Prints one JSON line per file: {file, fhirjs: [...], schema: [...], invariants: [...],
// checked: <constraint evaluations>, keys: [...constraint keys evaluated], unevaluated: [...]}.
// Invariants: every error-level constraint of the R4 core StructureDefinitions (snapshot),
// read from the StructureDefinition-<Type>.json files the hl7.fhir.r4.examples package ships
// (hl7.fhir.r4.core itself is not on the npm registry): the resource's own constraints, those of
// its backbone elements, and those of every complex datatype and Extension in it, recursively
// (Period per-1, Quantity qty-3, Extension ext-1, Reference ref-1, Timing tim-*, ele-1 ...).
const fs = require("fs");
const path = require("path");
const { Fhir } = require("fhir");
const SchemaValidator = require("@asymmetrik/fhir-json-schema-validator");
const fhirpath = require("fhirpath");
const r4 = require("fhirpath/fhir-context/r4");

const CORE = path.join(__dirname, "node_modules", "hl7.fhir.r4.examples");
const DEFS = {};

function def(type) {
  if (!(type in DEFS)) {
    const file = path.join(CORE, `StructureDefinition-${type}.json`);
    let sd = null;
    if (/^[A-Z][A-Za-z]+$/.test(type) && fs.existsSync(file)) {
      sd = JSON.parse(fs.readFileSync(file, "utf8"));
      if (sd.derivation !== "specialization" || sd.type !== type) sd = null;
    }
    DEFS[type] = sd;
  }
  return DEFS[type];
}

const PLAIN = new Set(["Element", "BackboneElement", "Resource", "DomainResource"]);

// the JSON nodes at `rel` (path segments below the type) of `node`: [value, concrete type]
function nodesAt(node, rel, types) {
  let cur = [[node, null]];
  rel.forEach((seg, i) => {
    const last = i === rel.length - 1;
    const next = [];
    for (const [obj] of cur) {
      if (obj === null || typeof obj !== "object" || Array.isArray(obj)) continue;
      const hits = [];
      if (seg.endsWith("[x]")) {
        const stem = seg.slice(0, -3);
        for (const key of Object.keys(obj)) {
          const rest = key.slice(stem.length);
          if (key.startsWith(stem) && /^[A-Z]/.test(rest)) {
            const t = last ? types.find((c) => c.toLowerCase() === rest.toLowerCase()) : null;
            hits.push([obj[key], t || rest]);
          }
        }
      } else if (seg in obj) {
        hits.push([obj[seg], last && types.length === 1 ? types[0] : null]);
      }
      for (const [v, t] of hits) for (const item of Array.isArray(v) ? v : [v]) next.push([item, t]);
    }
    cur = next;
  });
  return cur;
}

const QUIET = { traceFn: () => {} }; // dom-3 traces its unmatched ids

function evaluate(node, base, expression, owner, root) {
  const env = { resource: owner, rootResource: root };
  try {
    return fhirpath.evaluate(node, { base, expression }, env, r4, QUIET);
  } catch (e) {
    return fhirpath.evaluate(node, expression, env, r4, QUIET);
  }
}

// error-level constraints of `type` on `node` and on everything inside it; `owner` is the
// resource the node is in (%resource), `root` its container when it is contained (%rootResource)
function check(node, type, owner, root, out, stats) {
  const sd = def(type);
  if (!sd || node === null || typeof node !== "object") return;
  if (sd.kind === "resource") owner = node;
  const name = `${owner.resourceType}/${owner.id || ""}`;
  for (const el of sd.snapshot.element) {
    const rel = el.path.split(".").slice(1);
    const types = (el.type || []).map((t) => t.code);
    const nodes = rel.length ? nodesAt(node, rel, types) : [[node, null]];
    for (const [value, concrete] of nodes) {
      if (value === null || typeof value !== "object") continue; // primitives: ele-1 holds
      for (const c of el.constraint || []) {
        if (c.severity !== "error" || !c.expression) continue;
        stats.checked += 1;
        stats.keys.add(c.key);
        let got;
        try {
          got = evaluate(value, rel.length ? el.path : type, c.expression, owner, root);
        } catch (e) {
          stats.unevaluated.add(c.key);
          continue;
        }
        // false fails; an empty result says nothing about this node (the official examples,
        // which the HL7 publisher validated, have identifier-only references: ref-1 is empty)
        if (got.length === 1 && got[0] === false) out.add(`${name} ${c.key}`);
        else if (got.length > 1) out.add(`${name} ${c.key} (not a boolean)`);
      }
      if (!rel.length) continue;
      const t = concrete || (types.length === 1 ? types[0] : null);
      if (t === "Resource" || (value.resourceType && def(value.resourceType)?.kind === "resource")) {
        const contained = el.path.endsWith(".contained");
        if (value.resourceType) {
          check(value, value.resourceType, owner, contained ? root : value, out, stats);
        }
      } else if (t && !PLAIN.has(t) && def(t) && def(t).kind !== "resource") {
        check(value, t, owner, root, out, stats);
      }
    }
  }
}

function invariants(resource, stats) {
  const out = new Set();
  if (resource && typeof resource.resourceType === "string") {
    check(resource, resource.resourceType, resource, resource, out, stats);
  }
  return [...out].sort();
}

const fhir = new Fhir();
const schema = new SchemaValidator();
for (const file of process.argv.slice(2)) {
  const res = JSON.parse(fs.readFileSync(file, "utf8"));
  const js = fhir.validate(res, { errorOnUnexpected: true });
  const fhirjs = (js.messages || [])
    .filter((m) => m.severity === "error")
    .map((m) => `${m.location}: ${m.message}`);
  const schemaErrors = (schema.validate(res) || []).map(
    (e) => `${e.instancePath || e.dataPath || ""}: ${e.message}`
  );
  const stats = { checked: 0, keys: new Set(), unevaluated: new Set() };
  const inv = invariants(res, stats);
  console.log(
    JSON.stringify({
      file,
      fhirjs,
      schema: schemaErrors,
      invariants: inv,
      checked: stats.checked,
      keys: [...stats.keys].sort(),
      unevaluated: [...stats.unevaluated].sort(),
    })
  );
}
