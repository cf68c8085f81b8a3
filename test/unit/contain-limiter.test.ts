import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createActionLimiter, hourWindow, NoSharedStoreLimiter, StoreActionLimiter } from '../../shared/contain/limiter.js';
import { ruleSegment } from '../../shared/ledger/layout.js';
import { assertSafeKey } from '../../shared/ledger/keys.js';
import { Readable } from 'node:stream';
import { classifyError } from '../../shared/common/errors.js';
import type { StoredObject } from '../../shared/ports.js';
import { MemoryStore } from '../support/memory-store.js';

const NOW = new Date('2026-11-27T09:14:02.113Z');

describe('StoreActionLimiter (in-memory store)', () => {
  test('allows exactly `limit` distinct actions per hour, slot objects 0..limit-1', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    const verdicts = [];
    for (let i = 0; i < 4; i += 1) verdicts.push(await limiter.reserve('delete-critical', 3, `finding-${i}`, NOW));
    assert.deepEqual(verdicts.map((v) => v.allowed), [true, true, true, false]);
    assert.deepEqual(verdicts.map((v) => v.slot), [0, 1, 2, undefined]);
    assert.match(verdicts[3]?.reason ?? '', /maxActionsPerHour \(3\) reached for rule delete-critical in 2026-11-27T09Z/);
    const slots = (await store.list('_ratelimit/delete-critical/2026-11-27T09/slots/')).sort();
    assert.deepEqual(slots, [0, 1, 2].map((n) => `_ratelimit/delete-critical/2026-11-27T09/slots/${n}.json`));
    const rec = JSON.parse(store.text(slots[0] ?? '') ?? '{}') as Record<string, unknown>;
    assert.equal(rec['rule'], 'delete-critical');
    assert.equal(rec['window'], '2026-11-27T09');
  });

  test('the same action on the same target (redelivery) reuses its slot', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    const first = await limiter.reserve('r', 1, 'finding-a\ndeletePod\npod:uid-1', NOW);
    const again = await limiter.reserve('r', 1, 'finding-a\ndeletePod\npod:uid-1', NOW);
    const other = await limiter.reserve('r', 1, 'finding-b\ndeletePod\npod:uid-2', NOW);
    assert.equal(first.allowed, true);
    assert.equal(again.allowed, true);
    assert.equal(again.reused, true);
    assert.equal(again.slot, 0);
    assert.equal(other.allowed, false);
    assert.equal((await store.list('_ratelimit/r/2026-11-27T09/slots/')).length, 1);
  });

  test('two limiter instances racing on one store never exceed the limit', async () => {
    const store = new MemoryStore();
    const a = new StoreActionLimiter(store);
    const b = new StoreActionLimiter(store);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).reserve('r', 5, `finding-${i}`, NOW)),
    );
    const allowed = results.filter((r) => r.allowed);
    assert.equal(allowed.length, 5);
    assert.deepEqual(allowed.map((r) => r.slot).sort(), [0, 1, 2, 3, 4]);
    // The race was real: some creates lost to the other instance.
    assert.ok(store.creates.some((c) => !c.created && c.key.includes('/slots/')));
  });

  test('a new hour is a new window', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    assert.equal((await limiter.reserve('r', 1, 's1', NOW)).allowed, true);
    assert.equal((await limiter.reserve('r', 1, 's2', NOW)).allowed, false);
    assert.equal((await limiter.reserve('r', 1, 's2', new Date('2026-11-27T10:00:00.000Z'))).allowed, true);
  });

  test('rules are counted separately', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    assert.equal((await limiter.reserve('rule-a', 1, 's1', NOW)).allowed, true);
    assert.equal((await limiter.reserve('rule-b', 1, 's2', NOW)).allowed, true);
  });

  test('peek writes nothing and tells what reserve then does, in the same words', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    await limiter.reserve('r', 2, 's0', NOW);
    const peeked = await limiter.peek('r', 2, 's1', NOW);
    assert.equal(store.creates.length, 2); // slot + claim of s0 only
    const reserved = await limiter.reserve('r', 2, 's1', NOW);
    assert.equal(peeked.allowed, reserved.allowed);
    assert.equal(peeked.reason, reserved.reason);
    const full = await limiter.peek('r', 2, 's2', NOW);
    assert.equal(full.allowed, false);
    assert.equal(full.reason, (await limiter.reserve('r', 2, 's2', NOW)).reason);
  });

  test('limit 0 allows nothing', async () => {
    const limiter = new StoreActionLimiter(new MemoryStore());
    assert.equal((await limiter.reserve('r', 0, 's', NOW)).allowed, false);
  });

  test('a store failure propagates, classified (the executor fails the action instead of acting uncounted)', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: 'list ', status: 503, times: Infinity });
    const limiter = new StoreActionLimiter(store);
    await assert.rejects(limiter.reserve('r', 3, 's', NOW), (err: unknown) => classifyError(err).kind === 'transient');
    assert.equal(store.creates.length, 0);
  });

  test('a failed claim write still allows the action (over-counting later is the safe direction)', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: /^create .*\/subjects\//, status: 503 });
    const limiter = new StoreActionLimiter(store);
    const v = await limiter.reserve('r', 3, 's', NOW);
    assert.equal(v.allowed, true);
    const again = await limiter.reserve('r', 3, 's', NOW);
    assert.equal(again.reused, undefined);
    assert.equal(again.slot, 1);
  });

  test('a foreign object under slots/ that is not a slot is not counted', async () => {
    const store = new MemoryStore();
    store.put('_ratelimit/r/2026-11-27T09/slots/notes.txt', 'x');
    const limiter = new StoreActionLimiter(store);
    assert.equal((await limiter.peek('r', 1, 's', NOW)).allowed, true);
  });

  test('prefix is honoured', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store, { prefix: 'evidence' });
    await limiter.reserve('r', 1, 's', NOW);
    assert.ok((await store.list('evidence/_ratelimit/r/')).length > 0);
  });
});

