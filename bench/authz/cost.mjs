// The cost of authorization and audit on reads (issue 5, "the latency cost of
// authorization + audit on reads"). Two real `grunnmur serve` processes on
// copies of the same data directory (SQLite, loopback):
//   off        --auth off: no token, no policy, no audit (the ceiling)
//   registry   token check; a registry resource (Practitioner): no policy
//              facts, no audit
//   system     token check + audit (one AuditEvent per read, durable)
//   clinician  token check + policy decision (HPR authorisation, attested
//              care relationship, citizen controls) + audit
// Every contender reads the same Observations of one patient by id, over one
// keep-alive connection (latency) and over `--conc` connections (throughput),
// alternated A B C D per round. Prints one JSON object on stdout.
//
//   node bench/authz/cost.mjs --binary build/grunnmur --data DIR
//        [--requests 2000] [--rounds 3] [--conc 16]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, xs) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1]]] : acc), []));
const binary = args.binary;
const dataDir = args.data;
const requests = Number(args.requests ?? 2000);
const rounds = Number(args.rounds ?? 3);
const conc = Number(args.conc ?? 16);
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
if (!binary || !dataDir) { log('need --binary and --data'); process.exit(2); }

const FNR = '13097248022';
const HPR = '9144889';

function request(agent, port, token, method, p, body) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/fhir+json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/fhir+json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent, headers }, (res) => {
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

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

async function start(dir, extra) {
  const port = await freePort();
  const proc = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dir, '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = null;
  proc.on('exit', (c) => { exited = c; });
  const probe = new http.Agent({ keepAlive: false });
  for (;;) {
    if (exited !== null) throw new Error(`server exited (${exited})`);
    try {
      const r = await request(probe, port, '', 'GET', '/readyz');
      if (r.status === 200) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { port, stop: () => new Promise((r) => { proc.on('exit', r); proc.kill('SIGTERM'); }) };
}

function token(extra) {
  return execFileSync(binary, ['token', '--data', dataDir, '--ttl', '3600', ...extra], { encoding: 'utf8' }).trim();
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}
const median = (xs) => pct(xs, 0.5);

async function main() {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  // Set-up through the first server: a patient, a doctor, observations.
  let srv = await start(dataDir, []);
  const op = token(['--scope', 'system/*.cruds']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const created = async (type, body) => {
    const r = await request(agent, srv.port, op, 'POST', `/${type}`, JSON.stringify(body));
    if (r.status !== 201) throw new Error(`${type}: ${r.status} ${r.body}`);
    return JSON.parse(r.body).id;
  };
  const patient = await created('Patient', { resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: FNR }], name: [{ family: 'Nordmann' }] });
  const practitioner = await created('Practitioner', { resourceType: 'Practitioner', active: true,
    identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.4', value: HPR }], name: [{ family: 'Lege' }],
    qualification: [{ code: { coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9060', code: 'LE' }] },
      extension: [{ url: 'http://grunnmur.no/fhir/StructureDefinition/hpr-authorization-status', valueCode: 'active' }] }] });
  const obs = [];
  for (let i = 0; i < 50; i++) {
    obs.push(await created('Observation', { resourceType: 'Observation', status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patient}` }, effectiveDateTime: '2026-01-01T10:00:00Z',
      valueQuantity: { value: 60 + i, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } }));
  }
  await srv.stop();
  const offDir = `${dataDir}-off`;
  fs.rmSync(offDir, { recursive: true, force: true });
  fs.cpSync(dataDir, offDir, { recursive: true });

  const on = await start(dataDir, []);
  const off = await start(offDir, ['--auth', 'off']);
  const clinician = token(['--scope', 'user/*.rs', '--as-hpr', HPR, '--attest-patient', FNR,
    '--purpose', 'TREAT', '--attest-authorization', 'LE']);
  const contenders = {
    off: { port: off.port, token: '', paths: obs.map((id) => `/Observation/${id}`) },
    registry: { port: on.port, token: op, paths: [`/Practitioner/${practitioner}`] },
    system: { port: on.port, token: op, paths: obs.map((id) => `/Observation/${id}`) },
    clinician: { port: on.port, token: clinician, paths: obs.map((id) => `/Observation/${id}`) },
  };
  // Every contender must really succeed before it is timed.
  for (const [name, c] of Object.entries(contenders)) {
    const r = await request(new http.Agent({ keepAlive: false }), c.port, c.token, 'GET', c.paths[0]);
    if (r.status !== 200) throw new Error(`${name}: ${r.status} ${r.body}`);
  }
  const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, { p50: [], p99: [], mean: [], rps: [] }]));
  let failures = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [name, c] of Object.entries(contenders)) {
      // Latency: one connection, sequential.
      const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const times = [];
      for (let i = 0; i < requests; i++) {
        const r = await request(a, c.port, c.token, 'GET', c.paths[i % c.paths.length]);
        if (r.status !== 200) failures++;
        times.push(r.ms);
      }
      a.destroy();
      results[name].p50.push(pct(times, 0.5));
      results[name].p99.push(pct(times, 0.99));
      results[name].mean.push(times.reduce((x, y) => x + y, 0) / times.length);
      // Throughput: `conc` connections.
      const t0 = process.hrtime.bigint();
      let done = 0;
      await Promise.all(Array.from({ length: conc }, async (_, w) => {
        const wa = new http.Agent({ keepAlive: true, maxSockets: 1 });
        for (let i = w; i < requests; i += conc) {
          const r = await request(wa, c.port, c.token, 'GET', c.paths[i % c.paths.length]);
          if (r.status !== 200) failures++;
          done++;
        }
        wa.destroy();
      }));
      results[name].rps.push(done / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    log(`authz round ${round + 1}/${rounds}: ` + Object.entries(results)
      .map(([k, v]) => `${k} p50 ${v.p50.at(-1).toFixed(2)} ms`).join(', '));
  }
  await on.stop();
  await off.stop();
  fs.rmSync(offDir, { recursive: true, force: true });
  const summary = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, {
    p50_ms: median(v.p50), p99_ms: median(v.p99), mean_ms: median(v.mean), rps: median(v.rps),
    p50_ms_all: v.p50, rps_all: v.rps,
  }]));
  const base = summary.off.p50_ms;
  const out = {
    workload: 'authz-cost', requests, rounds, concurrency: conc, failures, contenders: summary,
    added_p50_ms: Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, v.p50_ms - base])),
    note: 'added_p50_ms = contender p50 minus the --auth off p50 (same reads, same machine, alternated)',
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { log(String(e.stack || e)); process.exit(1); });
