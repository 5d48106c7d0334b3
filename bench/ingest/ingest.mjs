// Ingest workload, one contender run: post the transaction bundles of a
// `grunnmur synth --format bundles` directory (registry first, then one bundle
// per citizen) over N keep-alive connections, and measure resources/s and the
// server's peak RSS. Prints one JSON object on stdout; progress on stderr.
//
//   node ingest.mjs --contender grunnmur --binary build/grunnmur --data DIR --synth DIR [--connections 4]
//   node ingest.mjs --contender medplum --synth DIR [--connections 4]
//
// grunnmur starts on an empty --data directory (start-up time and idle RSS of
// the empty server are reported too) and answers each bundle after a durable
// commit. The Medplum peer keeps everything in memory; it refuses transactions
// with more than 50 updates, so larger bundles are split into consecutive
// transactions of at most 50 entries for it (counted in `requests`).
import fs from 'node:fs';
import http from 'node:http';
import readline from 'node:readline';
import { freePort, log, parseArgs, request, rssOf, sleep, startGrunnmur, startMedplum, stopServer, synthFiles } from '../lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const contender = args.contender ?? 'grunnmur';
const connections = Number(args.connections ?? 4);
const MEDPLUM_MAX_ENTRIES = 50;

async function* lines(file) {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) yield line;
}

function split(text) {
  if (contender !== 'medplum') return [text];
  const b = JSON.parse(text);
  if ((b.entry?.length ?? 0) <= MEDPLUM_MAX_ENTRIES) return [text];
  const out = [];
  for (let i = 0; i < b.entry.length; i += MEDPLUM_MAX_ENTRIES) {
    out.push(JSON.stringify({ ...b, entry: b.entry.slice(i, i + MEDPLUM_MAX_ENTRIES) }));
  }
  return out;
}

async function main() {
  const port = Number(args.port ?? 0) || await freePort();
  let server;
  if (contender === 'grunnmur') {
    fs.rmSync(args.data, { recursive: true, force: true });
    fs.mkdirSync(args.data, { recursive: true });
    server = await startGrunnmur(args.binary, args.data, port);
  } else if (contender === 'medplum') {
    server = await startMedplum(port);
  } else throw new Error(`unknown contender ${contender}`);
  const out = { contender, connections, startup_empty_ms: server.startupMs, idle_rss_empty_mib: rssOf(server.proc.pid).rss_mib,
    durable: contender === 'grunnmur' };
  const files = synthFiles(args.synth);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let resources = 0, bytes = 0, failures = 0, requests = 0, firstFailure = null;
  const post = async (text) => {
    for (const part of split(text)) {
      const r = await request(agent, port, 'POST', '/', { body: part, token: server.token });
      requests++;
      bytes += Buffer.byteLength(part);
      if (r.status !== 200) {
        failures++;
        firstFailure ??= `HTTP ${r.status} ${r.body.toString().slice(0, 300)}`;
        continue;
      }
      // Each entry of the transaction-response is one stored resource.
      resources += JSON.parse(r.body).entry?.length ?? 0;
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let lastLog = Date.now();
  for (const file of files) {
    // The registry (organisations, practitioners) first, one bundle at a time;
    // then the citizens' bundles over all connections.
    const parallel = file.endsWith('patients.ndjson') ? connections : 1;
    const it = lines(file);
    const worker = async () => {
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        await post(n.value);
        if (Date.now() - lastLog > 10000) {
          lastLog = Date.now();
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          log(`  ${contender} ingest: ${resources} resources in ${s.toFixed(0)} s (${(resources / s).toFixed(0)}/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  Object.assign(out, { resources, requests, bytes, failures, seconds, resources_per_s: resources / seconds,
    client_cpu_s: (cpu.user + cpu.system) / 1e6, ...rssOf(server.proc.pid) });
  if (firstFailure) out.first_failure = firstFailure;
  out.stop_ms = await stopServer(server);
  if (contender === 'grunnmur') {
    out.db_bytes = fs.readdirSync(args.data).filter((f) => f.startsWith('grunnmur.db'))
      .reduce((s, f) => s + fs.statSync(`${args.data}/${f}`).size, 0);
  }
  log(`  ${contender}: ${resources} resources in ${seconds.toFixed(1)} s = ${out.resources_per_s.toFixed(0)}/s, ` +
    `${failures} failed requests, peak RSS ${out.peak_rss_mib.toFixed(0)} MiB`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { log(e.stack ?? String(e)); process.exit(1); });
