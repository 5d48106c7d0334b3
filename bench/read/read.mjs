// Read-by-id workload (and the Medplum search comparison): wrk with keep-alive
// and 64 connections on random ids against grunnmur (on a database already
// loaded by the ingest workload), nginx serving the very same JSON bytes as
// static files, and — when installed — the Medplum peer (in memory, loaded
// here untimed with the same bundles). Contenders alternate A B C A B C …
// Then a few searches run single-client on grunnmur and Medplum alternately
// per query kind. Prints one JSON object on stdout; progress on stderr.
//
//   node read.mjs --binary build/grunnmur --data LOADED_DIR --synth SYNTH_DIR --work DIR
//                 [--rounds 3] [--seconds 10] [--connections 64] [--threads 2] [--ids 2000]
//                 [--queries 200] [--search-budget 20] [--seed 1] [--medplum on|off] [--nginx on|off]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { BENCH, freePort, log, medplumAvailable, parseArgs, percentile, request, rssOf, sleep, startGrunnmur,
  startMedplum, stopServer, synthFiles } from '../lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const rounds = Number(args.rounds ?? 3);
const seconds = Number(args.seconds ?? 10);
const connections = Number(args.connections ?? 64);
const threads = Number(args.threads ?? 2);
const nIds = Number(args.ids ?? 2000);
const queries = Number(args.queries ?? 200);
const seed = Number(args.seed ?? 1);
const work = args.work;
const FNR_SYSTEM = 'urn:oid:2.16.578.1.12.4.1.4.1';

function rng(s) {  // mulberry32
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function which(cmd) {
  try { return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim() || null; } catch { return null; }
}

// One streaming pass over the synth bundles: a seeded reservoir sample of
// resource paths, and of patients (id, FNR, one Observation code of theirs).
async function sample() {
  const r = rng(seed);
  const paths = [], patients = [];
  let seenPaths = 0, seenPatients = 0;
  for (const file of synthFiles(args.synth)) {
    const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.trim()) continue;
      const b = JSON.parse(line);
      let pat = null;
      for (const e of b.entry ?? []) {
        const url = e.request?.url;
        if (!url || e.request.method !== 'PUT') continue;
        seenPaths++;
        if (paths.length < nIds) paths.push(`/${url}`);
        else { const k = Math.floor(r() * seenPaths); if (k < nIds) paths[k] = `/${url}`; }
        const res = e.resource;
        if (res?.resourceType === 'Patient') {
          const fnr = res.identifier?.find((x) => x.system === FNR_SYSTEM)?.value;
          if (fnr) pat = { id: res.id, fnr, code: null };
        } else if (pat && !pat.code && res?.resourceType === 'Observation') {
          const c = res.code?.coding?.find((x) => x.system === 'http://loinc.org');
          if (c) pat.code = c.code;
        }
      }
      if (pat && pat.code) {
        seenPatients++;
        if (patients.length < 500) patients.push(pat);
        else { const k = Math.floor(r() * seenPatients); if (k < 500) patients[k] = pat; }
      }
    }
  }
  return { paths, patients, seenPaths };
}

async function loadMedplum(server) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let failures = 0, resources = 0;
  for (const file of synthFiles(args.synth)) {
    const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    const inflight = new Set();
    for await (const line of rl) {
      if (!line.trim()) continue;
      const b = JSON.parse(line);
      for (let i = 0; i < (b.entry?.length ?? 0); i += 50) {
        const body = JSON.stringify({ ...b, entry: b.entry.slice(i, i + 50) });
        const p = request(agent, server.port, 'POST', '/', { body }).then((res) => {
          if (res.status !== 200) failures++;
          else resources += JSON.parse(res.body).entry?.length ?? 0;
        });
        inflight.add(p);
        p.finally(() => inflight.delete(p));
        if (inflight.size >= 4) await Promise.race(inflight);
      }
    }
    await Promise.all(inflight);
  }
  agent.destroy();
  return { resources, failures };
}

