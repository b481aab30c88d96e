// The dashboard as a person uses it: headless Chromium against a real server (tests/browser/run.sh).
// The tests run in order and share one browser profile, like one admin's working session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { launchChromium } from './chromium.mjs';

const BASE_URL = process.env.BASE_URL;
const API_URL = BASE_URL.replace('localhost', '127.0.0.1');
const ADMIN = { username: process.env.ADMIN_USERNAME, password: process.env.ADMIN_PASSWORD };
const ANALYST = { username: process.env.ANALYST_USERNAME, password: process.env.ANALYST_PASSWORD };
const CLIENT_KEY = process.env.CLIENT_KEY;
const SHOTS = new URL('./screenshots/', import.meta.url).pathname;
const WAIT = { timeout: 15_000 };

let browser, context, page;
/** The TOTP secret the admin enrolled, and the last time step a code was used for. */
let totpSecret, lastStep = 0;
const created = {};

// RFC 6238 with SHA-1, 6 digits, 30-second steps, from a base32 secret.
function base32(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hmac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = hmac[hmac.length - 1] & 0xf;
  return String((hmac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
/** A code for a step not used before (each step is accepted once per user), not about to expire. */
async function freshCode() {
  for (;;) {
    const now = Date.now() / 1000;
    const step = Math.floor(now / 30);
    if (step > lastStep && now % 30 < 27) {
      lastStep = step;
      return totp(totpSecret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function clientApi(query, variables) {
  const response = await fetch(`${API_URL}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': CLIENT_KEY },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

/** A GraphQL call from the page, as the signed-in user would make it (the session cookie goes along). */
async function dashboardApi(query, variables) {
  const body = await page.evaluate(async ({ query, variables }) => {
    const response = await fetch('/graphql', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query, variables }),
    });
    return response.json();
  }, { query, variables });
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function shot(name) {
  await assertAccessible(name);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Runs axe-core (WCAG 2.x A and AA rules and best practices) on the page as it is now and fails
 * on any serious or critical violation, naming the rule and the elements.
 */
async function assertAccessible(what) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility violations on ${what}`);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium('dashboard');
  ({ context, page } = browser);
});

after(async () => {
  await browser?.close();
});

test('an admin signs in with password and TOTP after enrolling 2FA, and sees who is signed in', async () => {
  await page.goto(BASE_URL);
  await page.waitForURL('**/login');
  await page.fill('#username', ADMIN.username);
  await page.fill('#password', ADMIN.password);
  await shot('01-login');
  await page.click('button[type=submit]');

  // Admins must have 2FA: the first sign-in leads to enrollment (QR code, secret, then codes once).
  await page.waitForURL('**/two-factor', WAIT);
  totpSecret = (await page.textContent('[data-testid=totp-secret]', WAIT)).trim();
  assert.match(totpSecret, /^[A-Z2-7]+=*$/);
  assert.ok(await page.isVisible('.qr svg'), 'the QR code is shown');
  await shot('02-enroll-2fa');
  await page.fill('#enroll-code', await freshCode());
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=recovery-codes] li', WAIT);
  const codes = await page.locator('[data-testid=recovery-codes] li').allTextContents();
  assert.equal(codes.length, 10, 'ten recovery codes are shown once');
  await shot('03-recovery-codes');
  await page.click('[data-testid=recovery-codes] .btn-primary');
  await page.waitForURL('**/overview', WAIT);

  // Sign out, then in again: password first, then a code from the authenticator.
  await page.click('text=Sign out');
  await page.waitForURL('**/login', WAIT);
  await page.fill('#username', ADMIN.username);
  await page.fill('#password', ADMIN.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#totp-code', WAIT);
  await page.fill('#totp-code', await freshCode());
  await shot('04-login-totp');
  await page.click('button[type=submit]');
  await page.waitForURL('**/overview', WAIT);
  assert.match(await page.textContent('[data-testid=signed-in-user]'), /admin/);
});

test('a customer and a license are created, with validation errors shown beside the field', async () => {
  await page.click('nav >> text=Customers');
  await page.click('text=New customer');
  await page.fill('#name', 'ACME GmbH');
  await page.fill('#email', 'not-an-email');
  await page.click('[data-testid=customer-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=email]', WAIT);
  await page.fill('#email', 'it@acme.example');
  await page.click('[data-testid=customer-form] button[type=submit]');
  await page.waitForSelector('[data-testid=customers] >> text=ACME GmbH', WAIT);
  await shot('05-customers');

  await page.click('nav >> text=Licenses');
  await page.click('text=New license');
  await page.waitForSelector('#customerId', WAIT);
  await chooseCustomer('ACME', 'ACME GmbH');
  await page.fill('#deviceLimit', '2');
  await page.fill('#concurrentSessionsLimit', '3');
  await page.click('button[type=submit]');
  const fieldError = await page.waitForSelector('.field-error[data-field=concurrentSessionsLimit]', WAIT);
  assert.ok((await fieldError.textContent()).length > 0);
  await shot('06-license-validation-error');
  await page.fill('#concurrentSessionsLimit', '1');
  await page.click('button[type=submit]');
  await page.waitForURL('**/licenses/*', WAIT);
  created.licenseKey = (await page.textContent('[data-testid=license-key]', WAIT)).trim();
  created.licenseUrl = page.url();
  assert.match(created.licenseKey, /^[A-Z0-9-]+$/);
  await shot('07-license-detail');

  await page.click('nav >> text=Licenses');
  await page.fill('input[type=search]', 'ACME');
  await page.click('text=Search');
  await page.waitForSelector(`[data-testid=licenses] >> text=${created.licenseKey}`, WAIT);
});

test('an admin creates a license template and starts a new license from it, with its features, grace and releases', async () => {
  await page.click('nav >> text=Templates');
  await page.click('text=New template');
  await page.waitForSelector('[data-testid=template-form]', WAIT);
  await page.fill('#name', 'Pro 30 days');
  await page.selectOption('#licenseType', 'TRIAL');
  await page.fill('#deviceLimit', '3');
  await page.fill('#concurrentSessionsLimit', '2');
  await page.fill('#durationDays', '30');
  await page.fill('#features', 'Pro, export pdf');
  await page.fill('#offlineGraceSeconds', '168');
  await page.fill('#maxDeviceReleases', '5');
  await page.click('[data-testid=template-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=features]', WAIT);
  await page.fill('#features', 'Pro, export.pdf');
  await page.click('[data-testid=template-form] button[type=submit]');
  await page.waitForURL('**/templates', WAIT);
  const row = page.locator('[data-testid=templates] tr', { hasText: 'Pro 30 days' });
  await row.waitFor(WAIT);
  assert.match(await row.textContent(), /30 days/);
  assert.match(await row.textContent(), /7 days/);
  await shot('07a-license-templates');

  await page.click('nav >> text=Licenses');
  await page.click('text=New license');
  await page.waitForSelector('#templateId', WAIT);
  await page.selectOption('#templateId', { label: 'Pro 30 days' });
  await chooseCustomer('ACME', 'ACME GmbH');
  assert.equal(await page.inputValue('#deviceLimit'), '3');
  assert.equal(await page.inputValue('#concurrentSessionsLimit'), '2');
  assert.equal(await page.inputValue('#features'), 'pro, export.pdf');
  assert.equal(await page.inputValue('#offlineGraceSeconds'), '168');
  assert.equal(await page.inputValue('#maxDeviceReleases'), '5');
  assert.equal(await page.inputValue('#licenseType'), 'TRIAL');
  assert.match(await page.inputValue('#validUntil'), /^\d{4}-\d{2}-\d{2}$/, 'the duration gives an end date');
  await page.fill('#maxDeviceReleases', '2');
  await shot('07b-license-from-template');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/licenses\/[0-9a-f-]{36}$/, WAIT);
  await page.waitForSelector('[data-testid=offline-grace]', WAIT);
  assert.equal((await page.textContent('[data-testid=offline-grace]')).trim(), '7 days');
  assert.equal((await page.textContent('[data-testid=max-device-releases]')).trim(), '2', 'the form\'s change wins');
  assert.deepEqual(await page.locator('[data-testid=features] .badge').allTextContents(), ['pro', 'export.pdf']);
  assert.match(await page.textContent('.facts'), /Trial/);
  await shot('07c-license-from-template-detail');
});

test('a device activated through the client API appears live without reload, and terminating it removes it', async () => {
  await page.click('nav >> text=Live sessions');
  await page.waitForSelector('[data-testid=live-indicator].on', WAIT);
  const { activate: granted } = await clientApi(
    `mutation($i: ActivateInput!) { activate(input: $i) { __typename ... on SessionGranted { sessionToken deviceId } } }`,
    { i: { licenseKey: created.licenseKey, hardwareFingerprint: 'browser-test-laptop', deviceName: "Anna's laptop", deviceType: 'windows' } },
  );
  assert.equal(granted.__typename, 'SessionGranted');
  // The admin knows the session by its id; its token is the client's alone.
  const { liveSessions } = await dashboardApi(
    'query($d: ID!) { liveSessions(filter: {deviceId: {eq: $d}}) { nodes { id } } }', { d: granted.deviceId },
  );
  const row = `tr[data-session-id="${liveSessions.nodes[0].id}"]`;
  await page.waitForSelector(row, WAIT);
  assert.match(await page.textContent(row), /Anna's laptop/);
  assert.match(await page.textContent(row), new RegExp(created.licenseKey));
  assert.ok(!(await page.content()).includes(granted.sessionToken), 'the page never holds the session token');
  await shot('08-live-session');

  await page.click(`${row} >> text=Terminate`);
  await page.waitForSelector('.modal', WAIT);
  await shot('09-terminate-confirmation');
  await page.click('.modal .btn-danger');
  await page.waitForSelector(row, { state: 'detached', ...WAIT });
  await page.waitForSelector('text=No live sessions right now.', WAIT);
  await shot('10-live-empty');
});

test('the overview shows live sessions as they start and end, the licenses by state, activity charts and what expires soon', async () => {
  // A license ending in ten days, so the list of expiring licenses has one to show.
  const { customers } = await dashboardApi('{ customers(search: "ACME", first: 1) { nodes { id } } }');
  const validUntil = new Date(Date.now() + 10 * 86_400_000).toISOString();
  const { createLicense: expiring } = await dashboardApi(
    'mutation($i: CreateLicenseInput!) { createLicense(input: $i) { licenseKey } }',
    { i: { customerId: customers.nodes[0].id, licenseType: 'SUBSCRIPTION', deviceLimit: 1, concurrentSessionsLimit: 1, validUntil } },
  );

  await page.click('nav >> text=Overview');
  await page.waitForURL('**/overview', WAIT);
  await page.waitForSelector('[data-testid=overview-live] .live-indicator.on', WAIT);
  assert.equal((await page.textContent('[data-testid=overview-live-count]')).trim(), '0');

  // Licenses by type and state: the two of the earlier tests and the one just made, all active.
  await page.waitForSelector('[data-testid=license-counts]', WAIT);
  const cell = (type, state) => page.textContent(`[data-testid=license-counts] tr[data-type=${type}] td[data-state=${state}]`);
  assert.equal(await cell('SUBSCRIPTION', 'ACTIVE'), '2');
  assert.equal(await cell('TRIAL', 'ACTIVE'), '1');
  assert.equal(await cell('TOTAL', 'EXPIRED'), '0');
  assert.equal(await cell('TOTAL', 'TOTAL'), '3');
  assert.equal((await page.textContent('[data-testid=active-licenses]')).trim(), '3');

  // The first license has one of its two devices registered: the closest to a limit.
  await page.waitForSelector('[data-testid=closest-to-limits] tbody tr', WAIT);
  assert.equal(await page.getAttribute('[data-testid=closest-to-limits] tbody tr:first-child', 'data-license-key'), created.licenseKey);
  assert.match(await page.textContent('[data-testid=closest-to-limits] tbody tr:first-child'), /1 \/ 2.*0 \/ 1.*50%/);

  // Expiring soonest first, each linking to its license.
  const firstExpiring = '[data-testid=expiring-licenses] tbody tr:first-child';
  await page.waitForSelector(firstExpiring, WAIT);
  assert.equal(await page.getAttribute(firstExpiring, 'data-license-key'), expiring.licenseKey);
  assert.match(await page.textContent(firstExpiring), /ACME GmbH.*Subscription/);

  // A session started by a client shows in the live count without reload, with its heartbeat.
  const { activate: granted } = await clientApi(
    `mutation($i: ActivateInput!) { activate(input: $i) { __typename ... on SessionGranted { sessionToken deviceId } } }`,
    { i: { licenseKey: created.licenseKey, hardwareFingerprint: 'browser-test-laptop', deviceName: "Anna's laptop", deviceType: 'windows' } },
  );
  assert.equal(granted.__typename, 'SessionGranted');
  const { heartbeat } = await clientApi(
    'mutation($t: UUID!) { heartbeat(sessionToken: $t) { __typename } }', { t: granted.sessionToken },
  );
  assert.equal(heartbeat.__typename, 'HeartbeatAccepted');
  await page.waitForFunction(
    () => document.querySelector('[data-testid=overview-live-count]')?.textContent.trim() === '1', null, WAIT,
  );

  // Seven days: sessions per day, heartbeats per hour, both with bars, axis titles and a legend.
  await page.selectOption('#overview-range', '7');
  const sessions = '[data-testid=sessions-chart]';
  await page.waitForSelector(`${sessions} svg rect`, WAIT);
  assert.ok((await page.locator(`${sessions} svg rect`).count()) >= 2, 'bars for started and for ended sessions');
  const sessionTexts = (await page.locator(`${sessions} svg text`).allTextContents()).map((t) => t.trim());
  assert.ok(sessionTexts.includes('Sessions') && sessionTexts.includes('Day (UTC)'), `axis titles: ${sessionTexts}`);
  assert.equal(sessionTexts.filter((t) => /^[A-Z][a-z]{2} \d{1,2}$/.test(t)).length, 7, `a date under each of 7 days: ${sessionTexts}`);
  assert.deepEqual(
    await page.locator(`${sessions} .chart-legend li`).allTextContents(),
    ['Started (2)', 'Ended: Terminated by an admin (1)'],
  );
  assert.match(await page.getAttribute(`${sessions} [role=img]`, 'aria-label'), /^Sessions started and ended per day: Started 2/);
  await page.click(`${sessions} summary`);
  assert.deepEqual(await page.locator(`${sessions} tr.total td`).allTextContents(), ['2', '1']);

  const heartbeats = '[data-testid=heartbeats-chart]';
  await page.waitForSelector(`${heartbeats} svg rect`, WAIT);
  assert.ok(await page.isVisible('h2:has-text("Heartbeats per hour")'));
  const heartbeatTexts = (await page.locator(`${heartbeats} svg text`).allTextContents()).map((t) => t.trim());
  assert.ok(heartbeatTexts.includes('Time (UTC), one bar per hour') && heartbeatTexts.includes('Heartbeats'), `${heartbeatTexts}`);
  assert.match(await page.textContent(`${heartbeats} .chart-legend`), /Heartbeats \(\d+\)/);
  assert.equal((await page.textContent('[data-testid=peak-concurrency]')).trim(), '1');
  await shot('07d-overview');
  await assertAccessible('the overview');

  await page.click('button[data-lang=de]');
  await page.waitForSelector('h1:has-text("Übersicht")', WAIT);
  await page.waitForSelector(`${sessions} svg rect`, WAIT);
  assert.ok(await page.isVisible('label:has-text("Zeitraum")'));
  assert.ok(await page.isVisible('h2:has-text("Heartbeats pro Stunde")'));
  assert.ok(await page.isVisible('th:has-text("Noch nicht gültig")'));
  const germanTexts = (await page.locator(`${sessions} svg text`).allTextContents()).map((t) => t.trim());
  assert.ok(germanTexts.includes('Sitzungen') && germanTexts.includes('Tag (UTC)'), `German axis titles: ${germanTexts}`);
  assert.ok(germanTexts.some((t) => /^\d{1,2}\.\d{1,2}\.$/.test(t)), `German dates: ${germanTexts}`);
  assert.deepEqual(
    await page.locator(`${sessions} .chart-legend li`).allTextContents(),
    ['Gestartet (2)', 'Beendet: Von Admin beendet (1)'],
  );
  await shot('07e-overview-german');
  await assertAccessible('the overview in German');
  await page.click('button[data-lang=en]');
  await page.waitForSelector('h1:has-text("Overview")', WAIT);

  // Ended by an admin (as in the test before, which the audit log test below reads), it leaves the count.
  const { liveSessions } = await dashboardApi(
    'query($d: ID!) { liveSessions(filter: {deviceId: {eq: $d}}) { nodes { id } } }', { d: granted.deviceId },
  );
  await dashboardApi('mutation($id: ID!) { terminateSession(id: $id) { id } }', { id: liveSessions.nodes[0].id });
  await page.waitForFunction(
    () => document.querySelector('[data-testid=overview-live-count]')?.textContent.trim() === '0', null, WAIT,
  );
});

test('a generated API key is shown once, with a copy button', async () => {
  await page.click('nav >> text=API keys');
  await page.fill('#key-name', 'Reporting export');
  await page.selectOption('#key-scope', 'ANALYST');
  await page.click('form.toolbar-form button[type=submit]');
  const key = (await page.textContent('[data-testid=generated-key-value]', WAIT)).trim();
  assert.match(key, /^AF-\d{4}-[A-Z0-9]{32}$/);
  assert.ok(await page.isVisible('[data-testid=generated-key] >> text=Copy'));
  await shot('11-api-key-generated');

  await page.click('[data-testid=generated-key] >> text=Done');
  await page.reload();
  await page.waitForSelector('[data-testid=api-keys] >> text=Reporting export', WAIT);
  assert.ok(!(await page.content()).includes(key), 'the key is never shown again');
  created.apiKeyPrefix = key.slice(0, 8);
});

test('an admin gives a key its own rate limit, with the server checking the numbers', async () => {
  const row = 'tr:has(td:text-is("Reporting export"))';
  assert.match(await page.textContent(`${row} [data-testid=rate-limit]`, WAIT), /100\/s · Burst 1000\s*default/);
  await page.click(`${row} >> text=Limit…`);
  await page.fill('#rate-per-second', '0');
  await page.click('[data-testid=rate-limit-dialog] button[type=submit]');
  // The server's message, next to the field it names; nothing is saved.
  await page.waitForSelector('[data-testid=rate-limit-dialog] >> text=perSecond must be between 1 and', WAIT);
  await page.fill('#rate-per-second', '20');
  await page.fill('#rate-burst', '100');
  await shot('11b-api-key-rate-limit');
  await page.click('[data-testid=rate-limit-dialog] button[type=submit]');
  await page.waitForSelector('[data-testid=rate-limit-dialog]', { state: 'detached', ...WAIT });
  await page.locator(`${row} [data-testid=rate-limit]`).filter({ hasText: /20\/s · Burst 100\s*custom/ }).waitFor(WAIT);
  // And back to the scope's default.
  await page.click(`${row} >> text=Limit…`);
  await page.click('[data-testid=rate-limit-dialog] >> text=Use scope default');
  await page.waitForSelector('[data-testid=rate-limit-dialog]', { state: 'detached', ...WAIT });
  await page.locator(`${row} [data-testid=rate-limit]`).filter({ hasText: /100\/s · Burst 1000\s*default/ }).waitFor(WAIT);
});

test('an offline activation registers the machine and offers its lease as a file; the signing key rotates after a confirmation', async () => {
  await page.goto(created.licenseUrl);
  await page.click('[data-testid=offline-activation]', WAIT);
  await page.fill('#offline-fingerprint', 'air-gapped-lab-pc');
  await page.fill('#offline-days', '0');
  await page.click('[data-testid=offline-dialog] button[type=submit]');
  // The server's message beside the field it names; nothing is issued.
  await page.waitForSelector('[data-testid=offline-dialog] .field-error[data-field=offline-days]', WAIT);
  await page.fill('#offline-days', '30');
  await page.click('[data-testid=offline-dialog] button[type=submit]');
  const lease = (await page.inputValue('[data-testid=offline-lease-value]', WAIT)).trim();
  assert.match(lease, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWS');
  const header = JSON.parse(Buffer.from(lease.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'EdDSA');
  await shot('11c-offline-lease');
  const [download] = await Promise.all([
    page.waitForEvent('download', WAIT),
    page.click('[data-testid=offline-lease] >> text=Download lease file'),
  ]);
  assert.equal(download.suggestedFilename(), `license-${created.licenseKey}.lease`);
  const { readFileSync } = await import('node:fs');
  assert.equal(readFileSync(await download.path(), 'utf8').trim(), lease);
  await page.click('[data-testid=offline-lease] >> text=Done');
  await page.waitForSelector('[data-testid=devices] >> text=air-gapped-lab-pc', WAIT);

  await page.click('nav >> text=API keys');
  const rows = '[data-testid=signing-keys] tbody tr';
  await page.waitForSelector(rows, WAIT);
  const before = await page.locator(rows).count();
  await page.click('[data-testid=signing-keys] >> button:has-text("Rotate")');
  await page.waitForSelector('.modal', WAIT);
  await page.click('.modal .btn-danger');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=signing-keys] tbody tr').length === n + 1, before, WAIT);
  assert.equal(await page.locator(`${rows} >> text=Current`).count(), 1);
  assert.match(await page.textContent(`${rows}:first-child`), /Current/);
  assert.ok(!(await page.textContent(`${rows}:first-child`)).includes(header.kid), 'a new key is current');
  assert.match(await page.textContent(`${rows}:nth-child(2)`), /Retired/);
  await shot('11d-signing-keys');
});

test('the audit log lists those changes, old and new values side by side', async () => {
  await page.click('nav >> text=Audit log');
  await page.waitForSelector('[data-testid=audit-log]', WAIT);
  for (const action of ['customer.created', 'license.created', 'session.started', 'session.ended', 'api_key.created']) {
    assert.ok(await page.isVisible(`tr[data-action="${action}"]`), `${action} is listed`);
  }
  // Newest first: the key generated above, then the client key the CLI made before the tests.
  await page.click('tr[data-action="api_key.created"] >> nth=0 >> text=Changes');
  assert.match(await page.textContent('.diff', WAIT), /Reporting export/);
  await page.click('tr[data-action="session.ended"] >> text=Changes');
  const diff = await page.textContent('.diff', WAIT);
  assert.match(diff, /admin_terminated/);
  await shot('12-audit-log');

  await page.fill('#audit-entity', 'license');
  await page.click('text=Apply filter');
  await page.waitForSelector('tr[data-action="customer.created"]', { state: 'detached', ...WAIT });
  assert.ok(await page.isVisible('tr[data-action="license.created"]'));
});

test('the interface switches between German and English and remembers the choice', async () => {
  await page.goto(created.licenseUrl);
  await page.waitForSelector('[data-testid=license-key]', WAIT);
  await page.click('button[data-lang=de]');
  await page.waitForSelector('nav >> text=Lizenzen', WAIT);
  assert.ok(await page.isVisible('text=Sitzungsverlauf'));
  await page.reload();
  await page.waitForSelector('nav >> text=Live-Sitzungen', WAIT);
  await shot('13-german-license-detail');

  await page.setViewportSize({ width: 820, height: 1100 });
  await page.click('nav >> text=Lizenzen');
  await page.waitForSelector('[data-testid=licenses]', WAIT);
  await shot('14-german-licenses-tablet');
  await page.setViewportSize({ width: 1366, height: 860 });

  await page.click('button[data-lang=en]');
  await page.waitForSelector('nav >> text=Licenses', WAIT);
});

/** Holds an exclusive lock on `customers` through psql until the returned function is called:
 * a backup's pg_dump waits for it meanwhile, so the page can be seen following a running job. */
async function holdCustomers() {
  const psql = spawn('psql', [process.env.DATABASE_URL, '-qAt'], { stdio: ['pipe', 'ignore', 'inherit'] });
  psql.stdin.write('BEGIN;\nLOCK TABLE customers IN ACCESS EXCLUSIVE MODE;\n');
  const held = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " +
    "WHERE c.relname = 'customers' AND l.mode = 'AccessExclusiveLock' AND l.granted";
  while (execFileSync('psql', [process.env.DATABASE_URL, '-qAtc', held]).toString().trim() !== '1') {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return () => new Promise((resolve) => { psql.on('exit', resolve); psql.stdin.end('ROLLBACK;\n'); });
}

test('an admin takes a backup, sees it run and complete, its size and checksum, verifies it, restores it from the git remote, and restoring asks first', async () => {
  await page.click('nav >> text=Backups');
  // How backups are taken and kept: the server runs with the default schedule (daily at 03:00
  // UTC) and pushes to a git remote (a bare repository run.sh made).
  await page.waitForSelector('[data-testid=backup-setup]', WAIT);
  assert.match(await page.textContent('[data-testid=backup-schedule]'), /Daily at 03:00 \(UTC\)/);
  assert.match(await page.textContent('[data-testid=backup-setup]'), /Next run\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  assert.match(await page.textContent('[data-testid=backup-setup]'), /Kept locally\s*the newest 14/);
  assert.ok((await page.textContent('[data-testid=backup-remote]')).includes(process.env.BACKUP_REMOTE), 'the remote is named');
  // The backup runs on the server: the page shows it running, offers no second one meanwhile,
  // and follows it to its end without a reload.
  const release = await holdCustomers();
  await page.click('[data-testid=create-backup]');
  await page.waitForSelector('.alert-success >> text=Backup started', WAIT);
  // The server may have taken today's scheduled backup at start; ours is the manual one.
  const running = page.locator('[data-testid=backups] tbody tr:has-text("Running")').first();
  await running.waitFor(WAIT);
  assert.match(await running.textContent(), /Manual/);
  await page.waitForSelector('[data-testid=backup-job-running]', WAIT);
  assert.ok(await page.isDisabled('[data-testid=create-backup]'), 'no second backup while one runs');
  await shot('15b-backup-running');
  await release();
  await page.waitForSelector('[data-testid=backup-job-running]', { state: 'detached', ...WAIT });
  const row = page.locator('[data-testid=backups] tbody tr:has-text("Manual")').first();
  assert.match(await row.textContent(), /Completed/);
  assert.ok(await page.isEnabled('[data-testid=create-backup]'));
  assert.match(await row.locator('td.mono').textContent(), /^[0-9a-f]{12}…$/, 'the checksum is shown');
  assert.match(await row.textContent(), /\d(\.\d)? (B|KiB|MiB)/, 'the size is shown');

  await row.locator('text=Verify').click();
  await page.waitForSelector('.alert-success >> text=Checksum and archive are fine', WAIT);

  await shot('15a-backups');

  // The git remote now holds the archive (with its .sha256): it is offered for a restore, as it
  // would be on a new machine, and restores after a confirmation.
  const fileName = (await row.locator('td').first().textContent()).match(/license-server-\S+?\.dump/)?.[0];
  assert.ok(fileName, 'the row names its archive');
  await page.waitForFunction(() => /Pushed/.test(document.querySelector('[data-testid=backups] tbody tr')?.textContent ?? ''), null, WAIT);
  await page.click('[data-testid=remote-backups] >> text=Fetch again');
  const remoteRow = page.locator(`[data-testid=remote-backup-list] tbody tr:has-text("${fileName}")`);
  await remoteRow.waitFor(WAIT);
  assert.ok((await page.locator('[data-testid=remote-backup-list] tbody tr').first().textContent()).includes(fileName),
    'the newest archive on the remote is listed first');
  assert.match(await remoteRow.locator('td.mono').nth(1).textContent(), /^[0-9a-f]{12}…$/, 'its checksum from the remote');
  await remoteRow.locator('text=Restore').click();
  await page.waitForSelector('.modal >> text=changes made since are lost', WAIT);
  await page.click('.modal >> text=Restore this backup');
  await page.waitForSelector('[data-testid=remote-backups] .alert-success >> text=Restored:', WAIT);
  await shot('15c-backups-restored-from-remote');

  // The confirmation takes the focus (on Cancel, the safe choice) and closes with Escape.
  await row.locator('text=Restore').click();
  await page.waitForSelector('.modal >> text=changes made since are lost', WAIT);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
  await page.keyboard.press('Escape');
  await page.waitForSelector('.modal', { state: 'detached', ...WAIT });
  await row.locator('text=Restore').click();
  await page.waitForSelector('.modal >> text=changes made since are lost', WAIT);
  await shot('15-backups-restore-confirmation');
  await page.click('.modal >> text=Cancel');
  await page.waitForSelector('.modal', { state: 'detached', ...WAIT });
});

test('a lead gets a contact with typed phones and e-mails, versioned notes, is found by contact name and becomes a customer', async () => {
  await page.click('nav >> text=Leads');
  await page.click('button:has-text("New institution")');
  // The server checks the name first, then the website; each error shows beside its field.
  await page.fill('#institution-website', 'not a website');
  await page.click('[data-testid=institution-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=institution-name]', WAIT);
  await page.fill('#institution-name', 'St. Marien Klinikum');
  await page.fill('#institution-type', 'hospital');
  await page.fill('#institution-address', 'Marienplatz 1\n10115 Berlin');
  await page.click('[data-testid=institution-form] button[type=submit]');
  const websiteError = await page.waitForSelector('.field-error[data-field=institution-website]', WAIT);
  assert.match(await websiteError.textContent(), /web address/);
  assert.equal(await page.locator('.field-error[data-field=institution-name]').count(), 0, 'the fixed name shows no error');
  await shot('16-crm-institution-field-error');
  await page.fill('#institution-website', 'https://st-marien-klinikum.de/');
  await page.click('[data-testid=institution-form] button[type=submit]');
  await page.waitForURL('**/crm/*', WAIT);
  assert.equal((await page.textContent('[data-testid=institution-name]', WAIT)).trim(), 'St. Marien Klinikum');
  const facts = await page.textContent('[data-testid=institution-facts]');
  assert.match(facts, /hospital/);
  assert.match(facts, /st-marien-klinikum\.de/);
  assert.match(facts, /Lead/);

  // A contact with a mobile number and a work address; a broken address is refused beside its field.
  await page.click('button:has-text("Add contact")');
  await page.fill('#contact-name', 'Dr. Eva Weber');
  await page.fill('#contact-position', 'Head of IT');
  await page.selectOption('#contact-phone-kind', 'MOBILE');
  await page.fill('#contact-phone', '+49 151 23456789');
  await page.fill('#contact-email', 'eva.weber@');
  await page.click('[data-testid=contact-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=contact-email]', WAIT);
  await shot('17-crm-contact-email-error');
  await page.fill('#contact-email', 'eva.weber@st-marien-klinikum.de');
  await page.click('[data-testid=contact-form] button[type=submit]');
  const contact = page.locator('[data-testid=contact]', { hasText: 'Dr. Eva Weber' });
  await contact.waitFor(WAIT);
  assert.match(await contact.textContent(), /Head of IT/);
  const phones = contact.locator('[data-testid=phones]');
  assert.match(await phones.textContent(), /Mobile\s*\+4915123456789/, 'the number is stored in E.164 with its kind');
  assert.match(await contact.locator('[data-testid=emails]').textContent(), /Work\s*eva\.weber@st-marien-klinikum\.de/);

  // A second, typed phone number: a national number is refused, an international one added.
  await contact.locator('button:has-text("Add phone")').click();
  await contact.locator('[data-testid=add-detail] input').fill('030 1234');
  await contact.locator('[data-testid=add-detail] button[type=submit]').click();
  const phoneError = contact.locator('[data-testid=add-detail] .field-error');
  await phoneError.waitFor(WAIT);
  assert.match(await phoneError.textContent(), /international/);
  await contact.locator('[data-testid=add-detail] select').selectOption('FAX');
  await contact.locator('[data-testid=add-detail] input').fill('+49 30 12345678');
  await contact.locator('[data-testid=add-detail] button[type=submit]').click();
  await phones.locator('text=+493012345678').waitFor(WAIT);
  assert.equal(await phones.locator('li').count(), 2, 'the first number is kept');
  assert.match(await phones.textContent(), /Fax\s*\+493012345678/);
  assert.equal(await contact.locator('[data-testid=add-detail]').count(), 0, 'the form closes once saved');

  // A note on the institution, edited: the new text is current and the first stays readable.
  const notes = page.locator('[data-testid=institution-notes]');
  await notes.locator('[data-testid=add-note] textarea').fill('First call: interested in 40 seats.');
  await notes.locator('[data-testid=add-note] button[type=submit]').click();
  await notes.locator('[data-testid=note-body]', { hasText: '40 seats' }).waitFor(WAIT);
  await notes.locator('[data-testid=note] button:has-text("Edit")').click();
  await notes.locator('[data-testid=note] textarea').fill('Second call: 60 seats, decision in March.');
  await notes.locator('[data-testid=note] button[type=submit]').click();
  const note = notes.locator('[data-testid=note][data-version="2"]');
  await note.waitFor(WAIT);
  assert.match(await note.locator('[data-testid=note-body]').textContent(), /^Second call: 60 seats, decision in March\.$/);
  assert.equal(await notes.locator('[data-testid=note]').count(), 1, 'an edit adds a version, not a note');
  await note.locator('button:has-text("Earlier versions")').click();
  const versions = note.locator('[data-testid=note-versions]');
  await versions.waitFor(WAIT);
  assert.match(await versions.textContent(), /Version 1.*First call: interested in 40 seats\./s);
  // A note on the contact stays with the contact.
  await contact.locator('[data-testid=add-note] textarea').fill('Prefers e-mail over phone.');
  await contact.locator('[data-testid=add-note] button[type=submit]').click();
  await contact.locator('[data-testid=note-body]', { hasText: 'Prefers e-mail over phone.' }).waitFor(WAIT);
  assert.equal(await notes.locator('text=Prefers e-mail over phone.').count(), 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('18-crm-contact-and-note-versions');

  // The search on the list finds the contact by name and leads to its institution.
  await page.click('nav >> text=Leads');
  await page.fill('[data-testid=crm-search]', 'weber');
  await page.click('form.toolbar button[type=submit]');
  const hits = page.locator('[data-testid=contact-hits]');
  await hits.locator('text=Dr. Eva Weber').waitFor(WAIT);
  assert.match(await hits.textContent(), /Dr\. Eva Weber · Head of IT — St\. Marien Klinikum/);
  await hits.locator('a:has-text("St. Marien Klinikum")').click();
  await page.waitForURL('**/crm/*', WAIT);

  // Converting the lead creates the customer and links it.
  await page.click('button:has-text("Convert to customer")');
  assert.equal(await page.inputValue('#convert-name'), 'St. Marien Klinikum', 'the name is taken from the lead');
  await page.fill('#convert-email', 'it@st-marien-klinikum.de');
  await page.click('[data-testid=convert-form] button[type=submit]');
  const linked = await page.waitForSelector('[data-testid=linked-customer-name]', WAIT);
  assert.equal((await linked.textContent()).trim(), 'St. Marien Klinikum');
  assert.match(await page.textContent('[data-testid=linked-customer]'), /it@st-marien-klinikum\.de/);
  assert.equal(await page.locator('button:has-text("Convert to customer")').count(), 0, 'a customer is not converted twice');
  await shot('19-crm-converted-to-customer');

  await page.click('nav >> text=Leads');
  await page.waitForSelector('[data-testid=institutions] >> text=Customer: St. Marien Klinikum', WAIT);
  await page.click('nav >> text=Customers');
  await page.waitForSelector('[data-testid=customers] >> text=it@st-marien-klinikum.de', WAIT);

  // A wrong link is undone after a confirmation; the customer stays.
  await page.click('nav >> text=Leads');
  await page.click('[data-testid=institutions] >> a:has-text("St. Marien Klinikum")');
  await page.click('[data-testid=linked-customer] >> button:has-text("Unlink")');
  await page.waitForSelector('.modal >> text=the customer and its licenses stay', WAIT);
  await page.click('.modal >> button:has-text("Unlink")');
  await page.waitForSelector('[data-testid=linked-customer] >> text=Not a customer yet.', WAIT);
  assert.equal(await page.locator('[data-testid=linked-customer-name]').count(), 0);
  await page.click('nav >> text=Customers');
  await page.waitForSelector('[data-testid=customers] >> text=it@st-marien-klinikum.de', WAIT);
});

test('resources are imported with a report per value, allocated to a license all or none, quarantined with a reason and released', async () => {
  await page.click('nav >> text=Resource pools');
  await page.waitForSelector('[data-testid=import-form]', WAIT);
  await page.selectOption('#import-type', 'DOMAIN');
  await page.fill('#import-values', 'Shop.Example.COM\nnot a domain!\nshop.example.com\nmail.example.org');
  await page.click('text=Import values');
  const report = await page.waitForSelector('[data-testid=import-report]', WAIT);
  const reportText = await report.textContent();
  assert.match(reportText, /2 added/);
  assert.match(reportText, /1 already there/);
  assert.match(reportText, /1 invalid/);
  assert.match(await page.textContent('[data-testid=import-invalid]'), /not a domain!/);
  await page.waitForFunction(
    () => document.querySelector('[data-testid=pool-DOMAIN] [data-state=AVAILABLE]')?.textContent === '2', null, WAIT);
  await page.waitForSelector('[data-testid=resources] tr[data-value="shop.example.com"]', WAIT);
  await shot('20-resource-pools-import');

  // Three asked, two available: nothing is allocated, and the license page says why.
  await page.goto(created.licenseUrl);
  await page.waitForSelector('[data-testid=allocate-form]', WAIT);
  await page.selectOption('#allocate-type', 'DOMAIN');
  await page.fill('#allocate-count', '3');
  await page.click('[data-testid=allocate-form] >> text=Allocate');
  assert.match(await page.textContent('[data-testid=allocation-denied]', WAIT), /2/);
  await page.waitForSelector('[data-testid=license-resources] >> text=No resources are allocated to this license.', WAIT);
  await page.fill('#allocate-count', '2');
  await page.click('[data-testid=allocate-form] >> text=Allocate');
  await page.waitForSelector('[data-testid=allocated-resources] tr[data-value="mail.example.org"]', WAIT);
  assert.ok(await page.isVisible('[data-testid=allocated-resources] tr[data-value="shop.example.com"]'));
  await shot('21-license-resources');

  await page.click('nav >> text=Resource pools');
  await page.selectOption('#pool-filter-state', 'ALLOCATED');
  await page.click('[data-testid=resource-filters] >> text=Apply filter');
  const allocated = page.locator('[data-testid=resources] tr[data-value="shop.example.com"]');
  await allocated.waitFor(WAIT);
  assert.match(await allocated.textContent(), new RegExp(created.licenseKey), 'the holding license is shown');
  assert.equal(await page.locator('[data-testid=resources] tbody tr').count(), 2);

  // Quarantine asks for a reason; without one the field says so and nothing changes.
  await allocated.locator('text=Quarantine').click();
  await page.click('.modal >> button[type=submit]');
  await page.waitForSelector('.modal .field-error', WAIT);
  await page.fill('#quarantine-reason', 'Blocklisted by the registrar');
  await page.click('.modal >> button[type=submit]');
  await page.waitForSelector('.modal', { state: 'detached', ...WAIT });
  await page.selectOption('#pool-filter-state', '');
  await page.click('[data-testid=resource-filters] >> text=Apply filter');
  const quarantined = page.locator('[data-testid=resources] tr[data-value="shop.example.com"]');
  await page.waitForFunction(
    () => /Quarantined/.test(document.querySelector('[data-testid=resources] tr[data-value="shop.example.com"]')?.textContent),
    null, WAIT);
  assert.match(await quarantined.textContent(), /Blocklisted by the registrar/);
  assert.equal(await page.textContent('[data-testid=pool-DOMAIN] [data-state=QUARANTINED]'), '1');

  await quarantined.locator('text=History').click();
  const history = await page.waitForSelector('[data-testid=resource-history] li:nth-child(3)', WAIT);
  assert.match(await history.textContent(), /Allocated → Quarantined/);
  assert.match(await page.textContent('[data-testid=resource-history]'), /– → Available.*Available → Allocated/s);
  await shot('22-resource-history');

  await quarantined.locator('text=Release').click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=pool-DOMAIN] [data-state=AVAILABLE]')?.textContent === '1', null, WAIT);
  assert.equal(await page.textContent('[data-testid=pool-DOMAIN] [data-state=QUARANTINED]'), '0');
  assert.equal(await page.textContent('[data-testid=pool-DOMAIN] [data-state=ALLOCATED]'), '1');
});

/** Types `text` into the license form's customer field and chooses `name` from the matches by keyboard. */
async function chooseCustomer(text, name) {
  await page.fill('#customerId', '');
  await page.locator('#customerId').pressSequentially(text);
  const option = page.locator('#customerId-listbox [role=option]', { hasText: name });
  await option.waitFor(WAIT);
  const options = await page.locator('#customerId-listbox [role=option]').allTextContents();
  for (let i = 0; i <= options.findIndex((o) => o.includes(name)); i++) await page.keyboard.press('ArrowDown');
  await page.waitForSelector(`#customerId-listbox [role=option][aria-selected=true] >> text=${name}`, WAIT);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`[data-testid=chosen-customer] >> text=${name}`, WAIT);
  assert.equal(await page.inputValue('#customerId'), name);
}

test('a late customer gets a license from its page and from the form\'s search; its device is found by key and fingerprint, deactivated, and its session is in the history', async () => {
  // More customers than a page holds, all sorting after the others.
  for (let i = 1; i <= 25; i++) {
    const n = String(i).padStart(2, '0');
    await dashboardApi('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }',
      { i: { name: `Zeta ${n}`, email: `zeta${n}@zeta.example` } });
  }
  await page.click('nav >> text=Customers');
  await page.waitForSelector('[data-testid=customers] >> text=ACME GmbH', WAIT);
  assert.equal(await page.locator('[data-testid=customers] >> text=Zeta 25').count(), 0, 'not on the first page');
  await page.click('.pager >> text=Next');
  await page.click('[data-testid=customers] >> a:has-text("Zeta 25")');
  await page.waitForURL(/\/customers\/[0-9a-f-]{36}$/, WAIT);
  created.zetaUrl = page.url();
  assert.equal((await page.textContent('[data-testid=customer-name]', WAIT)).trim(), 'Zeta 25');
  await page.waitForSelector('text=This customer holds no licenses yet.', WAIT);
  await assertAccessible('the customer page');

  // "New license" opens the form with this customer chosen.
  await page.click('button:has-text("New license")');
  await page.waitForURL(/\/licenses\/new\?customer=[0-9a-f-]{36}$/, WAIT);
  await page.waitForSelector('[data-testid=chosen-customer] >> text=zeta25@zeta.example', WAIT);
  assert.equal(await page.inputValue('#customerId'), 'Zeta 25');
  await page.fill('#deviceLimit', '2');
  await page.fill('#concurrentSessionsLimit', '2');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/licenses\/[0-9a-f-]{36}$/, WAIT);
  const zetaKey = (await page.textContent('[data-testid=license-key]', WAIT)).trim();
  assert.match(await page.textContent('.page-header'), /Zeta 25 · zeta25@zeta\.example/);
  // Editing shows the license's customer, which stays.
  await page.click('button:has-text("Edit")');
  await page.waitForSelector('#customerId[readonly]', WAIT);
  assert.equal(await page.inputValue('#customerId'), 'Zeta 25 · zeta25@zeta.example');
  await page.goto(created.zetaUrl);
  const licenseRow = page.locator('[data-testid=customer-licenses] tr', { hasText: zetaKey });
  await licenseRow.waitFor(WAIT);
  assert.equal((await page.textContent('[data-testid=customer-license-count]')).trim(), '1');
  await shot('22a-customer-detail');

  // In the form, part of a late customer's name finds it; the keyboard chooses it.
  await page.click('nav >> text=Licenses');
  await page.click('text=New license');
  await page.waitForSelector('#customerId', WAIT);
  await page.locator('#customerId').pressSequentially('eta 24');
  await page.waitForSelector('#customerId-listbox [role=option] >> text=Zeta 24', WAIT);
  assert.equal(await page.locator('#customerId-listbox [role=option]').count(), 1);
  assert.equal(await page.getAttribute('#customerId', 'aria-expanded'), 'true');
  await page.keyboard.press('ArrowDown');
  await page.waitForSelector('#customerId[aria-activedescendant=customerId-option-0]', WAIT);
  assert.equal(await page.getAttribute('#customerId-option-0', 'aria-selected'), 'true');
  await shot('22d-license-customer-search');
  await assertAccessible('the license form with the customer search open');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=chosen-customer] >> text=zeta24@zeta.example', WAIT);
  assert.equal(await page.getAttribute('#customerId', 'aria-expanded'), 'false');
  assert.match(page.url(), /\/licenses\/new$/, 'Enter chose, it did not send the form');
  await page.fill('#deviceLimit', '1');
  await page.fill('#concurrentSessionsLimit', '1');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/licenses\/[0-9a-f-]{36}$/, WAIT);
  assert.match(await page.textContent('.page-header'), /Zeta 24 · zeta24@zeta\.example/);

  // Two devices of the Zeta 25 license, each with a live session.
  for (const [fingerprint, name] of [['zeta-ws-0001', 'Zeta workstation'], ['zeta-nb-0002', 'Zeta notebook']]) {
    const { activate } = await clientApi(
      'mutation($i: ActivateInput!) { activate(input: $i) { __typename } }',
      { i: { licenseKey: zetaKey, hardwareFingerprint: fingerprint, deviceName: name, deviceType: 'linux' } },
    );
    assert.equal(activate.__typename, 'SessionGranted');
  }
  await page.click('nav >> text=Devices');
  await page.fill('[data-testid=device-search]', zetaKey.toLowerCase());
  await page.click('form.toolbar button[type=submit]');
  // The unfiltered list shows first; the search's answer holds just the license's two devices.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=all-devices] tbody tr').length === 2, null, WAIT);
  assert.ok(await page.isVisible('[data-testid=all-devices] tr[data-fingerprint="zeta-nb-0002"]'));
  assert.match(await page.textContent('[data-testid=all-devices] tr[data-fingerprint="zeta-ws-0001"]'), new RegExp(zetaKey));
  await page.fill('[data-testid=device-search]', 'zeta-nb');
  await page.click('form.toolbar button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=all-devices] tbody tr').length === 1, null, WAIT);
  const device = page.locator('[data-testid=all-devices] tr[data-fingerprint="zeta-nb-0002"]');
  assert.match(await device.textContent(), /Zeta notebook.*Zeta 25/s);
  await shot('22b-devices');
  await assertAccessible('the devices page');
  await device.locator('button:has-text("Deactivate")').click();
  await page.waitForSelector('.modal >> text=zeta-nb-0002', WAIT);
  await assertAccessible('the deactivate confirmation');
  await page.click('.modal .btn-danger');
  await page.waitForSelector('.modal', { state: 'detached', ...WAIT });
  await page.waitForSelector('[data-testid=all-devices] tr[data-fingerprint="zeta-nb-0002"] >> text=Deactivated', WAIT);
  assert.equal(await device.locator('button:has-text("Deactivate")').count(), 0, 'no second deactivation');
  // Only the active ones: the deactivated device is gone from the list.
  await page.selectOption('#device-status-filter', 'active');
  await page.waitForSelector('text=No devices match.', WAIT);

  // The deactivation ended its session: the history shows it, filtered by reason and license.
  await page.click('nav >> text=Session history');
  await page.selectOption('#history-reason', 'DEVICE_DEACTIVATED');
  await page.fill('#history-license', zetaKey);
  await page.click('[data-testid=history-filters] >> text=Apply filter');
  const ended = page.locator('[data-testid=session-history] tbody tr');
  // The unfiltered history shows first; the filter leaves the one session of the deactivated device.
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('[data-testid=session-history] tbody tr');
    return rows.length === 1 && /zeta-nb-0002/.test(rows[0].textContent);
  }, null, WAIT);
  assert.match(await ended.textContent(), new RegExp(`${zetaKey}.*Zeta notebook.*Device deactivated`, 's'));
  assert.match(await ended.locator('td').nth(4).textContent(), /^\d+ s$/, 'a duration in seconds');
  await shot('22c-history');
  await assertAccessible('the session history');
  await page.selectOption('#history-reason', 'TIMEOUT');
  await page.click('[data-testid=history-filters] >> text=Apply filter');
  await page.waitForSelector('text=No ended sessions match.', WAIT);
});

test('edits from a fresh read save; a contact edit based on a stale read is refused, and the other change survives', async () => {
  // The license form sends the updatedAt it read; with nobody in between the edit saves.
  await page.goto(created.licenseUrl);
  await page.click('button:has-text("Edit")');
  await page.fill('#notes', 'Renewal due in spring.');
  await page.click('button[type=submit]');
  await page.waitForSelector('.notes >> text=Renewal due in spring.', WAIT);

  await page.click('nav >> text=Leads');
  await page.click('[data-testid=institutions] >> a:has-text("St. Marien Klinikum")');
  const card = page.locator('[data-testid=contact]').first();
  await card.locator('.contact-head button:has-text("Edit")').click();
  const contactId = await card.getAttribute('data-contact-id');
  // Meanwhile, in another tab of the same admin, the contact gets a third phone number.
  await dashboardApi(
    `mutation($id: ID!) { updateContact(id: $id, input: {name: "Dr. Eva Weber", position: "Head of IT",
      phones: [{kind: MOBILE, number: "+49 151 23456789"}, {kind: FAX, number: "+49 30 12345678"}, {kind: HOME, number: "+49 30 1234567"}],
      emails: [{kind: WORK, email: "eva.weber@st-marien-klinikum.de"}]}) { id } }`,
    { id: contactId },
  );

  // Saving the form, which still holds the two numbers it read, would drop the third: refused.
  await page.fill(`#contact-position-${contactId}`, 'Head of Digital');
  await card.locator('button:has-text("Save")').click();
  await page.waitForSelector('[data-testid=contact] .alert-error >> text=Someone else changed this in the meantime', WAIT);
  await shot('25-crm-edit-conflict');
  await page.reload();
  const reloaded = page.locator('[data-testid=contact]').first();
  await reloaded.locator('a[href="tel:+49301234567"]').waitFor(WAIT);
  assert.match(await reloaded.textContent(), /Head of IT/);
  assert.doesNotMatch(await reloaded.textContent(), /Head of Digital/);
});

test('an admin opens My account: password rules and a new password, new recovery codes once, other sessions signed out, 2FA off and on again', async () => {
  await page.click('[data-testid=signed-in-user]');
  await page.waitForURL('**/account', WAIT);
  // The rules shown are the server's own.
  const { passwordPolicy } = await dashboardApi('{ passwordPolicy { minLength maxLength } }');
  const rules = await page.textContent('[data-testid=password-rules]', WAIT);
  assert.match(rules, new RegExp(`${passwordPolicy.minLength}–${passwordPolicy.maxLength}`));
  await page.waitForSelector('[data-testid=my-sessions] tr[data-current=true]', WAIT);
  assert.match(await page.textContent('[data-testid=two-factor]'), /On/);
  await shot('25a-account');
  await assertAccessible('my account');

  // A repeat that differs is refused beside its field; then the password changes.
  const newPassword = `${ADMIN.password}-renewed`;
  await page.fill('#current-password', ADMIN.password);
  await page.fill('#new-password', newPassword);
  await page.fill('#repeat-password', 'not the same one');
  await page.click('[data-testid=password-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=repeat-password]', WAIT);
  await page.fill('#repeat-password', newPassword);
  await page.click('[data-testid=password-form] button[type=submit]');
  await page.waitForSelector('[data-testid=password-form] .alert-success', WAIT);
  ADMIN.password = newPassword;
  assert.equal(await page.inputValue('#current-password'), '', 'the form is cleared');

  // New recovery codes need the password and a current code, and are shown once.
  await page.fill('#regenerate-password', ADMIN.password);
  await page.fill('#regenerate-code', await freshCode());
  await page.click('[data-testid=regenerate-form] button[type=submit]');
  await page.waitForSelector('[data-testid=new-recovery-codes] li', WAIT);
  const codes = await page.locator('[data-testid=new-recovery-codes] li').allTextContents();
  assert.equal(codes.length, 10);
  assert.ok(codes.every((code) => /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/.test(code)), codes.join(' '));
  await shot('25b-account-recovery-codes');
  await assertAccessible('new recovery codes');
  await page.click('[data-testid=new-recovery-codes] .btn-primary');
  await page.waitForSelector('[data-testid=regenerate-form]', WAIT);
  assert.equal(await page.locator('[data-testid=new-recovery-codes]').count(), 0, 'gone once saved');

  // The same admin signs in from a second browser, which shows up in the list.
  const other = await launchChromium('dashboard-second');
  try {
    const otherPage = other.page;
    await otherPage.goto(`${BASE_URL}/login`);
    await otherPage.fill('#username', ADMIN.username);
    await otherPage.fill('#password', ADMIN.password);
    await otherPage.click('button[type=submit]');
    await otherPage.waitForSelector('#totp-code', WAIT);
    await otherPage.fill('#totp-code', await freshCode());
    await otherPage.click('button[type=submit]');
    await otherPage.waitForURL('**/overview', WAIT);

    await page.reload();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=my-sessions] tbody tr').length === 2, null, WAIT);
    const second = await page.textContent('[data-testid=my-sessions] tr[data-current=false]');
    assert.match(second, /Chrome/, 'its browser');
    assert.match(second, /127\.0\.0\.1/, 'its address');
    await shot('25c-account-sessions');
    await assertAccessible('my dashboard sessions');

    // "Sign out everywhere else" after a confirmation: the second browser's next page load goes to /login.
    await page.click('[data-testid=end-other-sessions]');
    await page.waitForSelector('.modal', WAIT);
    await assertAccessible('sign out everywhere else, confirmation');
    await page.click('.modal >> button.btn-danger');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=my-sessions] tbody tr').length === 1, null, WAIT);
    assert.ok(await page.isDisabled('[data-testid=end-other-sessions]'), 'nothing else to sign out');
    await otherPage.reload();
    await otherPage.waitForURL('**/login', WAIT);
  } finally {
    await other.close();
  }

  // Both languages.
  await page.click('[data-lang=de]');
  await page.waitForSelector('h1 >> text=Mein Konto', WAIT);
  assert.match(await page.textContent('[data-testid=password-rules]'), /Länge: \d+–\d+ Zeichen/);
  await shot('25d-account-de');
  await assertAccessible('my account in German');
  await page.click('[data-lang=en]');
  await page.waitForSelector('h1 >> text=My account', WAIT);

  // Turning 2FA off: an admin must have it, so enrolling a new authenticator follows at once.
  await page.fill('#disable-totp-password', ADMIN.password);
  await page.fill('#disable-totp-code', '000000');
  await page.click('[data-testid=disable-totp-form] button[type=submit]');
  await page.waitForSelector('.field-error[data-field=disable-totp-code]', WAIT);
  await shot('25e-account-wrong-code');
  await assertAccessible('a refused code');
  await page.fill('#disable-totp-code', await freshCode());
  await page.click('[data-testid=disable-totp-form] button[type=submit]');
  await page.waitForURL('**/two-factor', WAIT);
  const oldSecret = totpSecret;
  totpSecret = (await page.textContent('[data-testid=totp-secret]', WAIT)).trim();
  assert.notEqual(totpSecret, oldSecret, 'a new authenticator secret');
  await page.fill('#enroll-code', await freshCode());
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=recovery-codes] li', WAIT);
  await page.click('[data-testid=recovery-codes] .btn-primary');
  await page.waitForURL('**/overview', WAIT);
  await page.click('[data-testid=signed-in-user]');
  await page.waitForSelector('[data-testid=regenerate-form]', WAIT);
  assert.match(await page.textContent('[data-testid=two-factor]'), /On/);
  await shot('25f-account-2fa-again');
  await assertAccessible('my account after enrolling again');
  await page.click('nav >> text=Overview');
  await page.waitForURL('**/overview', WAIT);
});

