// The GraphQL-over-HTTP audit of npm `graphql-http` (every MUST, SHOULD and MAY of the
// specification it checks) against the real listening server (tests/browser/run.sh), as an
// analyst's API key sees it. Every result is printed; any warning or error fails the run (a
// notice, which the audit uses for what the specification leaves open, is printed only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';

const URL = `${process.env.BASE_URL.replace('localhost', '127.0.0.1')}/graphql`;
const KEY = process.env.ANALYST_KEY;

/** `fetch` with the analyst's key on every request, whatever headers the audit sets. */
function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('X-API-Key', KEY);
  return fetch(input, { ...init, headers });
}

test('the GraphQL-over-HTTP audit passes with no error and no warning', async () => {
  const audits = serverAudits({ url: URL, fetchFn: fetchWithKey });
  const failures = [];
  for (const audit of audits) {
    const result = await audit.fn();
    if (result.status === 'ok') {
      console.log(`ok     ${result.id} ${result.name}`);
    } else {
      const body = await result.response.text().catch(() => '');
      console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}: ${result.reason}\n       ${body.slice(0, 300)}`);
      if (result.status !== 'notice') failures.push(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
    }
  }
  assert.ok(audits.length >= 50, `only ${audits.length} audits ran`);
  assert.deepEqual(failures, []);
});
