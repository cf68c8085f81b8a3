// The entry point runs each delivery's work outside the Functions Framework's per-request
// domain (functions/scc-responder/outside-request-domain.ts). Through a real framework
// process (test/support/outside-domain-fn, started like the deployed function): the work and
// what it creates see no domain (negative control: the same work in the framework's handler
// does), what it returns or throws is answered as before (204 / 500), an exception thrown in
// a callback of one delivery's work or a rejection it leaves unhandled fails that delivery alone
// (the others are answered, the instance lives on; negative controls: without our listeners the
// instance dies), and one that belongs to no delivery still ends the instance through the
// framework's own handlers (exit 16), as before.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, startFunctionProcess, type FunctionProcess } from '../support/function-process.js';

const SOURCE = path.join(ROOT, 'test/support/outside-domain-fn');
const started: FunctionProcess[] = [];
after(async () => {
  await Promise.all(started.map((f) => f.stop()));
});

async function start(target: 'probe' | 'inRequestDomain' | 'isolationRemoved'): Promise<FunctionProcess> {
  const fn = await startFunctionProcess(target, { NODE_ENV: 'test' }, 60_000, SOURCE);
  started.push(fn);
  return fn;
}

let seq = 0;
async function post(fn: FunctionProcess, action: string): Promise<{ id: string; status: number; body: string }> {
  const id = `probe-${action}-${seq++}`;
  const res = await fetch(fn.url, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', type: 'test.probe', source: '//test', id, datacontenttype: 'application/json', data: { action } }),
    signal: AbortSignal.timeout(60_000),
  });
  return { id, status: res.status, body: await res.text() };
}

interface ProbeLine {
  probe: string;
  where: string;
  domain: boolean;
}

function probeLines(fn: FunctionProcess, id: string): ProbeLine[] {
  const out: ProbeLine[] = [];
  for (const line of fn.output().split('\n')) {
    if (!line.startsWith('{"probe"')) continue;
    const p = JSON.parse(line) as ProbeLine;
    if (p.probe === id) out.push(p);
  }
  return out;
}

async function until(what: string, fn: FunctionProcess, check: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; output: ${fn.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('work outside the request domain, through a real Functions Framework process', () => {
  test('the work and what it creates run with no domain; answered 204; a rejection answers 500', async () => {
    const fn = await start('probe');
    const ok = await post(fn, 'ok');
    assert.equal(ok.status, 204, ok.body);
    const lines = probeLines(fn, ok.id);
    assert.deepEqual(lines.map((l) => l.where), ['start', 'after-timer', 'after-await']);
    for (const l of lines) assert.equal(l.domain, false, `${l.where}: process.domain is set inside the work`);

    const rejected = await post(fn, 'reject');
    assert.equal(rejected.status, 500, 'a thrown error still asks for a redelivery');
    assert.match(rejected.body, new RegExp(`planted rejection ${rejected.id}`));
    // The instance goes on.
    assert.equal((await post(fn, 'ok')).status, 204);
  });

  test('negative control: the same work in the framework handler sees the request domain', async () => {
    const fn = await start('inRequestDomain');
    const ok = await post(fn, 'ok');
    assert.equal(ok.status, 204, ok.body);
    const lines = probeLines(fn, ok.id);
    assert.equal(lines.length, 3, fn.output().slice(-2000));
    for (const l of lines) assert.equal(l.domain, true, `${l.where}: the probe does not see the framework's domain`);
  });

  for (const [action, what, planted] of [
    ['crash', 'uncaught exception', 'planted uncaught exception'],
    ['unhandled', 'unhandled promise rejection', 'planted unhandled rejection'],
  ] as const) {
    test(`an ${what} in one delivery fails that delivery alone (500), the others go on`, async () => {
      const fn = await start('probe');
      const waiting = post(fn, 'waitForCrash');
      // The waiting delivery is in flight before the other one fails.
      await until('the waiting delivery to start', fn, () => fn.output().includes('"probe":"probe-waitForCrash-'));
      const failed = await post(fn, action);
      assert.equal(failed.status, 500, failed.body);
      assert.match(failed.body, new RegExp(`${what} while handling delivery ${failed.id}: ${planted} ${failed.id}`));
      const survivor = await waiting;
      assert.equal(survivor.status, 204, survivor.body);
      assert.ok(probeLines(fn, survivor.id).some((l) => l.where === 'survived'));
      assert.equal(fn.exitCode(), null, 'the instance is still running');
      assert.equal((await post(fn, 'ok')).status, 204);
      const critical = fn.output().split('\n').find((l) => l.includes('"severity":"CRITICAL"') && l.includes(failed.id));
      assert.ok(critical, `a CRITICAL line names the delivery: ${fn.output().slice(-2000)}`);
      assert.match(critical, /this delivery fails and is redelivered, the others go on/);
    });

    test(`negative control: without the isolating listeners the same ${what} ends the instance`, async () => {
      const fn = await start('isolationRemoved');
      const failed = await post(fn, action).catch((err: unknown) => ({ id: '', status: -1, body: String(err) }));
      assert.notEqual(failed.status, 204);
      await until('the process to exit', fn, () => fn.exitCode() !== null);
      assert.notEqual(fn.exitCode(), 0, fn.output().slice(-2000));
      assert.match(fn.output(), new RegExp(planted));
    });
  }

  for (const [action, what, frameworkSays, planted] of [
    ['crashOutside', 'uncaught exception', 'Uncaught exception', 'planted exception outside any delivery'],
    ['unhandledOutside', 'unhandled promise rejection', 'Unhandled rejection', 'planted rejection outside any delivery'],
  ] as const) {
    test(`an ${what} that belongs to no delivery still ends the instance (the framework, exit 16)`, async () => {
      const fn = await start('probe');
      assert.equal((await post(fn, 'ok')).status, 204, 'our listeners are installed by the first delivery');
      const pending = post(fn, action).catch((err: unknown) => ({ id: '', status: -1, body: String(err) }));
      await until('the process to exit', fn, () => fn.exitCode() !== null);
      assert.equal(fn.exitCode(), 16, fn.output().slice(-2000));
      assert.match(fn.output(), new RegExp(frameworkSays));
      assert.match(fn.output(), new RegExp(planted));
      // The framework answered the latest request 500 before exiting, or its connection dropped.
      assert.notEqual((await pending).status, 204);
    });
  }
});
