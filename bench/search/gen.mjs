// A deterministic synthetic clinical population for the search benchmark
// (stand-in until `grunnmur synth` exists; bench/run uses that when present).
//
// Every patient is one transaction bundle of RESOURCES_PER_PATIENT resources
// (POST with urn:uuid fullUrls, as an EHR would send them): the Patient (with a
// valid Norwegian fødselsnummer), encounters, conditions, medication requests
// and laboratory/vital-sign observations whose performer is one of a fixed set
// of practitioners (loaded first with PUT, ids bench-prac-N). Same seed, same
// bytes: patient i's bundle depends only on (seed, i).
//
//   node gen.mjs --samples DIR   writes one resource of each type (FHIRPath bench inputs)
//   import { patientBundle, practitionerBundle, plan } from './gen.mjs'
import fs from 'node:fs';
import path from 'node:path';

export const RESOURCES_PER_PATIENT = 100;
export const PRACTITIONERS = 100;
export const FNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.1';
export const HPR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.4';
export const RARE_CODE = '94500-6';  // SARS-CoV-2 RNA: about 1 in 100 patients

// Patients and practitioners for a target total of `size` resources.
export function plan(size) {
  const patients = Math.max(1, Math.floor((size - PRACTITIONERS) / RESOURCES_PER_PATIENT));
  return { patients, practitioners: PRACTITIONERS, resources: PRACTITIONERS + patients * RESOURCES_PER_PATIENT };
}

// mulberry32: small, fast, deterministic.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pad = (n, w) => String(n).padStart(w, '0');

