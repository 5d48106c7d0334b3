// FHIRPath benchmark contender: the reference JavaScript engine (npm `fhirpath`,
// pinned in bench/package.json) with its R4 model. Same commands and output as
// gm_bench_fhirpath (see there):
//   node js_bench.mjs check CASES
//   node js_bench.mjs measure CASES IDS GROUP SECONDS
// Expressions are compiled once (fhirpath.compile) outside the timed loop.
import fs from 'node:fs';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

const [cmd, casesPath, idsPath, group, seconds] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8')).cases;
const inputs = new Map();
function input(path) {
  if (!path) return {};
  if (!inputs.has(path)) inputs.set(path, JSON.parse(fs.readFileSync(path, 'utf8')));
  return inputs.get(path);
}
// trace() and the engine's warnings would print on every evaluation; gm's
// default trace callback is a no-op, so both discard them.
const compile = (c) => fhirpath.compile(c.expr, r4, { traceFn: () => {} });
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
console.log = console.warn = console.info = () => {};

if (cmd === 'check') {
  const accepted = [], compileRejected = [], evalRejected = [];
  for (const c of cases) {
    let f;
    try {
      f = compile(c);
    } catch (e) {
      compileRejected.push(c.id);
      continue;
    }
    try {
      const r = f(input(c.input));
      if (r && typeof r.then === 'function') throw new Error('asynchronous result');
      accepted.push(c.id);
    } catch (e) {
      evalRejected.push(c.id);
    }
  }
  print({ engine: 'fhirpath.js', version: fhirpath.version,
    accepted, compile_rejected: compileRejected, eval_rejected: evalRejected });
} else if (cmd === 'measure') {
  const ids = new Set(JSON.parse(fs.readFileSync(idsPath, 'utf8')));
  const ready = cases.filter((c) => c.group === group && ids.has(c.id))
    .map((c) => ({ f: compile(c), input: input(c.input) }));
  if (ready.length === 0) { console.error(`no cases in group ${group}`); process.exit(2); }
  let sink = 0;
  const pass = () => {
    for (const c of ready) sink += c.f(c.input).length + 1;
  };
  pass();  // warm-up (also lets the JIT see every expression once)
  const start = process.hrtime.bigint();
  let evals = 0, elapsed = 0;
  do {
    pass();
    evals += ready.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < Number(seconds));
  print({ engine: 'fhirpath.js', group, cases: ready.length, evaluations: evals,
    seconds: elapsed, evals_per_s: evals / elapsed, checksum: sink });
} else {
  console.error('usage: js_bench.mjs check CASES | measure CASES IDS GROUP SECONDS');
  process.exit(2);
}
