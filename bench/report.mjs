// Turns the raw figures of one bench/run (OUT/raw/*) into OUT/results.json
// (every figure), OUT/results.md (tables) and OUT/*.png (gnuplot, when installed).
//   node report.mjs OUT
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
const raw = (f) => path.join(out, 'raw', f);
const readJson = (f) => JSON.parse(fs.readFileSync(raw(f), 'utf8'));
const exists = (f) => fs.existsSync(raw(f));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length,
  spread_pct: xs.length > 1 ? (100 * (Math.max(...xs) - Math.min(...xs))) / median(xs) : 0, runs: xs });
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–'
  : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

const results = { meta: { ...readJson('meta.json'), ...(exists('meta-end.json') ? readJson('meta-end.json') : {}) }, targets: {
  fhirpath_ratio_min: 20, search_p99_ms_max_at_1m: 5, ingest_resources_per_s_min: 15000,
  rss_mib_max_at_1m: 200, startup_ms_max: 1000, read_ratio_to_nginx_min: 0.5 } };
const md = [];
md.push(`# grunnmur benchmark ${results.meta.started}${results.meta.smoke ? ' (SMOKE: tiny sizes, figures mean nothing)' : ''}`, '');
md.push(`${results.meta.cpus} CPUs (${results.meta.cpu_model}), ${fmt(results.meta.mem_mib)} MiB, ` +
  `git ${results.meta.git}, node ${results.meta.node}. Load average at start ${results.meta.loadavg_start}, ` +
  `at end ${results.meta.loadavg_end ?? '?'} (other work on the machine skews every figure). Targets: docs "Performance budget".`, '');

