// Search throughput over one or more grunnmur nodes: a fixed clinical query
// mix (patient by fødselsnummer, a patient's observations newest first, a
// read by id, name prefix, a patient's compartment) built from the loaded
// data, sent round-robin to the nodes by `--clients` concurrent keep-alive
// clients. Prints one JSON object: queries, seconds, queries per second, and
// p50/p95/p99 latency in ms per query kind.
//
//   node queries.mjs --urls http://127.0.0.1:P1,http://127.0.0.1:P2 --token T
//                    [--queries 2000] [--clients 8]
import http from 'node:http';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, xs) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1]]] : acc), []));
const urls = (args.urls ?? '').split(',').filter(Boolean).map((u) => new URL(u));
const token = args.token;
const total = Number(args.queries ?? 2000);
const clients = Number(args.clients ?? 8);
if (urls.length === 0 || !token) {
  console.error('usage: node queries.mjs --urls URL[,URL...] --token T [--queries N] [--clients C]');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: clients * 2 });

function get(url, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, agent,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
// Sample patients (ids, fødselsnummer, a name prefix) from the first node.
const sample = await get(urls[0], '/Patient?_count=200');
if (sample.status !== 200) {
  console.error('cannot sample patients:', sample.status, sample.body.slice(0, 300));
  process.exit(1);
}
const patients = (JSON.parse(sample.body).entry ?? []).map((e) => e.resource).map((p) => ({
  id: p.id,
  fnr: (p.identifier ?? []).find((i) => i.system === FNR)?.value,
  family: p.name?.[0]?.family ?? 'a',
}));
if (patients.length === 0) {
  console.error('no patients loaded');
  process.exit(1);
}
const kinds = {
  'patient by fnr': (p) => `/Patient?identifier=${encodeURIComponent(`${FNR}|${p.fnr ?? ''}`)}`,
  'observations of a patient, newest first': (p) => `/Observation?subject=Patient/${p.id}&_sort=-date&_count=20`,
  'read patient': (p) => `/Patient/${p.id}`,
  'name prefix': (p) => `/Patient?name=${encodeURIComponent(p.family.slice(0, 3))}&_count=10`,
  'compartment medication requests': (p) => `/Patient/${p.id}/MedicationRequest?_count=20`,
};
const names = Object.keys(kinds);
const latencies = Object.fromEntries(names.map((n) => [n, []]));
let next = 0, errors = 0;
const start = process.hrtime.bigint();
async function client() {
  for (;;) {
    const i = next++;
    if (i >= total) return;
    const kind = names[i % names.length];
    const p = patients[(i * 7919) % patients.length];
    const url = urls[i % urls.length];
    const t0 = process.hrtime.bigint();
    const r = await get(url, kinds[kind](p));
    latencies[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) errors++;
  }
}
await Promise.all(Array.from({ length: clients }, client));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? +s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(2) : null;
};
const per_kind = Object.fromEntries(names.map((n) => [n,
  { p50_ms: pct(latencies[n], 0.5), p95_ms: pct(latencies[n], 0.95), p99_ms: pct(latencies[n], 0.99) }]));
console.log(JSON.stringify({ nodes: urls.length, queries: total, clients, errors,
  seconds: +seconds.toFixed(3), qps: Math.round(total / seconds), per_kind }));
agent.destroy();
