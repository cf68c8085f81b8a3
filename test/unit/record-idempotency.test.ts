// Loop and duplicate safety over an in-memory store with the port's exact create-only
// semantics: one winner among concurrent claims, expiry/release takeover, completed -> skip,
// single flight inside one instance, and one execution across "instances" sharing a store.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  claimFinding, createIdempotency, decidedClaimView, inProgressError, readLatestReport, releaseClaim, shouldSkip, type ClaimResult, type ClaimView,
} from '../../shared/record/idempotency.js';
import { marksFor } from '../../shared/record/marks.js';
import { readReport, storeReport, storeReportObjects } from '../../shared/record/report-object.js';
import { findingFolder, keysIn } from '../../shared/ledger/layout.js';
import { classifyError } from '../../shared/common/errors.js';
import type { CreateOptions, StoredObject } from '../../shared/ports.js';
import { MemoryStore } from '../support/memory-store.js';

const FINDING = 'organizations/123/sources/456/findings/abc';
const FOLDER = 'acme/payments/payments/checkout-1/abc';
const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';
const input = (runId: string) => ({ findingName: FINDING, folder: FOLDER, runId });

/** Counts the reads of the folder's report.json. */
class CountingStore extends MemoryStore {
  reportReads = 0;
  override readText(key: string, signal?: AbortSignal): Promise<string | null> {
    if (key === keysIn(FOLDER).reportJson) this.reportReads += 1;
    return super.readText(key, signal);
  }
}

function winners(results: ClaimResult[]): number {
  return results.filter((r) => r.status === 'acquired').length;
}

describe('shouldSkip', () => {
  test('a finding carrying our handled marks is skipped with a reason; others are not', () => {
    const marks = { ...marksFor({ runId: 'run-7', rule: 'r', mode: 'dry-run', actions: [{ type: 'deletePod', status: 'would-do' }] }), team: 'x' };
    const s = shouldSkip({ securityMarks: marks });
    assert.equal(s.skip, true);
    assert.match(s.skip ? s.reason : '', /state=triaged, action=would-delete, run=run-7/);
    assert.deepEqual(shouldSkip({ securityMarks: { team: 'x' } }), { skip: false });
    assert.deepEqual(shouldSkip({ securityMarks: {} }), { skip: false });
    assert.deepEqual(shouldSkip({}), { skip: false });
  });
});

