// Validate FHIR R4 JSON files with FHIR.js (fhir), the HL7 JSON schema
// (@asymmetrik/fhir-json-schema-validator) and R4 invariants evaluated with fhirpath.
// Prints one JSON line per file: {file, fhirjs: [...], schema: [...], invariants: [...]}.
// Invariants: the R4 core constraints below (copied from the R4 StructureDefinitions of
// Bundle, Observation and DomainResource; hl7.fhir.r4.core is not on the npm registry).
const fs = require("fs");
const { Fhir } = require("fhir");
const SchemaValidator = require("@asymmetrik/fhir-json-schema-validator");
const fhirpath = require("fhirpath");
const r4 = require("fhirpath/fhir-context/r4");

const INVARIANTS = {
  Bundle: {
    "bdl-1": "total.empty() or (type = 'searchset') or (type = 'history')",
    "bdl-2": "entry.search.empty() or (type = 'searchset')",
    "bdl-7":
      "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
  },
  Observation: {
    "obs-6": "dataAbsentReason.empty() or value.empty()",
    "obs-7": "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
  },
  DomainResource: {
    "dom-2": "contained.contained.empty()",
    "dom-3":
      "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).empty()",
    "dom-4": "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
  },
};

function invariants(resource) {
  const out = [];
  const rtype = resource.resourceType;
  const sets = [INVARIANTS[rtype] || {}, rtype === "Bundle" ? {} : INVARIANTS.DomainResource];
  for (const set of sets) {
    for (const [key, expr] of Object.entries(set)) {
      const got = fhirpath.evaluate(resource, expr, { resource }, r4);
      if (!(got.length === 1 && got[0] === true)) out.push(`${rtype}/${resource.id || ""} ${key}`);
    }
  }
  if (rtype === "Bundle") {
    for (const e of resource.entry || []) if (e.resource) out.push(...invariants(e.resource));
  }
  return out;
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
  console.log(JSON.stringify({ file, fhirjs, schema: schemaErrors, invariants: invariants(res) }));
}
