// Helpers shared by the bench drivers (ingest/, read/): argument parsing,
// keep-alive HTTP requests, free ports, RSS from /proc, starting and stopping
// a real `grunnmur serve` and the Medplum peer.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function parseArgs(argv) {
  return Object.fromEntries(argv.reduce((acc, a, i, xs) =>
    (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1] !== undefined && !xs[i + 1].startsWith('--') ? xs[i + 1] : 'true']] : acc), []));
}

export const log = (...a) => process.stderr.write(a.join(' ') + '\n');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unrefTimeout = (ms) => new Promise((r) => setTimeout(r, ms).unref());

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// One request over `agent`; resolves { status, body, ms } (ms: sent → last byte).
export function request(agent, port, method, urlPath, { body, contentType, token } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/fhir+json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/fhir+json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers }, (res) => {
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

export function rssOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [0, 0])[1]);
  return { rss_mib: kb('VmRSS') / 1024, peak_rss_mib: kb('VmHWM') / 1024 };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
}

function watch(proc) {
  const state = { stderr: '', exited: null };
  proc.stderr?.on('data', (d) => { state.stderr = (state.stderr + d).slice(-4000); });
  proc.on('exit', (code, sig) => { state.exited = code ?? sig; });
  return state;
}

// Starts `grunnmur serve` on `dataDir`; resolves once /readyz answers 200.
// startupMs: spawn → first 200 from /readyz. token: minted from the data dir.
export async function startGrunnmur(binary, dataDir, port, extraArgs = []) {
  const t0 = process.hrtime.bigint();
  const proc = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const st = watch(proc);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (;;) {
    if (st.exited !== null) throw new Error(`grunnmur exited (${st.exited}): ${st.stderr}`);
    try {
      if ((await request(agent, port, 'GET', '/readyz')).status === 200) break;
    } catch { /* not listening yet */ }
    await sleep(2);
  }
  agent.destroy();
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const token = execFileSync(binary, ['token', '--data', dataDir, '--scope', 'system/*.cruds', '--ttl', '86400'])
    .toString().trim();
  return { name: 'grunnmur', proc, port, startupMs, token, stderr: () => st.stderr };
}

export function medplumAvailable() {
  return fs.existsSync(path.join(BENCH, 'peers/medplum/node_modules/@medplum/fhir-router/package.json'));
}

// Starts the Medplum peer (bench/peers/medplum/server.mjs, in memory only).
// Node 20 has no global WebSocket, which @medplum/core touches at load time:
// --experimental-websocket provides it (node >= 22 has it by default).
export async function startMedplum(port) {
  const t0 = process.hrtime.bigint();
  const flags = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-websocket'] : [];
  const proc = spawn(process.execPath, [...flags, path.join(BENCH, 'peers/medplum/server.mjs'), '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: path.join(BENCH, 'peers/medplum') });
  const st = watch(proc);
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; if (out.includes('ready')) resolve(); });
    proc.on('exit', () => reject(new Error(`medplum peer exited (${st.exited}): ${st.stderr}`)));
  });
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { name: 'medplum', proc, port, startupMs, token: null, stderr: () => st.stderr };
}

export async function stopServer(server) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return 0;
  const done = new Promise((r) => server.proc.once('exit', r));
  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  const timedOut = await Promise.race([done.then(() => false), unrefTimeout(60000).then(() => true)]);
  if (timedOut) { log('  server did not stop within 60 s of SIGTERM; killing it'); server.proc.kill('SIGKILL'); await done; }
  return Date.now() - t0;
}

// Synth output (`grunnmur synth --format bundles`): registry.ndjson, then
// patients.ndjson, one transaction bundle per line.
export function synthFiles(dir) {
  return ['registry.ndjson', 'patients.ndjson'].map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
}
