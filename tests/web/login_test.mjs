// Real-browser test of the TEST login page (docs/trust-oauth.md): Debian's
// chromium, driven by playwright-core, goes through PAR → /authorize → the
// login form (a wrong number first, then the citizen's) → the redirect to the
// app, whose code the app then redeems with PKCE.
//
// Usage: node login_test.mjs /path/to/grunnmur
// Exit 0 pass, 1 fail, 77 skipped (no chromium or no playwright-core: run
// `make deps`).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const binary = process.argv[2];
if (!binary || !existsSync(binary)) {
  console.error('usage: node login_test.mjs GRUNNMUR_BINARY');
  process.exit(1);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.log('SKIP: playwright-core is not installed (make deps-npm)');
  process.exit(77);
}
if (!existsSync(CHROMIUM)) {
  console.log('SKIP: chromium is not installed (make deps-debian)');
  process.exit(77);
}

const CITIZEN_FNR = '15058012359';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function check(condition, what) {
  if (!condition) throw new Error('check failed: ' + what);
  console.log('ok - ' + what);
}

const dir = mkdtempSync(join(tmpdir(), 'gm-web-'));
let server;
let browser;
let app;
const deadline = setTimeout(() => {
  console.error('FAIL: timed out');
  cleanup();
  process.exit(1);
}, 60_000);

function cleanup() {
  if (browser) browser.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGTERM');
  if (app) app.close();
  rmSync(dir, { recursive: true, force: true });
}

try {
  // The app: a loopback HTTP server that receives the redirect (RFC 8252).
  let redirected = null;
  app = createServer((req, res) => {
    if (req.url.startsWith('/callback')) redirected = req.url;  // not /favicon.ico
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('app received the code');
  });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const REDIRECT = 'http://127.0.0.1:' + app.address().port + '/callback';

  // The app's key pair and registration.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'web-app-1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'app.jwks.json'), JSON.stringify({ keys: [jwk] }));
  const data = join(dir, 'data');
  execFileSync('mkdir', ['-p', data]);
  execFileSync(binary, ['client', 'add', '--data', data, '--id', 'web-app', '--name', 'Web test app',
    '--jwks', join(dir, 'app.jwks.json'), '--scope', 'openid patient/*.rs',
    '--redirect-uri', REDIRECT]);

  // The server on a free port.
  server = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error('server exited with ' + code)));
  });
  for (let i = 0; i < 100; ++i) {
    if ((await fetch(base + '/readyz')).status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  // The citizen in the registry (written with an operator token).
  const operator = execFileSync(binary, ['token', '--data', data, '--scope', 'system/*.cruds'])
    .toString().trim();
  const created = await fetch(base + '/Patient', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + operator, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:2.16.578.1.12.4.1.4.1', value: CITIZEN_FNR }],
      name: [{ family: 'Nordmann', given: ['Kari'] }],
    }),
  });
  check(created.status === 201, 'the citizen is registered');

  // private_key_jwt client assertions (ES256, JOSE signature encoding).
  let jti = 0;
  const assertion = (aud) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'ES256', kid: 'web-app-1', typ: 'client-authentication+jwt' }));
    const payload = b64url(JSON.stringify({
      iss: 'web-app', sub: 'web-app', aud, iat: now, exp: now + 50,
      jti: 'web-' + (++jti) + '-' + b64url(randomBytes(8)),
    }));
    const sig = sign('sha256', Buffer.from(header + '.' + payload), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return header + '.' + payload + '.' + b64url(sig);
  };
  const form = (o) => new URLSearchParams(o).toString();
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());

  const par = await fetch(base + '/par', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion(base + '/par'), client_id: 'web-app', response_type: 'code',
      redirect_uri: REDIRECT, scope: 'openid patient/Patient.rs', state: 'xyz<&>',
      nonce: 'n1', code_challenge: challenge, code_challenge_method: 'S256',
    }),
  });
  check(par.status === 201, 'PAR answers 201');
  const { request_uri } = await par.json();

  // The browser.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const authorize = base + '/authorize?' + form({ client_id: 'web-app', request_uri });
  const response = await page.goto(authorize);
  check(response.status() === 200, 'the login page loads');
  const text = await page.textContent('body');
  check(text.includes('TEST LOGIN'), 'the page says it is a test login');
  check(text.includes('Web test app'), 'the page names the app');

  // A wrong number: the form comes back with an error.
  await page.fill('#pid', '15058012358');
  await Promise.all([page.waitForLoadState('load'), page.click('#login')]);
  await page.waitForSelector('.error');
  check((await page.textContent('.error')).includes('not a valid'), 'a wrong number is refused on the page');

  // The citizen's number: redirected to the app with a code.
  await page.fill('#pid', CITIZEN_FNR);
  await Promise.all([page.waitForURL(REDIRECT + '?**'), page.click('#login')]);
  check(redirected !== null && redirected.startsWith('/callback?code='), 'redirected to the app with a code');
  check((await page.textContent('body')).includes('app received the code'), 'the browser shows the app');
  const url = new URL(redirected, REDIRECT);
  check(url.searchParams.get('state') === 'xyz<&>', 'the state comes back unchanged');
  check(url.searchParams.get('iss') === 'urn:grunnmur:issuer', 'the issuer is named (RFC 9207)');

  // The app redeems the code.
  const token = await fetch(base + '/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'authorization_code', code: url.searchParams.get('code'), redirect_uri: REDIRECT,
      code_verifier: verifier, client_id: 'web-app',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion(base + '/token'),
    }),
  });
  check(token.status === 200, 'the code is redeemed');
  const body = await token.json();
  const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url'));
  check(claims['helseid://claims/identity/pid'] === CITIZEN_FNR, 'the token carries the citizen\'s pid');
  check(typeof body.id_token === 'string', 'an id_token is issued');

  // The pushed request was used once; opening it again fails.
  const again = await page.goto(authorize);
  check(again.status() === 400, 'the request_uri cannot be used twice');
  console.log('PASS');
  clearTimeout(deadline);
  cleanup();
  process.exit(0);
} catch (e) {
  console.error('FAIL: ' + (e && e.stack ? e.stack : e));
  clearTimeout(deadline);
  cleanup();
  process.exit(1);
}
