import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createActionLimiter, hourWindow, NoSharedStoreLimiter, StoreActionLimiter } from '../../shared/contain/limiter.js';
import { ruleSegment } from '../../shared/ledger/layout.js';
import { classifyError } from '../../shared/common/errors.js';
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