function uuid(r) {
  const h = () => pad(Math.floor(r() * 0x10000).toString(16), 4);
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

// A valid fødselsnummer (two mod-11 check digits) for a birth date.
export function fnr(r, y, m, d) {
  for (;;) {
    const century = y >= 2000 ? int(r, 500, 999) : int(r, 0, 499);
    const base = `${pad(d, 2)}${pad(m, 2)}${pad(y % 100, 2)}${pad(century, 3)}`.split('').map(Number);
    const w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    let k1 = 11 - (base.reduce((s, x, i) => s + x * w1[i], 0) % 11);
    if (k1 === 11) k1 = 0;
    if (k1 === 10) continue;
    const w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    const b2 = [...base, k1];
    let k2 = 11 - (b2.reduce((s, x, i) => s + x * w2[i], 0) % 11);
    if (k2 === 11) k2 = 0;
    if (k2 === 10) continue;
    return [...b2, k2].join('');
  }
}

const FAMILY = ['Hansen', 'Johansen', 'Olsen', 'Larsen', 'Andersen', 'Pedersen', 'Nilsen', 'Kristiansen',
  'Jensen', 'Karlsen', 'Johnsen', 'Pettersen', 'Eriksen', 'Berg', 'Haugen', 'Hagen', 'Sørgård', 'Ødegård',
  'Bråthen', 'Aasen', 'Dahl', 'Lund', 'Solberg', 'Strand', 'Bakken', 'Lie', 'Moen', 'Ærø'];
const GIVEN_F = ['Kari', 'Ingrid', 'Anne', 'Marit', 'Nora', 'Emma', 'Sofie', 'Åse', 'Solveig', 'Liv'];
const GIVEN_M = ['Ola', 'Per', 'Jan', 'Lars', 'Bjørn', 'Knut', 'Ærlend', 'Håkon', 'Øystein', 'Jakob'];
const CITIES = [['0150', 'Oslo'], ['5003', 'Bergen'], ['7010', 'Trondheim'], ['9008', 'Tromsø'],
  ['4006', 'Stavanger'], ['2317', 'Hamar'], ['8006', 'Bodø']];
// [code, display, unit, ucum, lo, hi, category]
const LABS = [
  ['4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood', '%', '%', 4.5, 11, 'laboratory'],
  ['2339-0', 'Glucose [Mass/volume] in Blood', 'mmol/L', 'mmol/L', 3.5, 15, 'laboratory'],
  ['2160-0', 'Creatinine [Mass/volume] in Serum or Plasma', 'umol/L', 'umol/L', 40, 200, 'laboratory'],
  ['718-7', 'Hemoglobin [Mass/volume] in Blood', 'g/dL', 'g/dL', 9, 17, 'laboratory'],
  ['2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 'mmol/L', 'mmol/L', 3, 8, 'laboratory'],
  ['33914-3', 'Glomerular filtration rate/1.73 sq M.predicted', 'mL/min/{1.73_m2}', 'mL/min/{1.73_m2}', 15, 120, 'laboratory'],
  ['8480-6', 'Systolic blood pressure', 'mmHg', 'mm[Hg]', 95, 190, 'vital-signs'],
  ['8462-4', 'Diastolic blood pressure', 'mmHg', 'mm[Hg]', 55, 110, 'vital-signs'],
  ['29463-7', 'Body weight', 'kg', 'kg', 45, 130, 'vital-signs'],
  ['8867-4', 'Heart rate', '/min', '/min', 45, 120, 'vital-signs'],
];
const CONDITIONS = [['44054006', 'Diabetes mellitus type 2'], ['38341003', 'Hypertensive disorder'],
  ['195967001', 'Asthma'], ['13645005', 'Chronic obstructive lung disease'], ['35489007', 'Depressive disorder'],
  ['49436004', 'Atrial fibrillation'], ['709044004', 'Chronic kidney disease']];
const MEDS = [['A10BA02', 'Metformin'], ['C09AA05', 'Ramipril'], ['C10AA05', 'Atorvastatin'],
  ['B01AF01', 'Rivaroksaban'], ['R03AC02', 'Salbutamol'], ['N06AB06', 'Sertralin'], ['C07AB02', 'Metoprolol']];

const ATC = 'http://www.whocc.no/atc';
const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

function isoDate(ms) { return new Date(ms).toISOString().slice(0, 10); }
function isoDateTime(ms) { return new Date(ms).toISOString().slice(0, 19) + '+01:00'; }

export function practitioner(i) {
  const r = rng(0x5eed0000 + i);
  return {
    resourceType: 'Practitioner', id: `bench-prac-${i}`, active: true,
    identifier: [{ system: HPR_SYSTEM, value: String(1000000 + i) }],
    name: [{ family: pick(r, FAMILY), given: [pick(r, r() < 0.5 ? GIVEN_F : GIVEN_M)], prefix: ['Dr.'] }],
    qualification: [{ code: { coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9060', code: 'LE', display: 'Lege' }] } }],
  };
}

export function practitionerBundle() {
  const entry = [];
  for (let i = 0; i < PRACTITIONERS; i++) {
    const p = practitioner(i);
    entry.push({ resource: p, request: { method: 'PUT', url: `Practitioner/${p.id}` } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

// Patient i: { fnr, bundle } — bundle.entry[0] is the Patient.
export function patientBundle(seed, i) {
  const r = rng((seed * 2654435761 + i * 40503) >>> 0);
  const female = r() < 0.5;
  const y = int(r, 1930, 2020), m = int(r, 1, 12), d = int(r, 1, 28);
  const id = fnr(r, y, m, d);
  const [zip, city] = pick(r, CITIES);
  const patUrl = `urn:uuid:${uuid(r)}`;
  const patient = {
    resourceType: 'Patient',
    identifier: [{ use: 'official', system: FNR_SYSTEM, value: id }],
    active: true,
    name: [{ use: 'official', family: pick(r, FAMILY), given: [pick(r, female ? GIVEN_F : GIVEN_M)] }],
    telecom: [{ system: 'phone', value: `+47 ${int(r, 40000000, 99999999)}`, use: 'mobile' }],
    gender: female ? 'female' : 'male',
    birthDate: `${y}-${pad(m, 2)}-${pad(d, 2)}`,
    address: [{ use: 'home', line: [`Storgata ${int(r, 1, 200)}`], postalCode: zip, city, country: 'NO' }],
    generalPractitioner: [{ reference: `Practitioner/bench-prac-${int(r, 0, PRACTITIONERS - 1)}` }],
  };
  const entry = [{ fullUrl: patUrl, resource: patient, request: { method: 'POST', url: 'Patient' } }];
  const subject = { reference: patUrl };
  const now = Date.UTC(2026, 10, 1);
  const day = 86400000;
  const encounters = [];
  for (let k = 0; k < 3; k++) {
    const start = now - int(r, 1, 3650) * day + int(r, 8, 15) * 3600000;
    const url = `urn:uuid:${uuid(r)}`;
    encounters.push(url);
    entry.push({ fullUrl: url, request: { method: 'POST', url: 'Encounter' }, resource: {
      resourceType: 'Encounter', status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      subject, period: { start: isoDateTime(start), end: isoDateTime(start + 1800000) },
      participant: [{ individual: { reference: `Practitioner/bench-prac-${int(r, 0, PRACTITIONERS - 1)}` } }],
    } });
  }
  for (let k = 0; k < 4; k++) {
    const [code, display] = pick(r, CONDITIONS);
    entry.push({ fullUrl: `urn:uuid:${uuid(r)}`, request: { method: 'POST', url: 'Condition' }, resource: {
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: r() < 0.7 ? 'active' : 'resolved' }] },
      code: { coding: [{ system: SCT, code, display }], text: display },
      subject, onsetDateTime: isoDateTime(now - int(r, 30, 7300) * day),
    } });
  }
  for (let k = 0; k < 8; k++) {
    const [code, display] = pick(r, MEDS);
    entry.push({ fullUrl: `urn:uuid:${uuid(r)}`, request: { method: 'POST', url: 'MedicationRequest' }, resource: {
      resourceType: 'MedicationRequest', status: r() < 0.35 ? 'active' : pick(r, ['completed', 'stopped']),
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: ATC, code, display }], text: display },
      subject, authoredOn: isoDateTime(now - int(r, 1, 2000) * day),
      requester: { reference: `Practitioner/bench-prac-${int(r, 0, PRACTITIONERS - 1)}` },
      dosageInstruction: [{ text: '1 tablett daglig' }],
    } });
  }
  const observations = RESOURCES_PER_PATIENT - entry.length;
  for (let k = 0; k < observations; k++) {
    let lab = pick(r, LABS);
    let value;
    let code = lab[0], display = lab[1];
    if (k === 0 && r() < 0.01) {
      code = RARE_CODE; display = 'SARS-CoV-2 RNA [Presence] in Respiratory specimen';
      lab = [code, display, null, null, 0, 0, 'laboratory'];
    } else {
      value = Math.round((lab[4] + r() * (lab[5] - lab[4])) * 10) / 10;
    }
    const t = now - int(r, 1, 3650) * day + int(r, 7, 16) * 3600000;
    const obs = {
      resourceType: 'Observation', status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: lab[6] }] }],
      code: { coding: [{ system: LOINC, code, display }], text: display },
      subject, encounter: { reference: pick(r, encounters) },
      effectiveDateTime: isoDateTime(t), issued: new Date(t + 7200000).toISOString(),
      performer: [{ reference: `Practitioner/bench-prac-${int(r, 0, PRACTITIONERS - 1)}` }],
    };
    if (value === undefined) {
      obs.valueCodeableConcept = { coding: [{ system: SCT, code: '260385009', display: 'Negative' }] };
    } else {
      obs.valueQuantity = { value, unit: lab[2], system: UCUM, code: lab[3] };
    }
    entry.push({ fullUrl: `urn:uuid:${uuid(r)}`, request: { method: 'POST', url: 'Observation' }, resource: obs });
  }
  return { fnr: id, bundle: { resourceType: 'Bundle', type: 'transaction', entry } };
}