// Last: it signs the admin out.
test('an analyst reads licenses, pools and leads but is offered no change anywhere', async () => {
  await page.click('text=Sign out');
  await page.waitForURL('**/login', WAIT);
  await page.fill('#username', ANALYST.username);
  await page.fill('#password', ANALYST.password);
  await page.click('button[type=submit]');
  await page.waitForURL('**/overview', WAIT);
  assert.match(await page.textContent('[data-testid=signed-in-user]'), /analyst/);
  // The overview is the analyst's start page too, read-only.
  await page.waitForSelector('[data-testid=license-counts] tr[data-type=TOTAL]', WAIT);
  assert.ok(Number(await page.textContent('[data-testid=license-counts] tr[data-type=TOTAL] td[data-state=TOTAL]')) >= 3);
  await page.waitForSelector('[data-testid=sessions-chart] svg rect', WAIT);
  await page.waitForSelector('[data-testid=overview-live] .live-indicator.on', WAIT);
  const buttons = await page.locator('main button').allTextContents();
  assert.ok(buttons.every((text) => /Previous|Next/.test(text)), `only paging on the overview: ${buttons}`);
  assert.equal(await page.locator('nav >> text=Users').count(), 0);
  assert.equal(await page.locator('nav >> text=Backups').count(), 0);

  await page.click('nav >> text=Resource pools');
  await page.waitForSelector('[data-testid=resources] tr[data-value="shop.example.com"]', WAIT);
  assert.equal(await page.textContent('[data-testid=pool-DOMAIN] [data-state=ALLOCATED]'), '1');
  assert.equal(await page.locator('[data-testid=import-form]').count(), 0, 'no import');
  const actions = await page.locator('[data-testid=resources] td.actions').allTextContents();
  assert.ok(actions.length >= 2 && actions.every((text) => text.trim() === 'History'), `only History: ${actions}`);
  await shot('23-analyst-resource-pools');

  await page.goto(created.licenseUrl);
  await page.waitForSelector('[data-testid=allocated-resources] tr[data-value="mail.example.org"]', WAIT);
  assert.equal(await page.locator('[data-testid=allocate-form]').count(), 0, 'no allocation');
  assert.equal(await page.locator('[data-testid=allocated-resources] >> text=Release').count(), 0);
  assert.equal(await page.locator('button:has-text("Deactivate")').count(), 0);
  assert.equal(await page.locator('[data-testid=offline-activation]').count(), 0, 'no offline activation');

  await page.click('nav >> text=Leads');
  await page.click('[data-testid=institutions] >> a:has-text("St. Marien Klinikum")');
  await page.waitForSelector('[data-testid=institution-name]', WAIT);
  assert.ok(await page.isVisible('text=Dr. Eva Weber'), 'contacts are shown');
  for (const label of ['Edit', 'Convert to customer', 'Link to customer', '+ Add contact', 'Add note']) {
    assert.equal(await page.locator(`button:has-text("${label}")`).count(), 0, `no "${label}" button`);
  }
  await shot('24-analyst-institution');

  await page.click('nav >> text=Templates');
  await page.waitForSelector('[data-testid=templates] >> text=Pro 30 days', WAIT);
  assert.equal(await page.locator('button:has-text("New template")').count(), 0, 'no new template');
  assert.equal(await page.locator('[data-testid=templates] >> text=Delete').count(), 0, 'no delete');

  await page.click('nav >> text=Devices');
  await page.waitForSelector('[data-testid=all-devices] tr[data-fingerprint="zeta-ws-0001"]', WAIT);
  assert.equal(await page.locator('[data-testid=all-devices] button:has-text("Deactivate")').count(), 0, 'no deactivation');
  await page.click('nav >> text=Session history');
  await page.waitForSelector('[data-testid=session-history] >> text=zeta-nb-0002', WAIT);
  await page.goto(created.zetaUrl);
  await page.waitForSelector('[data-testid=customer-licenses] tbody tr', WAIT);
  assert.equal(await page.locator('button:has-text("New license")').count(), 0, 'no new license');
});