describe('claims', () => {
  test('10 concurrent claims: exactly one winner, the others see it in progress', async () => {
    const store = new MemoryStore();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => claimFinding(store, input(`run-${i}`))));
    assert.equal(winners(results), 1);
    const winner = results.find((r) => r.status === 'acquired');
    assert.ok(winner?.status === 'acquired');
    for (const r of results) if (r.status === 'in-progress') assert.equal(r.holder.runId, winner.claim.record.runId);
    assert.equal(results.filter((r) => r.status === 'in-progress').length, 9);
    assert.deepEqual([...store.objects.keys()], [keysIn(FOLDER).claim(0)]);
    const record = JSON.parse(store.text(keysIn(FOLDER).claim(0)) ?? '') as { status: string; runId: string; expiresAt: string };
    assert.equal(record.status, 'in-progress');
    assert.equal(record.runId, winner.claim.record.runId);
  });

  test('an expired claim is taken over under the next generation, by exactly one of 10 takers', async () => {
    const store = new MemoryStore();
    let t = Date.parse('2026-11-27T10:00:00Z');
    const now = () => t;
    const first = await claimFinding(store, { ...input('crashed'), ttlMs: 60_000, now });
    assert.equal(first.status, 'acquired');
    t += 30_000;
    const early = await claimFinding(store, { ...input('early'), ttlMs: 60_000, now });
    assert.equal(early.status, 'in-progress');
    t += 31_000; // past the expiry
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => claimFinding(store, { ...input(`taker-${i}`), ttlMs: 60_000, now })));
    assert.equal(winners(results), 1);
    const w = results.find((r) => r.status === 'acquired');
    assert.ok(w?.status === 'acquired');
    assert.equal(w.claim.generation, 1);
    assert.equal(w.claim.tookOver?.why, 'expired');
    assert.equal(w.claim.tookOver?.holder?.runId, 'crashed');
    for (const r of results) if (r.status === 'in-progress') assert.equal(r.holder.generation, 1);
  });

  test('a released claim is taken over at once, without waiting for its expiry', async () => {
    const store = new MemoryStore();
    const a = await claimFinding(store, input('a'));
    assert.ok(a.status === 'acquired');
    await releaseClaim(store, a.claim, 'UNAVAILABLE from the API server');
    assert.ok(store.text(keysIn(FOLDER).release(0))?.includes('UNAVAILABLE'));
    const b = await claimFinding(store, input('b'));
    assert.ok(b.status === 'acquired');
    assert.equal(b.claim.generation, 1);
    assert.equal(b.claim.tookOver?.why, 'released');
  });

  test('an unreadable claim (writer crashed mid-write) does not block forever', async () => {
    const store = new MemoryStore();
    store.put(keysIn(FOLDER).claim(0), '{"stat');
    const r = await claimFinding(store, input('b'));
    assert.ok(r.status === 'acquired');
    assert.equal(r.claim.generation, 1);
    assert.equal(r.claim.tookOver?.why, 'unreadable');
  });

  test('a claim whose metadata is missing is read from its JSON body', async () => {
    const store = new MemoryStore();
    store.put(keysIn(FOLDER).claim(0), JSON.stringify({ status: 'in-progress', findingName: FINDING, runId: 'other', generation: 0, claimedAt: '', expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    const r = await claimFinding(store, input('b'));
    assert.ok(r.status === 'in-progress');
    assert.equal(r.holder.runId, 'other');
  });

  test('the same run claiming again is re-entrant', async () => {
    const store = new MemoryStore();
    assert.equal((await claimFinding(store, input('same'))).status, 'acquired');
    assert.equal((await claimFinding(store, input('same'))).status, 'acquired');
  });

  test('a completed record means "already handled": no claim is written', async () => {
    const store = new MemoryStore();
    // Only a claim holder writes report.json: the completing run holds claim-0.
    assert.equal((await claimFinding(store, input('done-run'))).status, 'acquired');
    await storeReport(store, { folder: FOLDER, findingName: FINDING, runId: 'done-run', report: { outcome: { verdict: 'handled' } } });
    const before = [...store.objects.keys()].sort();
    const r = await claimFinding(store, input('late'));
    assert.ok(r.status === 'completed');
    assert.deepEqual(r.report, { outcome: { verdict: 'handled' } });
    assert.deepEqual([...store.objects.keys()].sort(), before);
  });

  test('a holder that outlived its expiry and completed wins over the taker (re-check after claiming)', async () => {
    class CompletingStore extends MemoryStore {
      override async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }> {
        // The slow holder finishes exactly while the taker creates generation 1.
        if (key === keysIn(FOLDER).claim(1)) this.put(keysIn(FOLDER).reportJson, '{"by":"slow-holder"}');
        return super.create(key, body, metadata, signal, options);
      }
    }
    const store = new CompletingStore();
    let t = 0;
    await claimFinding(store, { ...input('slow-holder'), ttlMs: 10, now: () => t });
    t = 100;
    const r = await claimFinding(store, { ...input('taker'), ttlMs: 10, now: () => t });
    assert.ok(r.status === 'completed');
    assert.deepEqual(r.report, { by: 'slow-holder' });
  });

  test('a first claim (generation 0) never reads report.json and says it is first; a takeover reads it before and after claiming', async () => {
    const store = new CountingStore();
    let t = 0;
    const first = await claimFinding(store, { ...input('first'), ttlMs: 10, now: () => t });
    assert.ok(first.status === 'acquired' && first.claim.generation === 0 && first.claim.first === true);
    assert.equal(store.reportReads, 0, 'no one can have completed a folder nobody had claimed');
    t = 100;
    const taker = await claimFinding(store, { ...input('taker'), ttlMs: 10, now: () => t });
    assert.ok(taker.status === 'acquired' && taker.claim.generation === 1);
    assert.equal(taker.claim.first, undefined, 'a takeover is not a first delivery');
    assert.equal(store.reportReads, 2, 'the taker reads it before and after claiming generation 1');
  });

  test('a completed finding: claim-0 is tried first (refused, nothing written), then report.json says completed', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    const done = (v: { verdict: string }) => ({ complete: { report: { finding: FINDING, ...v }, markdown: `# ${v.verdict}\n` } });
    assert.equal((await idem.run(input('r1'), async () => ({ verdict: 'handled' }), done)).status, 'executed');
    const keys = [...store.objects.keys()].sort();
    const creates = store.creates.length;
    const again = await claimFinding(store, input('r2'));
    assert.ok(again.status === 'completed');
    assert.deepEqual([...store.objects.keys()].sort(), keys, 'no object added');
    assert.deepEqual(store.creates.slice(creates), [{ key: keysIn(FOLDER).claim(0), created: false }]);
    // Negative control: a folder with a claim-0 but no report.json is not completed.
    const other = new MemoryStore();
    await claimFinding(other, input('holder'));
    assert.equal((await claimFinding(other, input('r3'))).status, 'in-progress');
  });

  test('a forced re-run reads report.json before claiming (it needs who completed the finding)', async () => {
    const store = new CountingStore();
    const forced = await claimFinding(store, { ...input('forced'), force: true });
    assert.ok(forced.status === 'acquired' && forced.claim.generation === 0);
    assert.equal(forced.claim.first, true, 'it did create claim-0: nobody claimed before');
    assert.equal(store.reportReads, 1, 'forced: report.json is read before claiming');
    // A report.json without claim-0 (the lifecycle deletes claim-0 seconds before it, by age):
    // the forced run creates claim-0 but an earlier run did complete, so it is not first.
    const orphan = new MemoryStore();
    await storeReport(orphan, { folder: FOLDER, findingName: FINDING, runId: 'old', report: { verdict: 'deleted' } });
    const again = await claimFinding(orphan, { ...input('forced-again'), force: true });
    assert.ok(again.status === 'acquired' && again.claim.generation === 0);
    assert.equal(again.claim.first, undefined, 'report.json was there: not the first run');
  });

  test('a finding that crashes every time stops being taken over: permanent error', async () => {
    const store = new MemoryStore();
    let t = 0;
    for (let i = 0; i < 3; i += 1) {
      const r = await claimFinding(store, { ...input(`r${i}`), ttlMs: 1, now: () => t, maxGenerations: 3 });
      assert.equal(r.status, 'acquired');
      t += 10;
    }
    await assert.rejects(claimFinding(store, { ...input('r3'), ttlMs: 1, now: () => t, maxGenerations: 3 }), (err: unknown) => {
      const c = classifyError(err);
      return c.kind === 'permanent' && c.code === 'CLAIM_GENERATIONS_EXHAUSTED';
    });
  });

  test('store faults surface classified (503 transient, 403 permanent)', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: `create ${keysIn(FOLDER).claim(0)}`, status: 503 });
    await assert.rejects(claimFinding(store, input('a')), (err: unknown) => classifyError(err).kind === 'transient');
    assert.equal((await claimFinding(store, input('a'))).status, 'acquired');
    // report.json is read once claim-0 exists (a redelivery): its faults surface too.
    store.faults.inject({ match: `readText ${keysIn(FOLDER).reportJson}`, status: 403 });
    await assert.rejects(claimFinding(store, input('b')), (err: unknown) => classifyError(err).kind === 'permanent');
    assert.equal((await claimFinding(store, input('a'))).status, 'acquired', 're-entrant');
  });

  test('the in-progress error is transient (Pub/Sub redelivers after the holder finished)', () => {
    const e = inProgressError(FINDING, { status: 'in-progress', findingName: FINDING, runId: 'h', generation: 2, claimedAt: '', expiresAt: '2026-11-27T10:15:00.000Z' });
    assert.deepEqual({ kind: classifyError(e).kind, code: classifyError(e).code }, { kind: 'transient', code: 'IN_PROGRESS' });
    assert.match(e.message, /run h .*generation 2/);
  });
});