// One resource of each type with ids resolved, as stored (FHIRPath bench inputs).
export function writeSamples(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const { bundle } = patientBundle(42, 7);
  const seen = new Set();
  for (const e of bundle.entry) {
    const res = JSON.parse(JSON.stringify(e.resource).replaceAll(bundle.entry[0].fullUrl, 'Patient/sample-patient'));
    if (seen.has(res.resourceType)) continue;
    seen.add(res.resourceType);
    res.id = `sample-${res.resourceType.toLowerCase()}`;
    res.meta = { versionId: '1', lastUpdated: '2026-11-29T12:00:00.000+01:00' };
    for (const key of ['encounter']) {
      if (res[key]) res[key] = { reference: 'Encounter/sample-encounter' };
    }
    fs.writeFileSync(path.join(dir, `${res.resourceType}.json`), JSON.stringify(res, null, 1));
  }
  const p = practitioner(3);
  p.meta = { versionId: '1', lastUpdated: '2026-11-29T12:00:00.000+01:00' };
  fs.writeFileSync(path.join(dir, 'Practitioner.json'), JSON.stringify(p, null, 1));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = process.argv.slice(2);
  if (a[0] === '--samples' && a[1]) {
    writeSamples(a[1]);
  } else if (a[0] === '--bundle') {
    console.log(JSON.stringify(patientBundle(Number(a[1] ?? 1), Number(a[2] ?? 0)).bundle, null, 1));
  } else {
    console.error('usage: gen.mjs --samples DIR | --bundle SEED I');
    process.exit(2);
  }
}