/** A store whose listing is stale: the slot another instance created after our list is not in it. */
class StaleListStore extends MemoryStore {
  override async list(prefix: string, signal?: AbortSignal): Promise<string[]> {
    await super.list(prefix, signal);
    return [];
  }
}

describe('StoreActionLimiter: a slot is won only by creating it', () => {
  test('a slot creation that finds the slot taken is not a won slot: the next number is tried', async () => {
    const store = new StaleListStore();
    store.put('_ratelimit/r/2026-11-27T09/slots/0.json', '{"by":"other instance"}');
    const limiter = new StoreActionLimiter(store);
    const v = await limiter.reserve('r', 2, 's', NOW);
    assert.equal(v.allowed, true);
    assert.equal(v.slot, 1, 'slot 0 belonged to the other instance');
    assert.equal(v.used, 2);
    assert.deepEqual(store.creates.filter((c) => c.key.includes('/slots/')), [
      { key: '_ratelimit/r/2026-11-27T09/slots/0.json', created: false },
      { key: '_ratelimit/r/2026-11-27T09/slots/1.json', created: true },
    ]);
    assert.equal(store.text('_ratelimit/r/2026-11-27T09/slots/0.json'), '{"by":"other instance"}', 'the other slot is untouched');
  });

  test('when every slot up to the limit is taken by others, the action is refused (not counted as allowed)', async () => {
    const store = new StaleListStore();
    store.put('_ratelimit/r/2026-11-27T09/slots/0.json', 'x');
    const v = await new StoreActionLimiter(store).reserve('r', 1, 's', NOW);
    assert.equal(v.allowed, false);
    assert.equal(v.slot, undefined);
    assert.equal(store.objects.has('_ratelimit/r/2026-11-27T09/subjects/'), false);
    assert.ok(![...store.objects.keys()].some((k) => k.includes('/subjects/')), 'no subject claim for a slot not won');
  });

  test('a slot creation that fails (503) is not a won slot: reserve rejects, classified, and nothing is allowed', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: /^create .*\/slots\//, status: 503, times: Infinity });
    await assert.rejects(new StoreActionLimiter(store).reserve('r', 3, 's', NOW), (err: unknown) => classifyError(err).kind === 'transient');
    assert.equal([...store.objects.keys()].length, 0);
  });

  test('records carry their kind and the slot in scc- metadata; the claimed slot is read back, old `slot` too', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    await limiter.reserve('r', 3, 's', NOW);
    await limiter.settle(); // the subject claim is written after the action (the executor waits for it)
    const slot = store.objects.get('_ratelimit/r/2026-11-27T09/slots/0.json');
    assert.equal(slot?.metadata['scc-record'], 'ratelimit-slot');
    assert.equal(slot?.metadata['scc-slot'], '0');
    const claimKey = limiter.claimKey('r', '2026-11-27T09', 's');
    assert.equal(store.objects.get(claimKey)?.metadata['scc-record'], 'ratelimit-subject');
    // A subject claim written before the ledger named the slot `slot`.
    const legacy = new MemoryStore();
    legacy.put('_ratelimit/r/2026-11-27T09/slots/0.json', 'x');
    legacy.put('_ratelimit/r/2026-11-27T09/slots/1.json', 'x');
    legacy.put(claimKey, '{}', { kind: 'ratelimit-slot', slot: '1' });
    const again = await new StoreActionLimiter(legacy).reserve('r', 3, 's', NOW);
    assert.deepEqual({ reused: again.reused, slot: again.slot, used: again.used, allowed: again.allowed }, { reused: true, slot: 1, used: 2, allowed: true });
    assert.match(again.reason, /already counted for this target in 2026-11-27T09Z \(2 of 3 used by rule r\): not counted again/);
  });

  test('a subject claim without a readable slot is still reused, without a slot number', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    store.put(limiter.claimKey('r', '2026-11-27T09', 's'), '{}', {});
    const v = await limiter.reserve('r', 3, 's', NOW);
    assert.equal(v.reused, true);
    assert.equal('slot' in v, false);
    const p = await limiter.peek('r', 3, 's', NOW);
    assert.equal(p.reused, true);
    assert.equal('slot' in p, false);
  });

  test('peek: a target already counted is allowed and reported as reused with its slot, and pending counts', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    await limiter.reserve('r', 2, 'a', NOW);
    const same = await limiter.peek('r', 2, 'a', NOW);
    assert.deepEqual({ allowed: same.allowed, reused: same.reused, slot: same.slot, used: same.used }, { allowed: true, reused: true, slot: 0, used: 1 });
    const next = await limiter.peek('r', 2, 'b', NOW);
    assert.deepEqual({ allowed: next.allowed, used: next.used }, { allowed: true, used: 2 });
    assert.equal(next.reason, 'action 2 of 2 allowed this hour (2026-11-27T09Z) for rule r');
    const pending = await limiter.peek('r', 2, 'b', NOW, undefined, 1);
    assert.deepEqual({ allowed: pending.allowed, used: pending.used }, { allowed: false, used: 2 });
  });

  test('reserve reports used = slot + 1 and the reason with it', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    await limiter.reserve('r', 3, 'a', NOW);
    const v = await limiter.reserve('r', 3, 'b', NOW);
    assert.deepEqual({ slot: v.slot, used: v.used }, { slot: 1, used: 2 });
    assert.equal(v.reason, 'action 2 of 3 allowed this hour (2026-11-27T09Z) for rule r');
  });

  test('a prefix with or without its slash gives the same keys; the store limiter says it is shared', async () => {
    const a = new StoreActionLimiter(new MemoryStore(), { prefix: 'evidence' });
    const b = new StoreActionLimiter(new MemoryStore(), { prefix: 'evidence/' });
    assert.equal(a.slotKey('r', 'w', 0), 'evidence/_ratelimit/r/w/slots/0.json');
    assert.equal(b.slotKey('r', 'w', 0), 'evidence/_ratelimit/r/w/slots/0.json');
    assert.equal(new StoreActionLimiter(new MemoryStore()).slotKey('r', 'w', 0), '_ratelimit/r/w/slots/0.json');
    assert.equal(a.shared, true);
    assert.ok(createActionLimiter(new MemoryStore()) instanceof StoreActionLimiter);
  });

  test("the caller's signal reaches the slot and subject creates", async () => {
    const seen: { key: string; signal: AbortSignal | undefined }[] = [];
    class Recording extends MemoryStore {
      override create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal): Promise<{ created: boolean; object: StoredObject }> {
        seen.push({ key, signal });
        return super.create(key, body, metadata, signal);
      }
    }
    const ac = new AbortController();
    const limiter = new StoreActionLimiter(new Recording());
    await limiter.reserve('r', 1, 's', NOW, ac.signal);
    await limiter.settle();
    assert.equal(seen.length, 2);
    for (const c of seen) assert.equal(c.signal, ac.signal, c.key);
  });

  test('no store: peek refuses too', async () => {
    const v = await new NoSharedStoreLimiter().peek('r', 10, 's', NOW);
    assert.equal(v.allowed, false);
    assert.equal(v.window, '2026-11-27T09');
  });
});