describe('idempotent run', () => {
  const complete = (value: { verdict: string }) => ({ complete: { report: { finding: FINDING, ...value }, markdown: `# ${value.verdict}\n` } });

  test('10 concurrent deliveries in one instance: one execution, nine shared results, one report', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    let executions = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        idem.run(input(`run-${i}`), async () => {
          executions += 1;
          await new Promise((r) => setImmediate(r));
          return { verdict: 'handled' };
        }, complete),
      ),
    );
    assert.equal(executions, 1);
    assert.deepEqual(results.map((r) => [r.status, r.shared]).sort(), [['executed', false], ...Array.from({ length: 9 }, () => ['executed', true])].sort());
    assert.equal(store.creates.filter((c) => c.key === keysIn(FOLDER).reportJson && c.created).length, 1);
    assert.deepEqual(idem.inFlight(), []);
  });

  test('two instances sharing a store, 5 deliveries each at once: the work runs exactly once', async () => {
    const store = new MemoryStore();
    const a = createIdempotency({ store });
    const b = createIdempotency({ store });
    let executions = 0;
    const work = async () => {
      executions += 1;
      await new Promise((r) => setTimeout(r, 5));
      return { verdict: 'handled' };
    };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).run(input(`run-${i}`), work, complete)));
    assert.equal(executions, 1);
    assert.equal(results.filter((r) => r.status === 'executed' && !r.shared).length, 1);
    // The other instance's deliveries saw a live claim: they must be retried, not acked as done.
    assert.ok(results.every((r) => r.status === 'executed' || r.status === 'in-progress'));
    const redelivered = await b.run(input('redelivery'), work, complete);
    assert.equal(redelivered.status, 'already-completed');
    assert.equal(executions, 1);
  });

  test('runConcurrently: two instances, 5 deliveries each; reads overlap, effects happen exactly once, after admit', async () => {
    const store = new MemoryStore();
    const a = createIdempotency({ store });
    const b = createIdempotency({ store });
    let reads = 0;
    let effects = 0;
    const work = async (admit: () => Promise<void>) => {
      reads += 1; // work before admit(): reads only
      await new Promise((r) => setTimeout(r, 2));
      await admit();
      effects += 1;
      return { verdict: 'handled' };
    };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).runConcurrently(input(`run-${i}`), work, complete)));
    assert.equal(effects, 1);
    assert.equal(reads, 2, 'one execution per instance started (single flight inside each)');
    assert.equal(results.filter((r) => r.status === 'executed' && !r.shared).length, 1);
    assert.ok(results.every((r) => r.status === 'executed' || r.status === 'in-progress'));
    assert.equal((await b.runConcurrently(input('redelivery'), work, complete)).status, 'already-completed');
    assert.equal(effects, 1);
  });

  test('runConcurrently: the work learns whether it is the first delivery once the claim answers (pending until then)', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: `create ${keysIn(FOLDER).claim(0)}`, delayMs: 30 });
    const idem = createIdempotency({ store });
    const seen: (boolean | undefined)[] = [];
    const work = async (admit: () => Promise<void>, claim: ClaimView) => {
      seen.push(claim.firstNow());
      seen.push(await claim.first, claim.firstNow());
      await admit();
      throw new Error('transient: try again');
    };
    await assert.rejects(idem.runConcurrently(input('r1'), work, complete), /transient/);
    assert.deepEqual(seen, [undefined, true, true], 'pending, then first');
    // Negative control: the redelivery takes claim-1 over, so it is not first.
    seen.length = 0;
    await assert.rejects(idem.runConcurrently(input('r2'), work, complete), /transient/);
    assert.deepEqual(seen.slice(1), [false, false]);
    // A claim that fails reads as "not first" (look for earlier records), never as a rejection.
    seen.length = 0;
    store.faults.inject({ match: `create ${keysIn(FOLDER).claim(2)}`, status: 503 });
    await assert.rejects(idem.runConcurrently(input('r3'), work, complete), (err: unknown) => classifyError(err).kind === 'transient');
    assert.deepEqual(seen.slice(1), [false, false]);
    assert.deepEqual(decidedClaimView(null).firstNow(), false);
  });

  test('runConcurrently: a work that throws after admit releases the claim; one refused by admit does not', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    await assert.rejects(
      idem.runConcurrently(input('run-1'), async (admit) => {
        await admit();
        throw new Error('boom');
      }, complete),
      /boom/,
    );
    const again = await idem.runConcurrently(input('run-2'), async (admit) => {
      await admit();
      return { verdict: 'handled' };
    }, complete);
    assert.equal(again.status, 'executed', 'the released claim does not block the redelivery');
  });

  test('work that throws releases the claim and rethrows; the redelivery runs at once and completes', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    await assert.rejects(idem.run(input('r1'), async () => {
      throw Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' });
    }, complete), /ECONNRESET/);
    assert.ok(store.objects.has(keysIn(FOLDER).release(0)));
    const r = await idem.run(input('r2'), async () => ({ verdict: 'handled' }), complete);
    assert.ok(r.status === 'executed');
    assert.equal(r.claim?.generation, 1);
    assert.equal(r.stored?.created, true);
    assert.equal(store.text(keysIn(FOLDER).reportMarkdown), '# handled\n');
  });

  test('finish -> release (transient failure recorded in the value): no report, the retry takes over', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    const r1 = await idem.run(input('r1'), async () => ({ verdict: 'retry' }), (v) => (v.verdict === 'retry' ? { release: 'snapshot: UNAVAILABLE' } : complete(v)));
    assert.ok(r1.status === 'executed' && r1.released);
    assert.equal(await readReport(store, FOLDER), null);
    const r2 = await idem.run(input('r2'), async () => ({ verdict: 'handled' }), complete);
    assert.ok(r2.status === 'executed' && !r2.released && r2.stored?.created);
  });

  test('a completion record that cannot be written: error rethrown, claim released, the retry completes', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    store.faults.inject({ match: `create ${keysIn(FOLDER).reportJson}`, status: 503 });
    await assert.rejects(idem.run(input('r1'), async () => ({ verdict: 'handled' }), complete), (err: unknown) => classifyError(err).kind === 'transient');
    assert.ok(store.objects.has(keysIn(FOLDER).release(0)));
    const r = await idem.run(input('r2'), async () => ({ verdict: 'handled' }), complete);
    assert.ok(r.status === 'executed' && r.stored?.created);
  });

  test('without a store: single flight only, nothing stored', async () => {
    const idem = createIdempotency();
    let executions = 0;
    const results = await Promise.all([1, 2, 3].map((i) => idem.run(input(`r${i}`), async () => {
      executions += 1;
      await new Promise((r) => setImmediate(r));
      return { verdict: 'handled' };
    }, complete)));
    assert.equal(executions, 1);
    assert.deepEqual(results.map((r) => r.status === 'executed' && r.stored), [null, null, null]);
  });

  test('an error is shared by the concurrent duplicates (all redelivered)', async () => {
    const idem = createIdempotency({ store: new MemoryStore() });
    const runs = [1, 2, 3].map((i) => idem.run(input(`r${i}`), async () => {
      await new Promise((r) => setImmediate(r));
      throw new Error('boom');
    }, complete));
    const settled = await Promise.allSettled(runs);
    assert.deepEqual(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected']);
  });
});

