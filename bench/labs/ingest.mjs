// Svarrapport ingestion throughput: POST /$svarrapport of the sample messages
// against a running grunnmur, every message made new (its message id and the
// lab's requisition and report ids get a per-round suffix, so each request
// writes a full report instead of hitting the idempotent no-op path).
//   node bench/labs/ingest.mjs --url http://127.0.0.1:8080 --token T [--rounds 5] [--connections 4]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url ?? 'http://127.0.0.1:8080';
const token = args.token ?? process.env.GRUNNMUR_TOKEN ?? '';
const rounds = Number(args.rounds ?? 5);
const connections = Number(args.connections ?? 4);
const samples = args.samples ?? new URL('../../../shared/norway/svarrapport/samples', import.meta.url).pathname;

// Messages as latin1 strings (byte-preserving for UTF-8 and ISO-8859-1 alike);
// UTF-16 files are left out (the ids could not be rewritten as bytes).
const messages = readdirSync(samples).sort().map((f) => readFileSync(join(samples, f)))
  .filter((b) => !(b[0] === 0xff && b[1] === 0xfe))
  .map((b) => b.toString('latin1'));

function vary(xml, tag) {
  return xml
    .replace(/<MsgId>([^<]*)<\/MsgId>/, (_, v) => `<MsgId>${v}-${tag}</MsgId>`)
    .replace(/<ServProvId>([^<]*)<\/ServProvId>/, (_, v) => `<ServProvId>${v}-${tag}</ServProvId>`)
    .replace(/(<ServReq>[\s\S]*?<Id>)([^<]*)(<\/Id>)/, (_, a, v, c) => `${a}${v}-${tag}${c}`)
    .replace(/(<ServReq>[\s\S]*?<IdByServProvider>)([^<]*)(<\/IdByServProvider>)/,
      (_, a, v, c) => `${a}${v}-${tag}${c}`);
}

const work = [];
for (let r = 0; r < rounds; r++) messages.forEach((m) => work.push(vary(m, `b${r}`)));

let ok = 0, rejected = 0, failed = 0;
const latencies = [];
async function worker() {
  while (work.length) {
    const body = Buffer.from(work.shift(), 'latin1');
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/$svarrapport`, {
        method: 'POST', body,
        headers: { 'Content-Type': 'application/xml', Authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      if (res.status === 200) ok++; else rejected++;
    } catch (e) {
      failed++;
    }
    latencies.push(performance.now() - t0);
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: connections }, worker));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
console.log(JSON.stringify({
  messages: ok + rejected, ingested: ok, rejected, failed, seconds: Number(seconds.toFixed(2)),
  ingested_per_second: Number((ok / seconds).toFixed(1)),
  messages_per_second: Number(((ok + rejected) / seconds).toFixed(1)),
  latency_ms: { p50: pct(0.5), p95: pct(0.95), max: pct(1) }, connections, rounds,
}));