describe('limiter helpers', () => {
  test('hourWindow is the UTC hour', () => assert.equal(hourWindow(new Date('2026-11-27T23:59:59.999Z')), '2026-11-27T23'));
  test('rule names become one safe, distinct segment', () => {
    assert.equal(ruleSegment('delete-critical'), 'delete-critical');
    for (const raw of ['a/b', '../x', 'rules[0]', '.hidden', '', 'ü'.repeat(100)]) {
      assert.match(ruleSegment(raw), /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, raw);
      assert.ok(ruleSegment(raw).length <= 100);
    }
    assert.notEqual(ruleSegment('a/b'), ruleSegment('a_b'));
  });
  test('no store: every slot refused with the reason', async () => {
    const l = createActionLimiter(undefined);
    assert.ok(l instanceof NoSharedStoreLimiter);
    assert.equal(l.shared, false);
    const v = await l.reserve('r', 10, 's', NOW);
    assert.equal(v.allowed, false);
    assert.match(v.reason, /no shared store to count actions/);
  });
});

describe('scoped budgets (per namespace of a cluster, per workload of a cluster)', () => {
  const PROD = { project: 'acme-prod', location: 'us-central1', name: 'payments' };
  const EU = { project: 'acme-prod', location: 'europe-west1', name: 'payments' };
  const OTHER_PROJECT = { project: 'acme-shop', location: 'us-central1', name: 'payments' };

  test('each scope counts in its own slots under the rule, under its cluster; the bare rule keeps its key', () => {
    const limiter = new StoreActionLimiter(new MemoryStore());
    assert.equal(limiter.slotKey('r', '2026-11-27T09', 0), '_ratelimit/r/2026-11-27T09/slots/0.json');
    assert.equal(limiter.slotKey({ rule: 'r' }, '2026-11-27T09', 0), '_ratelimit/r/2026-11-27T09/slots/0.json');
    assert.equal(limiter.slotKey({ rule: 'r', cluster: PROD, namespace: 'shop' }, '2026-11-27T09', 0), '_ratelimit/r/cluster/acme-prod/us-central1/payments/namespace/shop/2026-11-27T09/slots/0.json');
    assert.match(limiter.slotKey({ rule: 'r', cluster: PROD, workload: 'shop/Deployment/web' }, '2026-11-27T09', 0), /^_ratelimit\/r\/cluster\/acme-prod\/us-central1\/payments\/workload\/shop_Deployment_web-h[0-9a-f]{16}\/2026-11-27T09\/slots\/0\.json$/);
    // Whatever the cluster fields hold, the key stays a safe store name (every segment through keySegment()).
    const odd = limiter.slotKey({ rule: 'r', cluster: { project: '..', location: 'a/b', name: '' }, namespace: '../x' }, '2026-11-27T09', 0);
    assert.doesNotThrow(() => assertSafeKey(odd), odd);
    assert.equal(odd.split('/').length, 11, odd);
  });

  test('a full namespace budget does not touch another namespace or the rule', async () => {
    const limiter = new StoreActionLimiter(new MemoryStore());
    const a = { rule: 'r', cluster: PROD, namespace: 'a' };
    assert.equal((await limiter.reserve(a, 1, 'f1', NOW)).allowed, true);
    const denied = await limiter.reserve(a, 1, 'f2', NOW);
    assert.equal(denied.allowed, false);
    assert.match(denied.reason, /maxActionsPerHour \(1\) reached for rule r in namespace a of cluster acme-prod\/us-central1\/payments/);
    assert.equal((await limiter.reserve({ rule: 'r', cluster: PROD, namespace: 'b' }, 1, 'f3', NOW)).allowed, true);
    assert.equal((await limiter.peek('r', 1, 'f4', NOW)).allowed, true, 'the rule-wide budget is untouched');
  });

  test('the same namespace or workload in another cluster (location, project) has its own budget; in the same cluster it shares one', async () => {
    const limiter = new StoreActionLimiter(new MemoryStore());
    for (const scope of [(cluster: typeof PROD) => ({ rule: 'r', cluster, namespace: 'payments' }), (cluster: typeof PROD) => ({ rule: 'r', cluster, workload: 'payments/Deployment/web' })]) {
      assert.equal((await limiter.reserve(scope(PROD), 1, 'f1', NOW)).allowed, true);
      assert.equal((await limiter.reserve(scope(EU), 1, 'f2', NOW)).allowed, true, 'another location: another cluster');
      assert.equal((await limiter.reserve(scope(OTHER_PROJECT), 1, 'f3', NOW)).allowed, true, 'another project: another cluster');
      // Negative control: the same cluster spelled again is the same budget, already full.
      const same = await limiter.reserve(scope({ ...PROD }), 1, 'f4', NOW);
      assert.equal(same.allowed, false, 'the same cluster shares one budget');
    }
  });

  test('slots stored under the older cluster-less keys are not counted (and break nothing)', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    const meta = { 'scc-record': 'ratelimit-slot' };
    for (const old of ['_ratelimit/r/namespace/payments/2026-11-27T09/slots/0.json', '_ratelimit/r/workload/payments_Deployment_web-0123abcd/2026-11-27T09/slots/0.json']) {
      await store.create(old, Readable.from([Buffer.from('{}')]), meta);
    }
    assert.equal((await limiter.reserve({ rule: 'r', cluster: PROD, namespace: 'payments' }, 1, 'f1', NOW)).slot, 0);
    assert.equal((await limiter.reserve({ rule: 'r', cluster: PROD, workload: 'payments/Deployment/web' }, 1, 'f1', NOW)).slot, 0);
    assert.equal((await limiter.peek('r', 1, 'f1', NOW)).allowed, true, 'nor by the rule-wide budget (limit 1, nothing counted)');
  });
});