describe('report object', () => {
  const incident = { findingId: 'abc', projectId: 'acme', cluster: { project: 'acme', name: 'payments' }, namespace: 'payments', pod: 'checkout-1' };

  test('json and markdown beside the evidence, create-only, scrubbed; the first report stands', async () => {
    const store = new MemoryStore();
    const report = { findingName: FINDING, runId: 'run-1', incident, env: [{ name: 'STRIPE_API_KEY', val: SECRET }], note: `key ${SECRET}` };
    const stored = await storeReportObjects(store, report, { renderMarkdown: (r) => `# ${r.findingName}\nsecret: ${SECRET}\n` });
    assert.equal(findingFolder(incident), FOLDER);
    assert.equal(stored.json.key, `${FOLDER}/report.json`);
    assert.equal(stored.markdown?.key, `${FOLDER}/report.md`);
    assert.equal(stored.created, true);
    for (const key of [stored.json.key, stored.markdown?.key ?? '']) assert.ok(!store.text(key)?.includes(SECRET), key);
    assert.equal(stored.json.metadata['scc-run'], 'run-1');
    assert.equal(stored.json.metadata['scc-finding'], FINDING);
    // markdown is written before the JSON (the JSON is the completion record)
    assert.deepEqual(store.creates.map((c) => c.key), [`${FOLDER}/report.md`, `${FOLDER}/report.json`]);
    const again = await storeReportObjects(store, { ...report, runId: 'run-2' }, { renderMarkdown: () => 'other' });
    assert.equal(again.created, false);
    assert.equal((JSON.parse(store.text(`${FOLDER}/report.json`) ?? '{}') as { runId: string }).runId, 'run-1');
  });

  test('hostile incident parts stay inside one folder; no folder and no incident is refused', async () => {
    const folder = findingFolder({ ...incident, pod: '../../etc', namespace: 'a/b' });
    assert.equal(folder.split('/').length, 5);
    assert.ok(!folder.split('/').includes('..'));
    await assert.rejects(storeReportObjects(new MemoryStore(), { findingName: FINDING, runId: 'r' }), (err: unknown) => classifyError(err).kind === 'permanent');
  });

  test('a report that is not JSON still counts as completed', async () => {
    const store = new MemoryStore();
    assert.equal((await claimFinding(store, input('writer'))).status, 'acquired');
    store.put(keysIn(FOLDER).reportJson, 'garbage');
    assert.deepEqual(await readReport(store, FOLDER), { unreadable: true });
    assert.equal((await claimFinding(store, input('x'))).status, 'completed');
  });
});

