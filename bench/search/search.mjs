// Search latency workload: ingest a deterministic population into a real
// `grunnmur serve` (fresh --data dir, loopback), then run the clinical query
// mix single-client over one keep-alive connection, and measure start-up time
// and RSS. Prints one JSON object (all figures) on stdout; progress on stderr.
//
//   node search.mjs --binary build/grunnmur --size 100000 --data DIR
//                   [--seed 1] [--queries 300] [--connections 4] [--port 0]
//                   [--ingest-budget SECONDS]  (stop loading after this; the queries then
//                                              run on what was loaded, flagged in the output)
//                   [--bundles FILE]  (NDJSON of transaction bundles from `grunnmur synth`)
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';
import { FNR_SYSTEM, RARE_CODE, patientBundle, plan, practitionerBundle, rng } from './gen.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, xs) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1]]] : acc), []));
const binary = args.binary;
const size = Number(args.size ?? 100000);
const seed = Number(args.seed ?? 1);
const queriesPerKind = Number(args.queries ?? 300);
const connections = Number(args.connections ?? 4);
const perBundle = Math.max(1, Number(args['patients-per-bundle'] ?? 1));
const dataDir = args.data;
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
if (!binary || !dataDir) { log('need --binary and --data'); process.exit(2); }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A timer that does not keep the process alive (for timeouts raced against events).
const timeout = (ms) => new Promise((r) => setTimeout(r, ms).unref());
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// Minimal HTTP/1.1 client over node:http with keep-alive; resolves with
// { status, body, ms } where ms covers request start to the last body byte.
// The server requires an access token: minted with `grunnmur token` from the
// data directory once the server has started (it creates the signing keys).
let authToken = null;

function request(agent, port, method, path, body, contentType) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/fhir+json' };
    if (authToken) headers.Authorization = `Bearer ${authToken}`;
    if (body !== undefined) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks),
        ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function rssOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [0, 0])[1]);
  return { rss_mib: kb('VmRSS') / 1024, peak_rss_mib: kb('VmHWM') / 1024 };
}

async function startServer(port) {
  const t0 = process.hrtime.bigint();
  const proc = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  let exited = null;
  proc.on('exit', (code) => { exited = code; });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (;;) {
    if (exited !== null) throw new Error(`server exited (${exited}): ${stderr}`);
    try {
      const r = await request(agent, port, 'GET', '/readyz');
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    await sleep(2);
  }
  agent.destroy();
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  authToken = execFileSync(binary, ['token', '--data', dataDir, '--scope', 'system/*.cruds',
    '--ttl', '86400']).toString().trim();
  return { proc, startupMs, stderr: () => stderr };
}

async function stopServer(server) {
  const done = new Promise((r) => server.proc.once('exit', r));
  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  const timedOut = await Promise.race([done.then(() => false), timeout(60000).then(() => true)]);
  if (timedOut) { log('  server did not stop within 60 s of SIGTERM; killing it'); server.proc.kill('SIGKILL'); await done; }
  return (Date.now() - t0);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

// The population: patient i's bundle comes from gen.mjs (or a synth NDJSON file).
// With --patients-per-bundle K > 1, K patients' entries go into one transaction
// bundle (the same resources, fewer and larger durable commits).
async function* bundles(p) {
  if (args.bundles) {
    const rl = readline.createInterface({ input: fs.createReadStream(args.bundles) });
    for await (const line of rl) if (line.trim()) yield { fnrs: null, text: line };
    return;
  }
  for (let i = 0; i < p.patients; i += perBundle) {
    const fnrs = [], entry = [];
    for (let j = i; j < Math.min(p.patients, i + perBundle); j++) {
      const { fnr, bundle } = patientBundle(seed, j);
      fnrs.push(fnr);
      entry.push(...bundle.entry);
    }
    yield { fnrs, text: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }) };
  }
}