/** A store that overwrites on create (no create-only precondition): the negative control of the slot race. */
class OverwritingStore extends MemoryStore {
  override async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal): Promise<{ created: boolean; object: StoredObject }> {
    this.objects.delete(key);
    return super.create(key, body, metadata, signal);
  }
}

describe('StoreActionLimiter: reads ahead, claim after (off the path to the action)', () => {
  const callsAfter = (store: MemoryStore, from: number): string[] => store.faults.calls.slice(from).map((c) => c.key.split(' ')[0] ?? '');

  test('after a prefetch, reserve makes one store call before it answers: the slot create', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    limiter.prefetch('r', 's', NOW);
    await new Promise((r) => setTimeout(r, 20)); // the reads finish while the evidence is collected
    const from = store.faults.calls.length;
    const v = await limiter.reserve('r', 3, 's', NOW);
    assert.equal(v.allowed, true);
    assert.deepEqual(callsAfter(store, from).slice(0, 1), ['create']);
    assert.ok(store.objects.has('_ratelimit/r/2026-11-27T09/slots/0.json'));
    await limiter.settle();
    assert.deepEqual(callsAfter(store, from), ['create', 'create'], 'slot, then the subject claim');
    // Negative control: without the prefetch, the same reserve reads the claim and the slots first.
    const coldStore = new MemoryStore();
    await new StoreActionLimiter(coldStore).reserve('r', 3, 's', NOW);
    assert.deepEqual(callsAfter(coldStore, 0).slice(0, 2), ['stat', 'list']);
  });

  test('a prefetch takes nothing: an action the guards refuse spends no slot', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    limiter.prefetch('r', 's', NOW);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(store.creates.length, 0);
    assert.equal((await limiter.peek('r', 1, 'other', NOW)).allowed, true, 'the budget is whole');
    // Negative control: a reservation does spend it.
    await limiter.reserve('r', 1, 's', NOW);
    assert.equal((await limiter.peek('r', 1, 'other', NOW)).allowed, false);
  });

  test('a slot taken by another instance after our prefetch: the create-only slot still decides, never over the limit', async () => {
    const store = new MemoryStore();
    const a = new StoreActionLimiter(store);
    const b = new StoreActionLimiter(store);
    a.prefetch('r', 'finding-a', NOW);
    await new Promise((r) => setTimeout(r, 20)); // a saw no slots
    assert.equal((await b.reserve('r', 1, 'finding-b', NOW)).allowed, true);
    const v = await a.reserve('r', 1, 'finding-a', NOW);
    assert.equal(v.allowed, false, 'the stale list did not let a second action through');
    assert.equal((await store.list('_ratelimit/r/2026-11-27T09/slots/')).length, 1);
    // Negative control: a store without create-only writes lets the stale list win twice.
    const loose = new OverwritingStore();
    const c = new StoreActionLimiter(loose);
    const d = new StoreActionLimiter(loose);
    c.prefetch('r', 'finding-c', NOW);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await d.reserve('r', 1, 'finding-d', NOW)).allowed, true);
    assert.equal((await c.reserve('r', 1, 'finding-c', NOW)).allowed, true, 'without create-only the check is broken: this test would catch it');
  });

  test('a prefetch is used once and a failed one is read again; a new hour ignores it', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: 'list ', status: 503 });
    const limiter = new StoreActionLimiter(store);
    limiter.prefetch('r', 's', NOW);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await limiter.reserve('r', 2, 's', NOW)).slot, 0, 'the failed prefetch was replaced by fresh reads');
    limiter.prefetch('r', 't', NOW);
    await new Promise((r) => setTimeout(r, 20));
    const next = await limiter.reserve('r', 2, 't', new Date('2026-11-27T10:00:01.000Z'));
    assert.equal(next.window, '2026-11-27T10');
    assert.equal(next.slot, 0, 'the new window counted from its own (fresh) reads');
  });

  test('the same instance reserving the same subject again waits for its own claim: reused, not a second slot', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: /^create .*\/subjects\//, delayMs: 30 });
    const limiter = new StoreActionLimiter(store);
    const first = await limiter.reserve('r', 5, 's', NOW);
    const again = await limiter.reserve('r', 5, 's', NOW);
    assert.equal(first.slot, 0);
    assert.equal(again.reused, true);
    assert.equal((await store.list('_ratelimit/r/2026-11-27T09/slots/')).length, 1);
  });
});