describe('runs that take no effect, forced re-runs', () => {
  const record = (verdict: string) => ({ report: { finding: FINDING, verdict, completedAt: new Date().toISOString() }, markdown: `# ${verdict}\n` });
  const keep = (v: { verdict: string }) => ({ keep: record(v.verdict), reason: 'no effect' });
  const complete = (v: { verdict: string }) => ({ complete: record(v.verdict) });

  test('a run that took no effect keeps its report as report-<n> and does not block the next run', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    let runs = 0;
    const work = () => Promise.resolve({ verdict: `dry-${(runs += 1)}` });
    const first = await idem.run(input('a'), work, keep);
    const second = await idem.run(input('b'), work, keep);
    assert.deepEqual([first.status, second.status, runs], ['executed', 'executed', 2]);
    assert.equal(await readReport(store, FOLDER), null, 'no completion record');
    assert.match(await store.readText(`${FOLDER}/report-1.json`) ?? '', /dry-2/);
    assert.equal((await readLatestReport(store, FOLDER))?.report['verdict'], 'dry-2');
    // Once a run takes effects, the next delivery is not run again.
    await idem.run(input('c'), work, complete);
    assert.equal((await idem.run(input('d'), work, keep)).status, 'already-completed');
    assert.equal(runs, 3);
  });

  test('finished generations do not count towards the takeover limit; crashed ones do (negative control)', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store, maxGenerations: 2 });
    const work = () => Promise.resolve({ verdict: 'dry' });
    for (let i = 0; i < 4; i += 1) assert.equal((await idem.run(input(`r${i}`), work, keep)).status, 'executed');
    const crashing = createIdempotency({ store: new MemoryStore(), maxGenerations: 2 });
    for (let i = 0; i < 2; i += 1) await crashing.run(input(`c${i}`), () => Promise.reject(new Error('boom')), keep).catch(() => undefined);
    await assert.rejects(crashing.run(input('c9'), work, keep), /claim generations .* are all expired or released/);
  });

  test('a forced re-run after completion runs (even while the completing claim is live) and keeps its report beside report.json', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store });
    await idem.run(input('first'), () => Promise.resolve({ verdict: 'deleted' }), complete);
    const forced = await idem.run({ ...input('again'), force: true }, () => Promise.resolve({ verdict: 'pod-gone' }), complete);
    assert.equal(forced.status, 'executed');
    assert.match(await store.readText(keysIn(FOLDER).reportJson) ?? '', /deleted/, 'the completion record stands');
    assert.match(await store.readText(`${FOLDER}/report-1.json`) ?? '', /pod-gone/);
    assert.equal((await idem.run(input('redelivery'), () => Promise.resolve({ verdict: 'x' }), complete)).status, 'already-completed');
  });
});