// --- FHIRPath ---
if (exists('fhirpath-runs.ndjson')) {
  const cases = readJson('fhirpath-cases.json');
  const gm = readJson('fhirpath-check-grunnmur.json');
  const js = readJson('fhirpath-check-js.json');
  const ids = readJson('fhirpath-ids.json');
  const runs = fs.readFileSync(raw('fhirpath-runs.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const groups = {};
  for (const g of ['suite', 'searchparam']) {
    const total = cases.cases.filter((c) => c.group === g).length;
    const inGroup = (xs) => xs.filter((id) => cases.cases.find((c) => c.id === id)?.group === g);
    const eng = {};
    for (const e of ['grunnmur', 'fhirpath.js']) {
      const xs = runs.filter((r) => r.group === g && r.engine === e).map((r) => r.evals_per_s);
      if (xs.length) eng[e] = stats(xs);
    }
    if (!eng.grunnmur || !eng['fhirpath.js']) continue;
    // Ratio per round (A and B of the same round), then its median.
    const gmRuns = eng.grunnmur.runs, jsRuns = eng['fhirpath.js'].runs;
    const ratios = gmRuns.map((x, i) => x / jsRuns[i]);
    groups[g] = {
      cases_total: total, cases_timed: inGroup(ids).length,
      rejected_by_grunnmur: { compile: inGroup(gm.compile_rejected), eval: inGroup(gm.eval_rejected) },
      rejected_by_fhirpath_js: { compile: inGroup(js.compile_rejected), eval: inGroup(js.eval_rejected) },
      evals_per_s: eng, ratio: stats(ratios), ratio_of_medians: eng.grunnmur.median / eng['fhirpath.js'].median,
    };
  }
  results.fhirpath = { fhirpath_js_version: js.version, suite_expected_invalid_excluded: cases.suite_expected_invalid, groups };
  md.push('## FHIRPath: grunnmur vs fhirpath.js (same expressions, same inputs, A/B alternated)', '');
  md.push('| workload | cases timed (of) | rejected gm / js | grunnmur evals/s (median, min–max) | fhirpath.js evals/s | ratio (median, min–max) | target |');
  md.push('|---|---|---|---|---|---|---|');
  for (const [g, r] of Object.entries(groups)) {
    const gmr = r.evals_per_s.grunnmur, jsr = r.evals_per_s['fhirpath.js'];
    const rej = (x) => x.compile.length + x.eval.length;
    md.push(`| ${g === 'suite' ? 'official R4 suite' : 'R4 search parameters'} | ${r.cases_timed} (${r.cases_total}) | ` +
      `${rej(r.rejected_by_grunnmur)} / ${rej(r.rejected_by_fhirpath_js)} | ${fmt(gmr.median)} (${fmt(gmr.min)}–${fmt(gmr.max)}) | ` +
      `${fmt(jsr.median)} (${fmt(jsr.min)}–${fmt(jsr.max)}) | **${fmt(r.ratio.median, 1)}×** (${fmt(r.ratio.min, 1)}–${fmt(r.ratio.max, 1)}) | ≥ 20× |`);
  }
  md.push('', `Suite tests that expect an error (${cases.suite_expected_invalid}) are not timed. ` +
    `Cases rejected by either engine (compile or evaluation error) are not timed; they are listed in results.json.`, '');
}

// --- Ingest: grunnmur vs the SQLite and simdjson ceilings and the Medplum peer ---
const ratioStats = (a, b) => {  // per-round ratios a/b, then their median
  const rs = a.map((x, i) => (b[i] ? x / b[i] : null)).filter((x) => x !== null);
  return rs.length ? stats(rs) : null;
};
if (exists('ingest-runs.ndjson')) {
  const runs = fs.readFileSync(raw('ingest-runs.ndjson'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const by = (c) => runs.filter((r) => r.contender === c).sort((a, b) => a.round - b.round);
  const gm = by('grunnmur'), sq = by('sqlite'), sj = by('simdjson'), mp = by('medplum');
  const rate = (xs) => xs.map((r) => r.resources_per_s);
  const contenders = {};
  for (const [name, xs] of [['grunnmur', gm], ['sqlite', sq], ['simdjson', sj], ['medplum', mp]]) {
    if (!xs.length) continue;
    contenders[name] = { resources_per_s: stats(rate(xs)), peak_rss_mib: stats(xs.map((r) => r.peak_rss_mib)),
      resources: xs[0].resources, failures: xs.reduce((s, r) => s + (r.failures ?? 0), 0) };
  }
  results.ingest = {
    synth: exists('synth-manifest.json') ? readJson('synth-manifest.json') : null, runs, contenders,
    grunnmur_to_sqlite: ratioStats(rate(gm), rate(sq)), grunnmur_to_simdjson: ratioStats(rate(gm), rate(sj)),
    grunnmur_to_medplum: mp.length ? ratioStats(rate(gm), rate(mp)) : null,
    index_rows_per_resource: sq.length ? sq[0].index_rows / sq[0].resources : null,
  };
  const m = results.ingest.synth;
  md.push('## Ingest (durable transaction bundles) against its ceilings and the Medplum peer, A B C D alternated', '');
  md.push(`Input: \`grunnmur synth --format bundles --seed ${results.meta.seed}\`: ${m ? `${fmt(m.patients)} citizens, ${fmt(m.resources)} resources` : '?'}; ` +
    'one transaction bundle per citizen (registry first), 4 keep-alive connections.', '');
  md.push('| contender | what it does | resources/s (median, min–max, spread) | grunnmur ÷ it (median of rounds) | peak RSS MiB (median) |');
  md.push('|---|---|---|---|---|');
  const what = {
    grunnmur: 'HTTP transaction → validate, index, durable commit (WAL, synchronous=FULL)',
    sqlite: `the same rows straight into SQLite (same schema, WAL, synchronous=FULL), ${sq[0] ? fmt(sq[0].batch_resources) : '?'} resources per transaction; ` +
      `${results.ingest.index_rows_per_resource ? fmt(results.ingest.index_rows_per_resource, 1) : '?'} index rows per resource`,
    simdjson: 'parse the same NDJSON bytes into a DOM and walk it (one thread)',
    medplum: '@medplum/fhir-router + MemoryRepository behind node:http — **in memory only, not durable**; bundles split to ≤ 50 entries',
  };
  const ratioOf = { sqlite: results.ingest.grunnmur_to_sqlite, simdjson: results.ingest.grunnmur_to_simdjson, medplum: results.ingest.grunnmur_to_medplum };
  for (const [name, c] of Object.entries(contenders)) {
    const r = c.resources_per_s, q = ratioOf[name];
    md.push(`| ${name} | ${what[name]} | **${fmt(r.median)}** (${fmt(r.min)}–${fmt(r.max)}, ${fmt(r.spread_pct)}%)${c.failures ? ` ${c.failures} failed requests` : ''} | ` +
      `${q ? `${fmt(q.median, 3)} (${fmt(q.min, 3)}–${fmt(q.max, 3)})` : '–'} | ${fmt(c.peak_rss_mib.median)} |`);
  }
  md.push('', `Target: grunnmur ≥ 15,000 resources/s durable on 2 cores. Spread = (max − min) / median over ${gm.length} rounds. ` +
    'The SQLite figure times only the INSERTs and COMMITs (the rows are read from grunnmur\'s database beforehand); ' +
    'simdjson is one thread, grunnmur and Medplum use every core they get.', '');
}

// --- Read by id (wrk) and the Medplum search comparison ---
if (exists('read.json')) {
  const rd = readJson('read.json');
  const byC = (c) => rd.runs.filter((r) => r.contender === c).sort((a, b) => a.round - b.round);
  const names = [...new Set(rd.runs.map((r) => r.contender))];
  const per = {};
  for (const n of names) {
    const xs = byC(n);
    per[n] = { requests_per_s: stats(xs.map((r) => r.requests_per_s)), p50_ms: stats(xs.map((r) => r.latency_us.p50 / 1000)),
      p99_ms: stats(xs.map((r) => r.latency_us.p99 / 1000)), errors: xs.reduce((s, r) => s + r.error_count, 0) };
  }
  const rps = (n) => byC(n).map((r) => r.requests_per_s);
  results.read = { ...rd, contenders: per,
    grunnmur_to_nginx: per.nginx ? ratioStats(rps('grunnmur'), rps('nginx')) : null,
    grunnmur_to_medplum: per.medplum ? ratioStats(rps('grunnmur'), rps('medplum')) : null };
  if (rd.runs.length) {
    md.push(`## Read by id (wrk, ${rd.connections} keep-alive connections, ${rd.threads} threads, ${rd.seconds} s per run, ` +
      `${fmt(rd.ids)} random ids, A B C alternated ${rd.rounds}×)`, '');
    md.push(`Mean resource ${fmt(rd.mean_resource_bytes)} bytes; nginx serves exactly the bytes grunnmur returned for each id, as static files.`, '');
    md.push('| contender | requests/s (median, min–max, spread) | grunnmur ÷ it | latency p50 ms | p99 ms | errors |');
    md.push('|---|---|---|---|---|---|');
    for (const n of names) {
      const c = per[n];
      const q = n === 'nginx' ? results.read.grunnmur_to_nginx : n === 'medplum' ? results.read.grunnmur_to_medplum : null;
      md.push(`| ${n}${n === 'medplum' ? ' (in memory)' : ''} | **${fmt(c.requests_per_s.median)}** (${fmt(c.requests_per_s.min)}–${fmt(c.requests_per_s.max)}, ${fmt(c.requests_per_s.spread_pct)}%) | ` +
        `${q ? `${fmt(q.median, 3)} (${fmt(q.min, 3)}–${fmt(q.max, 3)})` : '–'} | ${fmt(c.p50_ms.median, 2)} | ${fmt(c.p99_ms.median, 2)} | ${c.errors} |`);
    }
    md.push('', 'Target: grunnmur ≥ 0.5 × nginx. wrk runs on the same 2 cores as the server (as does everything else on the machine).', '');
  }
  if (rd.searches.length) {
    md.push('## Searches: grunnmur vs the Medplum peer (single client, same synth data, alternated per query kind)', '');
    md.push('| query | grunnmur p50 / p99 ms (mean entries) | Medplum p50 / p99 ms (mean entries, timed requests) | same entry counts on the common requests |');
    md.push('|---|---|---|---|');
    for (const name of [...new Set(rd.searches.map((q) => q.name))]) {
      const g = rd.searches.find((q) => q.name === name && q.contender === 'grunnmur');
      const m = rd.searches.find((q) => q.name === name && q.contender === 'medplum');
      const cell = (q) => (q ? `${fmt(q.p50_ms, 2)} / ${fmt(q.p99_ms, 2)} (${fmt(q.mean_entries, 1)}${q.contender === 'medplum' ? `, ${q.requests}` : ''})${q.errors ? ` ${q.errors} errors` : ''}` : '–');
      // Both contenders ask for the same patients in the same order; Medplum may
      // answer only a prefix (time budget). Compare the entry counts there.
      let agree = '–';
      if (g?.entries_per_request && m?.entries_per_request) {
        const k = Math.min(g.entries_per_request.length, m.entries_per_request.length);
        const same = g.entries_per_request.slice(0, k).filter((x, i) => x === m.entries_per_request[i]).length;
        agree = `${same} of ${k}`;
      }
      md.push(`| ${name}: \`${g.shape.replaceAll('|', '\\|')}\` | ${cell(g)} | ${cell(m)} | ${agree} |`);
    }
    md.push('', 'Medplum\'s MemoryRepository answers searches by scanning every resource of the type; it holds everything in memory ' +
      '(nothing durable). Its timed requests are capped by a time budget per query kind.', '');
  }
  if (rd.skipped.length) md.push(...rd.skipped.map((x) => `_Skipped: ${x}._`), '');
}

// --- Search ---
const searchFiles = fs.existsSync(path.join(out, 'raw'))
  ? fs.readdirSync(path.join(out, 'raw')).filter((f) => /^search-\d+\.json$/.test(f)) : [];
if (searchFiles.length) {
  const bySize = searchFiles.map((f) => readJson(f)).sort((a, b) => a.size_requested - b.size_requested);
  results.search = bySize;
  md.push('## Scale curve: ingest, start-up and memory per size (search population of bench/search/gen.mjs)', '');
  md.push('| resources | patients | ingest resources/s (target ≥ 15,000) | ingest s | failed bundles | peak RSS ingest MiB | start-up empty / loaded ms (≤ 1000) | RSS idle loaded MiB | RSS after queries MiB (≤ 200 at 1M) | DB size MiB |');
  md.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of bySize) {
    md.push(`| ${fmt(s.ingest.resources)}${s.ingest.truncated_by_budget ? ` (of ${fmt(s.patients * 100 + s.practitioners)}: ingest budget hit)` : ''} | ${fmt(s.patients_loaded ?? (s.ingest.truncated_by_budget ? Math.round((s.ingest.resources - s.practitioners) / 100) : s.patients))} | **${fmt(s.ingest.resources_per_s)}** | ${fmt(s.ingest.seconds, 1)} | ` +
      `${s.ingest.failures} | ${fmt(s.ingest.peak_rss_mib)} | ${fmt(s.startup_empty_ms)} / ${fmt(s.startup_loaded_ms)} | ` +
      `${fmt(s.idle_rss_loaded_mib)} | ${fmt(s.after_queries?.rss_mib)} | ${fmt((s.db_bytes ?? 0) / 1048576)} |`);
  }
  const ppb = bySize[0].patients_per_bundle ?? 1;
  md.push('', `Ingest here is the **bulk load that builds the search databases**: ${ppb === 1 ? 'one transaction bundle per patient (~100 resources)'
    : `transaction bundles of ${ppb} patients each (~${fmt(ppb * 100)} resources, the same resources as the per-patient bundles, fewer and larger durable commits)`}, ` +
    `${bySize[0].connections} concurrent connections, durable (2xx after commit) — the per-citizen ingest rate is the Ingest table above. ` +
    'Peak RSS during ingest grows with the bundle size (each bundle is parsed whole). Client CPU is reported in results.json.', '');
  md.push('## Clinical search mix (single client, keep-alive; latency = request sent → last byte)', '');
  const names = bySize[0].queries.map((q) => q.name);
  md.push(`| query | ${bySize.map((s) => `${fmt(s.ingest.resources)}: p50 / p99 ms (entries)`).join(' | ')} | target p99 at 1M |`);
  md.push(`|---|${bySize.map(() => '---').join('|')}|---|`);
  for (const n of names) {
    const cells = bySize.map((s) => {
      const q = s.queries.find((x) => x.name === n);
      if (!q) return '–';
      const bad = q.p99_ms > 5 ? ' ⚠' : '';
      return `${fmt(q.p50_ms, 2)} / **${fmt(q.p99_ms, 2)}**${bad} (${fmt(q.mean_entries, 1)})${q.errors ? ` ${q.errors} errors` : ''}`;
    });
    const shape = bySize[0].queries.find((x) => x.name === n).shape.replaceAll('|', '\\|');
    md.push(`| ${n}: \`${shape}\` | ${cells.join(' | ')} | ≤ 5 |`);
  }
  md.push('', '⚠ = p99 above the 5 ms target. Patients are drawn at random (seeded) per request; ' +
    `${bySize[0].queries[0].requests} timed requests per query after 20 warm-up requests.`, '');
  const withConc = bySize.filter((s) => (s.concurrent ?? []).length);
  if (withConc.length) {
    md.push('## Clinical search mix with concurrency (throughput)', '');
    md.push('| resources | clients | requests/s | p50 ms | p90 ms | p99 ms | max ms | requests | errors | client CPU s | server RSS after MiB |');
    md.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of withConc) {
      for (const c of s.concurrent) {
        md.push(`| ${fmt(s.ingest.resources)} | ${c.clients} | **${fmt(c.requests_per_s)}** | ${fmt(c.p50_ms, 2)} | ${fmt(c.p90_ms, 2)} | ` +
          `${fmt(c.p99_ms, 2)} | ${fmt(c.max_ms, 1)} | ${fmt(c.requests)} | ${c.errors} | ${fmt(c.client_cpu_s, 1)} | ${fmt(s.after_concurrent?.rss_mib)} |`);
      }
    }
    md.push('', `Each client has its own keep-alive connection and sends the seven queries above in turn (a seeded random patient each), ` +
      `back to back, for ~${fmt(withConc[0].concurrent[0].seconds, 1)} s after one untimed pass; latency covers every request of the mix. ` +
      'The clients are one node process on the same 2 cores as the server (its CPU is the client CPU column).', '');
  }
}

// --- Start-up and idle memory, gathered from every workload that started a server ---
{
  const rows = [];
  const ingRuns = results.ingest?.runs ?? [];
  for (const r of ingRuns.filter((x) => x.contender === 'grunnmur' || x.contender === 'medplum')) {
    rows.push({ server: r.contender, database: 'empty', startup_ms: r.startup_empty_ms, idle_rss_mib: r.idle_rss_empty_mib, source: `ingest round ${r.round}` });
  }
  if (results.read?.startup_loaded_ms) {
    rows.push({ server: 'grunnmur', database: `${fmt(results.read.resources_in_synth)} resources`, startup_ms: results.read.startup_loaded_ms,
      idle_rss_mib: results.read.idle_rss_loaded_mib, source: 'read' });
  }
  for (const s of results.search ?? []) {
    rows.push({ server: 'grunnmur', database: 'empty', startup_ms: s.startup_empty_ms, idle_rss_mib: s.idle_rss_empty_mib, source: `search ${s.size_requested}` });
    if (s.startup_loaded_ms) {
      rows.push({ server: 'grunnmur', database: `${fmt(s.ingest.resources)} resources`, startup_ms: s.startup_loaded_ms,
        idle_rss_mib: s.idle_rss_loaded_mib, source: `search ${s.size_requested}` });
    }
  }
  if (rows.length) {
    results.startup = rows;
    md.push('## Start-up (spawn → first 200 from /readyz) and idle memory (VmRSS right after start-up)', '');
    md.push('| server | database | start-up ms (target ≤ 1000) | idle RSS MiB | measured in |');
    md.push('|---|---|---|---|---|');
    for (const r of rows) md.push(`| ${r.server} | ${r.database} | ${fmt(r.startup_ms)} | ${fmt(r.idle_rss_mib, 1)} | ${r.source} |`);
    if (rows.some((r) => r.server === 'medplum')) {
      md.push('', 'Medplum\'s start-up is node loading @medplum/core and indexing the R4 definitions; it holds no data at start.');
    }
    md.push('', 'The 1M-resource database figure comes from the search/scale workload at 1,000,000 (when it ran and its ingest budget allowed).', '');
  }
}

// --- Plots (gnuplot) ---
function plot(name, script) {
  try {
    execFileSync('gnuplot', [], { input: script, cwd: out, stdio: ['pipe', 'ignore', 'pipe'] });
    return `${name}.png`;
  } catch (e) {
    return null;
  }
}
let hasGnuplot = true;
try { execFileSync('gnuplot', ['--version'], { stdio: 'ignore' }); } catch { hasGnuplot = false; }
const plots = [];
if (hasGnuplot && results.fhirpath) {
  const rows = Object.entries(results.fhirpath.groups).map(([g, r]) => {
    const a = r.evals_per_s.grunnmur, b = r.evals_per_s['fhirpath.js'];
    return `${g} ${a.median} ${a.min} ${a.max} ${b.median} ${b.min} ${b.max}`;
  });
  fs.writeFileSync(path.join(out, 'fhirpath.dat'), rows.join('\n') + '\n');
  plots.push(plot('fhirpath', `set terminal pngcairo size 800,500 noenhanced
set output 'fhirpath.png'
set title 'FHIRPath evaluations/s (median, min-max bars; log scale)'
set logscale y
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set ylabel 'evaluations/s'
set yrange [1000:*]
set key top left
plot 'fhirpath.dat' using 2:3:4:xtic(1) title 'grunnmur', '' using 5:6:7 title 'fhirpath.js'
`));
}
if (hasGnuplot && results.search) {
  const sizes = results.search;
  const names = sizes[0].queries.map((q) => q.name);
  const lines = names.map((n) => [n, ...sizes.flatMap((s) => {
    const q = s.queries.find((x) => x.name === n);
    return [q?.p50_ms ?? 'NaN', q?.p99_ms ?? 'NaN'];
  })].join(' '));
  fs.writeFileSync(path.join(out, 'search.dat'), lines.join('\n') + '\n');
  const cols = sizes.flatMap((s, i) => [
    `'search.dat' using ${2 + 2 * i}${i === 0 ? ':xtic(1)' : ''} title 'p50 @ ${s.ingest.resources}'`,
    `'' using ${3 + 2 * i} title 'p99 @ ${s.ingest.resources}'`]);
  plots.push(plot('search-latency', `set terminal pngcairo size 1100,550 noenhanced
set output 'search-latency.png'
set title 'Clinical search latency, single client (ms, log scale); target p99 <= 5 ms at 1M'
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set xtics rotate by -25
set ylabel 'ms'
set arrow from graph 0, first 5 to graph 1, first 5 nohead dt 2 lc rgb 'red'
set key top left
plot ${cols.join(', ')}
`));
  // Scale curve: p99 per query against database size, and ingest rate.
  if (sizes.length > 1) {
    const rows = sizes.map((s) => [s.ingest.resources, s.ingest.resources_per_s,
      ...names.map((n) => s.queries.find((x) => x.name === n)?.p99_ms ?? 'NaN')].join(' '));
    fs.writeFileSync(path.join(out, 'scale.dat'), rows.join('\n') + '\n');
    plots.push(plot('scale', `set terminal pngcairo size 900,550 noenhanced
set output 'scale.png'
set title 'Scale curve: search p99 (ms) and ingest rate against database size'
set logscale x
set logscale y
set xlabel 'resources'
set ylabel 'p99 ms'
set y2label 'ingest resources/s'
set y2tics
set ytics nomirror
set key outside right
plot ${names.map((n, i) => `'scale.dat' using 1:${3 + i} with linespoints title '${n}'`).join(', ')}, 'scale.dat' using 1:2 axes x1y2 with linespoints dt 2 lw 2 title 'ingest/s'
`));
  }
}
if (hasGnuplot && results.ingest) {
  const rows = Object.entries(results.ingest.contenders).map(([n, c]) =>
    `${n} ${c.resources_per_s.median} ${c.resources_per_s.min} ${c.resources_per_s.max}`);
  fs.writeFileSync(path.join(out, 'ingest.dat'), rows.join('\n') + '\n');
  plots.push(plot('ingest', `set terminal pngcairo size 800,500 noenhanced
set output 'ingest.png'
set title 'Ingest resources/s (median, min-max bars; log scale); medplum is in memory only'
set logscale y
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set ylabel 'resources/s'
set yrange [100:*]
set arrow from graph 0, first 15000 to graph 1, first 15000 nohead dt 2 lc rgb 'red'
plot 'ingest.dat' using 2:3:4:xtic(1) notitle
`));
}
if (hasGnuplot && results.read?.runs?.length) {
  const rows = Object.entries(results.read.contenders).map(([n, c]) =>
    `${n} ${c.requests_per_s.median} ${c.requests_per_s.min} ${c.requests_per_s.max} ${c.p50_ms.median} ${c.p99_ms.median}`);
  fs.writeFileSync(path.join(out, 'read.dat'), rows.join('\n') + '\n');
  plots.push(plot('read', `set terminal pngcairo size 800,500 noenhanced
set output 'read.png'
set title 'Read by id: requests/s (median, min-max bars), wrk 64 connections'
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set ylabel 'requests/s'
set yrange [0:*]
plot 'read.dat' using 2:3:4:xtic(1) notitle
`));
}
// E-resept cycles (bench/eresept/cycles.mjs).
if (exists('eresept.json')) {
  const e = readJson('eresept.json');
  results.eresept = e;
  md.push('## E-resept: prescribe → lock → dispense cycles (durable, SQLite), pharmacies in parallel', '');
  md.push('| pharmacies | seconds | cycles | cycles/s | refused (lost races) | errors | p50 prescribe / lock / dispense ms | p99 prescribe / lock / dispense ms |');
  md.push('|---|---|---|---|---|---|---|---|');
  const f = (x) => (x == null ? '–' : x.toFixed(1));
  md.push(`| ${e.pharmacies} | ${e.seconds.toFixed(1)} | ${e.cycles} | ${e.cycles_per_s.toFixed(1)} | ${e.refused} | ${e.errors} | ${f(e.p50_ms.prescribe)} / ${f(e.p50_ms.lock)} / ${f(e.p50_ms.dispense)} | ${f(e.p99_ms.prescribe)} / ${f(e.p99_ms.lock)} / ${f(e.p99_ms.dispense)} |`, '');
}
// Cost of authorization and audit per read (bench/authz/cost.mjs).
if (exists('authz.json')) {
  const a = readJson('authz.json');
  results.authz = a;
  md.push(`## Cost of authorization and audit per read (one keep-alive connection; ${a.requests} reads × ${a.rounds} rounds, alternated; throughput with ${a.concurrency} connections)`, '');
  md.push('| contender | what runs per read | p50 ms | p99 ms | mean ms | added p50 ms vs --auth off | requests/s with ' + a.concurrency + ' connections |');
  md.push('|---|---|---|---|---|---|---|');
  const what = {
    off: '`--auth off`: no token, no policy, no audit',
    registry: 'token check (a registry resource: no policy facts, no audit)',
    system: 'token check + audit (one AuditEvent, durable)',
    clinician: 'token check + policy (HPR, attested care relation, citizen controls) + audit',
  };
  for (const [k, c] of Object.entries(a.contenders)) {
    md.push(`| ${k} | ${what[k] ?? ''} | ${c.p50_ms.toFixed(3)} | ${c.p99_ms.toFixed(2)} | ${c.mean_ms.toFixed(3)} | ${a.added_p50_ms[k].toFixed(3)} | ${Math.round(c.rps).toLocaleString('en')} |`);
  }
  md.push('', `Failures: ${a.failures}. Medians over rounds; every contender reads the same resources.`, '');
}
results.plots = plots.filter(Boolean);
if (!hasGnuplot) md.push('_gnuplot not installed: no plots (Debian package gnuplot-nox; `make bench` installs it)._', '');
else if (results.plots.length) md.push(`Plots: ${results.plots.map((p) => `![${p}](${p})`).join(' ')}`, '');

fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
fs.writeFileSync(path.join(out, 'results.md'), md.join('\n') + '\n');

// A smoke run proves the harness: every workload must have produced figures
// without errors (nothing is asserted about speed).
if (results.meta.smoke) {
  const problems = [];
  const fpWanted = exists('fhirpath-runs.ndjson');
  if (fpWanted) {
    for (const g of ['suite', 'searchparam']) {
      const r = results.fhirpath?.groups?.[g];
      if (!r || !(r.evals_per_s.grunnmur.median > 0) || !(r.evals_per_s['fhirpath.js'].median > 0)) problems.push(`fhirpath ${g}: no figures`);
      else if (r.cases_timed === 0) problems.push(`fhirpath ${g}: no case accepted by both engines`);
    }
  }
  for (const s of results.search ?? []) {
    if (s.ingest.failures) problems.push(`search ${s.size_requested}: ${s.ingest.failures} failed bundles`);
    if (!(s.ingest.resources_per_s > 0)) problems.push(`search ${s.size_requested}: no ingest figure`);
    for (const q of s.queries ?? []) {
      if (q.errors) problems.push(`search ${s.size_requested} ${q.name}: ${q.errors} errors (${q.first_error})`);
      if (!(q.p99_ms > 0)) problems.push(`search ${s.size_requested} ${q.name}: no latency`);
    }
    if ((s.queries ?? []).length === 0) problems.push(`search ${s.size_requested}: no queries ran`);
    for (const c of s.concurrent ?? []) {
      if (c.errors) problems.push(`search ${s.size_requested} ${c.clients} clients: ${c.errors} errors (${c.first_error})`);
      if (!(c.requests > 0)) problems.push(`search ${s.size_requested} ${c.clients} clients: no requests completed`);
    }
  }
  if (results.ingest) {
    for (const c of ['grunnmur', 'sqlite', 'simdjson']) {
      if (!(results.ingest.contenders[c]?.resources_per_s?.median > 0)) problems.push(`ingest ${c}: no figures`);
    }
    for (const r of results.ingest.runs) if (r.failures) problems.push(`ingest ${r.contender}: ${r.failures} failed requests (${r.first_failure})`);
    const g = results.ingest.contenders.grunnmur, q = results.ingest.contenders.sqlite;
    if (g && q && g.resources !== q.resources) problems.push(`ingest: sqlite ceiling stored ${q.resources} resources, grunnmur ${g.resources}`);
  }
  if (results.read) {
    if (!(results.read.runs ?? []).length && !results.read.skipped.some((x) => x.startsWith('wrk'))) problems.push('read: no wrk runs');
    for (const [n, c] of Object.entries(results.read.contenders)) {
      if (!(c.requests_per_s.median > 0)) problems.push(`read ${n}: no figures`);
      if (c.errors) problems.push(`read ${n}: ${c.errors} errors`);
    }
    for (const q of results.read.searches) if (q.errors) problems.push(`read search ${q.contender} ${q.name}: ${q.errors} errors (${q.first_error})`);
  }
  if (results.eresept) {
    if (!(results.eresept.cycles > 0)) problems.push('eresept: no completed cycles');
    if (results.eresept.errors) problems.push(`eresept: ${results.eresept.errors} errors`);
  }
  if (results.authz) {
    if (results.authz.failures) problems.push(`authz: ${results.authz.failures} failed reads`);
    for (const [k, c] of Object.entries(results.authz.contenders)) if (!(c.p50_ms > 0)) problems.push(`authz ${k}: no figures`);
  }
  if (!fpWanted && !(results.search ?? []).length && !results.ingest && !results.read && !results.eresept && !results.authz) problems.push('no workload ran');
  if (problems.length) {
    console.error(`bench smoke FAILED:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.error('bench smoke: every workload produced figures');
}