function startNginx(port, root) {
  const dir = path.join(work, 'nginx');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  // The nginx defaults a package would use for static files, with keep-alive
  // unlimited (as for the other contenders), logging off, one worker per core.
  const conf = `daemon off;
master_process on;
worker_processes ${Math.max(1, (await_nproc()))};
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  types { }
  default_type application/fhir+json;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { try_files $uri =404; }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = spawn(which('nginx') ?? '/usr/sbin/nginx', ['-e', `${dir}/error.log`, '-p', dir, '-c', `${dir}/nginx.conf`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  return { name: 'nginx', proc, port, token: null };
}
function await_nproc() { try { return Number(execFileSync('nproc').toString().trim()); } catch { return 2; } }

async function waitFor(port, p) {
  const agent = new http.Agent({ keepAlive: false });
  for (let i = 0; i < 500; i++) {
    try { if ((await request(agent, port, 'GET', p)).status === 200) return; } catch { /* not yet */ }
    await sleep(10);
  }
  throw new Error(`nothing answers 200 on port ${port} for ${p}`);
}

function wrk(server, pathsFile, round) {
  const out = execFileSync('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency',
    '-s', path.join(BENCH, 'read/ids.lua'), `http://127.0.0.1:${server.port}`, '--',
    pathsFile, server.token ?? '-', String(seed * 100 + round)], { maxBuffer: 1 << 24 }).toString();
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  const j = JSON.parse(line);
  const errs = Object.values(j.errors).reduce((s, x) => s + x, 0);
  return { contender: server.name, round, ...j, error_count: errs,
    requests_per_s: j.requests / (j.duration_us / 1e6), mb_per_s: j.bytes / (j.duration_us / 1e6) / 1e6 };
}

