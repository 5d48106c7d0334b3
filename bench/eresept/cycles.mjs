// E-resept cycle benchmark (issue 7): prescribe → lock → dispense, with many
// pharmacies in parallel, against a real `grunnmur serve` (fresh --data dir,
// loopback, SQLite; durable writes). Each worker is one pharmacy with its own
// keep-alive connection; a doctor's token prescribes. Every pharmacy races
// for prescriptions of a shared pool too, so some locks are refused — the
// figure counts completed cycles only, and the refusals are reported.
// Prints one JSON object on stdout; progress on stderr.
//
//   node bench/eresept/cycles.mjs --binary build/grunnmur --data DIR
//        [--pharmacies 16] [--seconds 10] [--contended 0.2]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, xs) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1]]] : acc), []));
const binary = args.binary;
const dataDir = args.data;
const pharmacies = Number(args.pharmacies ?? 16);
const seconds = Number(args.seconds ?? 10);
const contended = Number(args.contended ?? 0.2);  // share of cycles on the shared pool
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
if (!binary || !dataDir) { log('need --binary and --data'); process.exit(2); }

const FNR = '13097248022';
const HPR = '9144889';

// Valid organisation numbers (mod-11) for the pharmacies.
function orgnr(i) {
  const w = [3, 2, 7, 6, 5, 4, 3, 2];
  for (let base = 91000000 + i * 13; ; base++) {
    const d = String(base).split('').map(Number);
    const s = d.reduce((acc, x, k) => acc + x * w[k], 0);
    let c = 11 - (s % 11);
    if (c === 11) c = 0;
    if (c !== 10) return String(base) + c;
  }
}

function request(agent, port, token, method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/fhir+json', Authorization: `Bearer ${token}` };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/fhir+json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(),
        ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function token(extra) {
  return execFileSync(binary, ['token', '--data', dataDir, '--scope', 'system/*.cruds', '--ttl', '3600', ...extra],
    { encoding: 'utf8' }).trim();
}

function pct(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function main() {
  fs.mkdirSync(dataDir, { recursive: true });
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const server = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = null;
  server.on('exit', (c) => { exited = c; });
  const probe = new http.Agent({ keepAlive: false });
  for (;;) {
    if (exited !== null) throw new Error(`server exited (${exited})`);
    try {
      const r = await request(probe, port, '', 'GET', '/readyz');
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  const op = token([]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = async (path, body, t = op, a = agent) => {
    const r = await request(a, port, t, 'POST', path, body);
    return r;
  };
  const created = async (type, body) => {
    const r = await post(`/${type}`, JSON.stringify(body));
    if (r.status !== 201) throw new Error(`${type}: ${r.status} ${r.body}`);
    return JSON.parse(r.body).id;
  };
  const patient = await created('Patient', { resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: FNR }], name: [{ family: 'Nordmann' }] });
  const practitioner = await created('Practitioner', { resourceType: 'Practitioner', active: true,
    identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.4', value: HPR }],
    qualification: [{ code: { coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9060', code: 'LE' }] },
      extension: [
        { url: 'http://grunnmur.no/fhir/StructureDefinition/hpr-authorization-status', valueCode: 'active' },
        { url: 'http://grunnmur.no/fhir/StructureDefinition/hpr-prescribing-right', valueBoolean: true }] }] });
  const role = await created('PractitionerRole', { resourceType: 'PractitionerRole',
    practitioner: { reference: `Practitioner/${practitioner}` } });
  const doctor = token(['--as-hpr', HPR]);
  const pharmacyTokens = Array.from({ length: pharmacies }, (_, i) => token(['--orgnr', orgnr(i)]));
  const prescription = JSON.stringify({ resourceType: 'MedicationRequest', status: 'active', intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'C09AA05' }] },
    subject: { reference: `Patient/${patient}` }, requester: { reference: `PractitionerRole/${role}` },
    dispenseRequest: { validityPeriod: { start: '2026-01-01', end: '2099-12-31' }, numberOfRepeatsAllowed: 0,
      quantity: { value: 28, unit: 'tablett' } } });
  const dispense = JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'quantity', valueDecimal: 28 }] });

  // A shared pool of prescriptions that several pharmacies race for.
  const pool = [];
  const stats = { cycles: 0, refused: 0, errors: 0, prescribe: [], lock: [], dispense: [], races_won: 0 };
  const deadline = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  async function worker(i) {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const t = pharmacyTokens[i];
    while (Date.now() < deadline) {
      const shared = Math.random() < contended && pool.length > 0;
      let id;
      if (shared) {
        id = pool[Math.floor(Math.random() * pool.length)];
      } else {
        const p = await post('/MedicationRequest/$prescribe', prescription, doctor, a);
        if (p.status !== 201) { stats.errors++; continue; }
        stats.prescribe.push(p.ms);
        id = JSON.parse(p.body).id;
        // Some prescriptions are left in the shared pool for the pharmacies to race for.
        if (Math.random() < contended) { pool.push(id); if (pool.length > 64) pool.shift(); continue; }
      }
      const l = await post(`/MedicationRequest/${id}/$lock`, '', t, a);
      if (l.status === 409) { stats.refused++; continue; }
      if (l.status !== 200) { stats.errors++; continue; }
      stats.lock.push(l.ms);
      const d = await post(`/MedicationRequest/${id}/$dispense`, dispense, t, a);
      if (d.status === 409) { stats.refused++; continue; }
      if (d.status !== 200) { stats.errors++; continue; }
      stats.dispense.push(d.ms);
      stats.cycles++;
      if (shared) {
        stats.races_won++;
        const k = pool.indexOf(id);
        if (k >= 0) pool.splice(k, 1);
      }
    }
  }
  await Promise.all(Array.from({ length: pharmacies }, (_, i) => worker(i)));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));
  const out = {
    workload: 'eresept-cycles', pharmacies, seconds: elapsed, contended,
    cycles: stats.cycles, cycles_per_s: stats.cycles / elapsed,
    refused: stats.refused, errors: stats.errors, shared_pool_wins: stats.races_won,
    p50_ms: { prescribe: pct(stats.prescribe, 0.5), lock: pct(stats.lock, 0.5), dispense: pct(stats.dispense, 0.5) },
    p99_ms: { prescribe: pct(stats.prescribe, 0.99), lock: pct(stats.lock, 0.99), dispense: pct(stats.dispense, 0.99) },
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { log(String(e.stack || e)); process.exit(1); });
