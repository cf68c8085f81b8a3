// A message that does not match the policy must not load any Google client library (cold
// start and cost): proven in a fresh process with module resolution hooks that see every
// ESM import and CommonJS require.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const script = (notificationFile: string, env: Record<string, string> = {}): string => `
  import { registerHooks } from 'node:module';
  const loaded = new Set();
  registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); const m = /node_modules\\/(@google-cloud\\/[^/]+)/.exec(r.url); if (m) loaded.add(m[1]); return r; } });
  const { readFileSync } = await import('node:fs');
  const { getTestServer } = await import('@google-cloud/functions-framework/testing');
  const { configureResponder, FUNCTION_NAME } = await import(${JSON.stringify(new URL('../../functions/scc-responder/index.ts', import.meta.url).href)});
  const { structuredEvent } = await import(${JSON.stringify(new URL('../support/cloudevents.ts', import.meta.url).href)});
  configureResponder({ auditDestination: { write() {} }, env: { SCC_RESPONDER_CLUSTER_ACCESS: 'none', SCC_RESPONDER_MARKS: 'off', SCC_RESPONDER_LOGS: 'off', ...${JSON.stringify(env)} } });
  const server = getTestServer(FUNCTION_NAME);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const n = JSON.parse(readFileSync(${JSON.stringify(new URL(`../fixtures/${notificationFile}`, import.meta.url).pathname)}, 'utf8'));
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(structuredEvent(n)) });
  server.close();
  console.log(JSON.stringify({ status: res.status, loaded: [...loaded].sort() }));
`;

function run(file: string, env: Record<string, string> = {}): { status: number; loaded: string[] } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(file, env)], { encoding: 'utf8', env: process.env, timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { status: number; loaded: string[] };
}

test('a non-matching message is acked and loads no @google-cloud package but the Functions Framework', () => {
  const { status, loaded } = run('added-binary-executed.v1.json');
  assert.equal(status, 204);
  assert.deepEqual(loaded, ['@google-cloud/functions-framework']);
});

test('the check can fail: a matching message loads the client its evidence store needs', () => {
  // A Cloud Storage evidence store (nothing listens on the endpoint: the claim fails, which
  // is not the point here) is built for a matching finding: @google-cloud/storage is seen.
  const { loaded } = run('modified-malicious-binary.v1.json', { SCC_RESPONDER_EVIDENCE: 'gs://scc-lazy-test/p', SCC_RESPONDER_ENDPOINT_STORAGE: '127.0.0.1:9' });
  assert.ok(loaded.includes('@google-cloud/storage'), JSON.stringify(loaded));
});

test('a matching finding loads no Logging client before its first query', () => {
  // Log search configured but never queried (enrichment needs cluster access, which is off):
  // its client is never loaded. (SCC's client is: the function confirms every finding first.)
  const { loaded } = run('modified-malicious-binary.v1.json', { SCC_RESPONDER_LOGS: 'on' });
  assert.ok(loaded.includes('@google-cloud/security-center'), `the confirmation loads SCC's client (the check sees loads): ${JSON.stringify(loaded)}`);
  assert.ok(!loaded.includes('@google-cloud/logging'), JSON.stringify(loaded));
});