const SEARCHES = [
  ['patient_by_identifier', 'Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|FNR',
    (p) => `/Patient?identifier=${encodeURIComponent(`${FNR_SYSTEM}|${p.fnr}`)}&_count=20`],
  ['obs_by_patient_code', 'Observation?patient=Patient/X&code=http://loinc.org|CODE',
    (p) => `/Observation?patient=Patient/${p.id}&code=${encodeURIComponent(`http://loinc.org|${p.code}`)}&_count=20`],
  ['obs_by_patient_newest', 'Observation?patient=Patient/X&_sort=-date&_count=20',
    (p) => `/Observation?patient=Patient/${p.id}&_sort=-date&_count=20`],
  ['medreq_by_patient_active', 'MedicationRequest?patient=Patient/X&status=active',
    (p) => `/MedicationRequest?patient=Patient/${p.id}&status=active&_count=20`],
];

async function searchMix(server, patients, kind) {
  const [name, shape, make] = kind;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // Separate streams for warm-up and timed requests, so that every contender's
  // timed requests ask for the same patients in the same order (a contender cut
  // short by the budget answers a prefix of that sequence).
  const r = rng(seed * 7919 + name.length), rWarm = rng(seed * 104729 + name.length);
  const lat = [];
  let errors = 0, entries = 0, firstError = null;
  const perRequest = [];  // entries of each timed response, in order (-1: error)
  const warmup = Math.min(10, queries);
  // A time budget per kind (--search-budget seconds, default 20) keeps
  // contenders that scan everything from taking the whole run; the number of
  // timed requests is reported.
  const budgetMs = Number(args['search-budget'] ?? 20) * 1000;
  const t0 = Date.now();
  for (let k = 0; k < warmup + queries; k++) {
    if (k >= warmup && lat.length > 0 && Date.now() - t0 > budgetMs) break;
    const p = patients[Math.floor((k < warmup ? rWarm : r)() * patients.length)];
    const res = await request(agent, server.port, 'GET', make(p), { token: server.token });
    if (k < warmup) {
      if (Date.now() - t0 > budgetMs / 4) k = warmup - 1;  // slow contender: cut the warm-up short
      continue;
    }
    lat.push(res.ms);
    if (res.status !== 200) {
      errors++;
      firstError ??= `${res.status} ${res.body.toString().slice(0, 300)}`;
      perRequest.push(-1);
      continue;
    }
    const n = JSON.parse(res.body).entry?.length ?? 0;
    entries += n;
    perRequest.push(n);
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  const row = { contender: server.name, name, shape, requests: lat.length, errors,
    p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99), max_ms: lat[lat.length - 1],
    mean_entries: lat.length - errors ? entries / (lat.length - errors) : 0, entries_per_request: perRequest };
  if (firstError) row.first_error = firstError;
  return row;
}

async function main() {
  fs.mkdirSync(work, { recursive: true });
  const out = { rounds, seconds, connections, threads, ids: nIds, seed, runs: [], searches: [], skipped: [] };
  const servers = [];
  try {
    const gm = await startGrunnmur(args.binary, args.data, await freePort());
    servers.push(gm);
    out.startup_loaded_ms = gm.startupMs;
    await sleep(500);
    out.idle_rss_loaded_mib = rssOf(gm.proc.pid).rss_mib;
    const { paths, patients, seenPaths } = await sample();
    out.resources_in_synth = seenPaths;
    // The exact bytes grunnmur serves for each sampled id become nginx's files.
    const www = path.join(work, 'www');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let bytes = 0;
    for (const p of paths) {
      const res = await request(agent, gm.port, 'GET', p, { token: gm.token });
      if (res.status !== 200) throw new Error(`grunnmur GET ${p}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      fs.mkdirSync(path.join(www, path.dirname(p)), { recursive: true });
      fs.writeFileSync(path.join(www, p), res.body);
      bytes += res.body.length;
    }
    agent.destroy();
    out.mean_resource_bytes = bytes / paths.length;
    const pathsFile = path.join(work, 'paths.txt');
    fs.writeFileSync(pathsFile, paths.join('\n') + '\n');
    log(`  read: ${paths.length} ids sampled of ${seenPaths}, mean ${out.mean_resource_bytes.toFixed(0)} bytes; ` +
      `grunnmur up in ${gm.startupMs.toFixed(0)} ms, idle RSS ${out.idle_rss_loaded_mib.toFixed(0)} MiB`);

    const contenders = [gm];
    if (args.nginx !== 'off' && which('nginx')) {
      const ng = startNginx(await freePort(), www);
      servers.push(ng);
      await waitFor(ng.port, paths[0]);
      contenders.push(ng);
    } else out.skipped.push('nginx: not installed (Debian package nginx-light; make bench installs it)');
    let mp = null;
    if (args.medplum !== 'off' && medplumAvailable()) {
      mp = await startMedplum(await freePort());
      servers.push(mp);
      const t0 = Date.now();
      out.medplum_load = await loadMedplum(mp);
      out.medplum_load.seconds = (Date.now() - t0) / 1000;
      out.medplum_rss_loaded_mib = rssOf(mp.proc.pid).rss_mib;
      log(`  read: medplum loaded ${out.medplum_load.resources} resources (${out.medplum_load.failures} failures) ` +
        `in ${out.medplum_load.seconds.toFixed(1)} s, RSS ${out.medplum_rss_loaded_mib.toFixed(0)} MiB`);
      contenders.push(mp);
    } else out.skipped.push('medplum: bench/peers/medplum not installed (make bench installs it)');
    if (!which('wrk')) {
      out.skipped.push('wrk: not installed (Debian package wrk; make bench installs it): no read-by-id figures');
    } else {
      for (let round = 1; round <= rounds; round++) {
        for (const c of contenders) {
          const run = wrk(c, pathsFile, round);
          log(`  read round ${round}/${rounds} ${c.name}: ${run.requests_per_s.toFixed(0)} req/s, ` +
            `p50 ${(run.latency_us.p50 / 1000).toFixed(2)} ms, p99 ${(run.latency_us.p99 / 1000).toFixed(2)} ms, ${run.error_count} errors`);
          out.runs.push(run);
        }
      }
    }
    out.rss_after_read = { grunnmur: rssOf(gm.proc.pid), ...(mp ? { medplum: rssOf(mp.proc.pid) } : {}) };
    // Searches: grunnmur and Medplum alternately, per query kind.
    for (const kind of SEARCHES) {
      for (const c of [gm, ...(mp ? [mp] : [])]) {
        const row = await searchMix(c, patients, kind);
        log(`  search ${c.name} ${row.name}: p50 ${row.p50_ms.toFixed(2)} ms, p99 ${row.p99_ms.toFixed(2)} ms, ` +
          `${row.mean_entries.toFixed(1)} entries, ${row.errors} errors`);
        out.searches.push(row);
      }
    }
  } finally {
    for (const s of servers.reverse()) await stopServer(s);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { log(e.stack ?? String(e)); process.exit(1); });