async function ingest(port, p) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const patients = [];  // { id, fnr }
  let resources = 0, bytes = 0, failures = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const prac = await request(agent, port, 'POST', '/', JSON.stringify(practitionerBundle()), 'application/fhir+json');
  if (prac.status !== 200) throw new Error(`practitioner bundle: ${prac.status} ${prac.body.toString().slice(0, 500)}`);
  resources += p.practitioners;
  const it = bundles(p);
  let next = 0, lastLog = Date.now(), truncated = false;
  const budget = Number(args['ingest-budget'] ?? 0);  // seconds; 0 = load everything
  const worker = async () => {
    for (;;) {
      if (budget > 0 && Number(process.hrtime.bigint() - t0) / 1e9 > budget) { truncated = true; return; }
      const n = await it.next();
      if (n.done) return;
      const i = next++;
      const r = await request(agent, port, 'POST', '/', n.value.text, 'application/fhir+json');
      bytes += n.value.text.length;
      if (r.status !== 200) {
        if (++failures <= 3) log(`bundle ${i}: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
        continue;
      }
      const resp = JSON.parse(r.body);
      resources += resp.entry.length;
      // The response entries follow the request's order: the k-th Patient location is the k-th patient.
      const ids = resp.entry.map((e) => e.response?.location ?? '').filter((l) => l.startsWith('Patient/'))
        .map((l) => l.split('/')[1]);
      let fnrs = n.value.fnrs;
      if (fnrs === null) {  // synth bundles: read them from the request
        fnrs = JSON.parse(n.value.text).entry.filter((e) => e.resource?.resourceType === 'Patient')
          .map((e) => e.resource.identifier?.find((x) => x.system === FNR_SYSTEM)?.value ?? null);
      }
      ids.forEach((id, k) => patients.push({ id, fnr: fnrs[k] ?? null }));
      if (Date.now() - lastLog > 10000) {
        lastLog = Date.now();
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        log(`  ingest: ${resources} resources in ${s.toFixed(0)} s (${(resources / s).toFixed(0)}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  patients.sort((a, b) => (a.fnr < b.fnr ? -1 : 1));  // order independent of completion order
  return { patients, resources, bytes, failures, seconds, truncated_by_budget: truncated,
    resources_per_s: resources / seconds, client_cpu_s: (cpu.user + cpu.system) / 1e6 };
}

const QUERIES = [
  ['obs_by_code_newest', 'Observation?patient=X&code=http://loinc.org|4548-4&_sort=-date',
    (p) => ['GET', `/Observation?patient=${p.id}&code=${encodeURIComponent('http://loinc.org|4548-4')}&_sort=-date`]],
  ['patient_by_fnr_post', 'POST Patient/_search identifier=urn:oid:2.16.578.1.12.4.1.4.1|FNR',
    (p) => ['POST', '/Patient/_search', `identifier=${encodeURIComponent(`${FNR_SYSTEM}|${p.fnr}`)}`]],
  ['active_medication_requests', 'MedicationRequest?patient=X&status=active',
    (p) => ['GET', `/MedicationRequest?patient=${p.id}&status=active`]],
  ['obs_include_performer', 'Observation?patient=X&_include=Observation:performer',
    (p) => ['GET', `/Observation?patient=${p.id}&_include=Observation:performer`]],
  ['chained_subject_identifier', 'Observation?subject:Patient.identifier=urn:oid:…|FNR',
    (p) => ['GET', `/Observation?subject:Patient.identifier=${encodeURIComponent(`${FNR_SYSTEM}|${p.fnr}`)}`]],
  ['has_observation_code', `Patient?_has:Observation:patient:code=http://loinc.org|${RARE_CODE} (~1% of patients)`,
    () => ['GET', `/Patient?_has:Observation:patient:code=${encodeURIComponent(`http://loinc.org|${RARE_CODE}`)}`]],
  ['everything', 'Patient/X/$everything',
    (p) => ['GET', `/Patient/${p.id}/$everything`]],
];

async function queryMix(port, patients) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const only = args.query ? new Set(args.query.split(',')) : null;
  const results = [];
  for (const [name, shape, make] of QUERIES) {
    if (only && !only.has(name)) continue;
    const r = rng(seed * 7919 + name.length);
    const lat = [];
    let errors = 0, entries = 0, matches = 0, firstError = null;
    const warmup = Math.min(20, queriesPerKind);
    for (let k = 0; k < warmup + queriesPerKind; k++) {
      const p = patients[Math.floor(r() * patients.length)];
      const [method, path, body] = make(p);
      const res = await request(agent, port, method, path, body, 'application/x-www-form-urlencoded');
      if (k < warmup) continue;
      lat.push(res.ms);
      if (res.status !== 200) {
        errors++;
        firstError ??= `${res.status} ${res.body.toString().slice(0, 300)}`;
        continue;
      }
      const b = JSON.parse(res.body);
      entries += b.entry?.length ?? 0;
      matches += (b.entry ?? []).filter((e) => e.search?.mode !== 'include').length;
    }
    lat.sort((a, b) => a - b);
    const ok = queriesPerKind - errors;
    const row = { name, shape, requests: queriesPerKind, errors,
      p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99),
      max_ms: lat[lat.length - 1], mean_ms: lat.reduce((s, x) => s + x, 0) / lat.length,
      mean_entries: ok ? entries / ok : 0, mean_matches: ok ? matches / ok : 0 };
    if (firstError) row.first_error = firstError;
    log(`  ${name}: p50 ${row.p50_ms.toFixed(2)} ms, p99 ${row.p99_ms.toFixed(2)} ms, ` +
      `${row.mean_entries.toFixed(1)} entries/response, ${errors} errors`);
    results.push(row);
  }
  agent.destroy();
  return results;
}

// Throughput with concurrency: C clients, each on its own keep-alive connection, send
// the whole query mix (kinds in turn, a seeded random patient each) back to back for
// --conc-seconds; requests/s over all clients and the latency percentiles of every
// request. Responses are checked for status only (no JSON parse) to keep the client light.
async function concurrentMix(port, patients, clients, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const lat = [];
  let errors = 0, firstError = null, bytes = 0;
  // Warm-up: one pass of the mix per client, not timed.
  for (let c = 0; c < clients; c++) {
    const p = patients[c % patients.length];
    for (const [, , make] of QUERIES) {
      const [method, path, body] = make(p);
      await request(agent, port, method, path, body, 'application/x-www-form-urlencoded');
    }
  }
  const cpu0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  const deadline = w0 + BigInt(Math.round(seconds * 1e9));
  const run = async (c) => {
    const r = rng(seed * 104729 + c * 31 + clients);
    for (let k = c; process.hrtime.bigint() < deadline; k++) {
      const [, , make] = QUERIES[k % QUERIES.length];
      const p = patients[Math.floor(r() * patients.length)];
      const [method, path, body] = make(p);
      const res = await request(agent, port, method, path, body, 'application/x-www-form-urlencoded');
      lat.push(res.ms);
      bytes += res.body.length;
      if (res.status !== 200) { errors++; firstError ??= `${res.status} ${res.body.toString().slice(0, 300)}`; }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => run(c)));
  const elapsed = Number(process.hrtime.bigint() - w0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  lat.sort((a, b) => a - b);
  const row = { clients, seconds: elapsed, requests: lat.length, errors, requests_per_s: lat.length / elapsed,
    p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99), max_ms: lat[lat.length - 1],
    mean_bytes: lat.length ? bytes / lat.length : 0, client_cpu_s: (cpu.user + cpu.system) / 1e6 };
  if (firstError) row.first_error = firstError;
  log(`  mix with ${clients} client(s): ${row.requests_per_s.toFixed(0)} req/s, p50 ${row.p50_ms.toFixed(2)} ms, ` +
    `p99 ${row.p99_ms.toFixed(2)} ms, ${errors} errors`);
  return row;
}

async function main() {
  const p = plan(size);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const port = Number(args.port ?? 0) || await freePort();
  const out = { size_requested: size, seed, patients: p.patients, practitioners: p.practitioners,
    generator: args.bundles ? 'grunnmur synth' : 'bench/search/gen.mjs', connections,
    patients_per_bundle: perBundle };
  let server = await startServer(port);
  out.startup_empty_ms = server.startupMs;
  out.idle_rss_empty_mib = rssOf(server.proc.pid).rss_mib;
  log(`  server up in ${server.startupMs.toFixed(0)} ms (empty); ingesting ~${p.resources} resources ` +
    `(${p.patients} patients) over ${connections} connections`);
  try {
    const ing = await ingest(port, p);
    const patients = ing.patients;
    delete ing.patients;
    out.ingest = { ...ing, ...rssOf(server.proc.pid) };
    log(`  ingest: ${ing.resources} resources in ${ing.seconds.toFixed(1)} s = ${ing.resources_per_s.toFixed(0)}/s` +
      ` (${ing.failures} failed bundles), server peak RSS ${out.ingest.peak_rss_mib.toFixed(0)} MiB`);
    if (patients.length === 0) throw new Error('no patient was loaded');
    out.patients_loaded = patients.length;
    // Restart: start-up time and idle memory with the loaded database.
    out.stop_after_ingest_ms = await stopServer(server);
    server = await startServer(port);
    out.startup_loaded_ms = server.startupMs;
    out.idle_rss_loaded_mib = rssOf(server.proc.pid).rss_mib;
    out.db_bytes = fs.readdirSync(dataDir).reduce((s, f) => s + fs.statSync(`${dataDir}/${f}`).size, 0);
    log(`  restart with data: ${server.startupMs.toFixed(0)} ms, RSS ${out.idle_rss_loaded_mib.toFixed(0)} MiB`);
    out.queries = await queryMix(port, patients);
    out.after_queries = rssOf(server.proc.pid);
    const concSeconds = Number(args['conc-seconds'] ?? 10);
    if (concSeconds > 0) {
      out.concurrent = [];
      for (const c of String(args.concurrency ?? '1,4,16').split(',').map(Number).filter((x) => x > 0)) {
        out.concurrent.push(await concurrentMix(port, patients, c, concSeconds));
      }
      out.after_concurrent = rssOf(server.proc.pid);
    }
  } finally {
    out.server_stderr_tail = server.stderr().slice(-1000);
    out.stop_final_ms = await stopServer(server);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { log(e.stack ?? String(e)); process.exit(1); });
