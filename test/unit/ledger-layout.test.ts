// The store's layout against literal expectations: these names are data on disk and in
// buckets, so a change must show up here as a changed string, not pass through a helper.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { snapshotBinary } from '../../shared/evidence/snapshot.js';
import type { Workloads } from '../../shared/ports.js';
import {
  claimedSlotOf,
  copyMetadata,
  findingFolder,
  findingKeys,
  keysIn,
  LEDGER_TABLE,
  ledgerTableMarkdown,
  META,
  rateLimitKeys,
  RECORD_KINDS,
  ruleSegment,
  slotNumber,
  subjectHash,
} from '../../shared/ledger/layout.js';
import { MemoryStore } from '../support/memory-store.js';
import { incident } from './contain-helpers.js';

const FOLDER = 'acme-payments-prod/payments/payments/checkout-7d9f8b6c5d-q2x8z/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b';

describe('the finding folder, derived once', () => {
  test('<cluster project>/<cluster>/<namespace>/<pod>/<finding id>', () => {
    assert.equal(findingFolder(incident()), FOLDER);
  });

  test("the cluster's project wins over the finding's project; missing parts have stand-ins", () => {
    const base = { findingId: 'f1', projectId: 'finding-project', cluster: { project: 'cluster-project', name: 'c' }, namespace: 'ns', pod: 'p' };
    assert.equal(findingFolder(base), 'cluster-project/c/ns/p/f1');
    assert.equal(findingFolder({ findingId: 'f1', projectId: 'finding-project', cluster: null }), 'finding-project/no-cluster/no-namespace/no-pod/f1');
    assert.equal(findingFolder({ ...base, namespace: undefined }), 'cluster-project/c/no-namespace/p/f1');
    assert.equal(findingFolder({ ...base, pod: undefined }), 'cluster-project/c/ns/no-pod/f1');
  });

  test('every segment is sanitised: hostile parts neither add nor remove levels', () => {
    const folder = findingFolder({ findingId: '../../x', projectId: 'p', cluster: { project: '..', name: 'a/b' }, namespace: '', pod: '\u0000' });
    const segments = folder.split('/');
    assert.equal(segments.length, 5);
    for (const s of segments) assert.match(s, /^[A-Za-z0-9._-]+$/);
    assert.ok(!segments.includes('..'));
  });

  test('the snapshot stores the binary in the folder the claim and the report use', async () => {
    // An existing complete copy at the literal key: the snapshot finds it without any exec.
    const store = new MemoryStore();
    store.put(`${FOLDER}/binary`, 'copy', { 'scc-finding': incident().findingName });
    const r = await snapshotBinary({
      incident: incident(),
      workloads: {} as Workloads,
      store,
      policy: { maxBytes: 1024, timeoutMs: 5000, debugContainer: { enabled: false, image: '' } },
      collector: { identity: 'test', version: '0' },
    });
    assert.equal(r.outcome, 'exists');
    assert.deepEqual(r.keys, { binary: `${FOLDER}/binary`, manifest: `${FOLDER}/manifest.json` });
  });
});

describe('keys inside a folder', () => {
  test('every record of a finding, literally', () => {
    const k = keysIn('a/b/c/d/f/');
    assert.equal(k.folder, 'a/b/c/d/f');
    assert.equal(k.binary, 'a/b/c/d/f/binary');
    assert.equal(k.manifest, 'a/b/c/d/f/manifest.json');
    assert.equal(k.reportJson, 'a/b/c/d/f/report.json');
    assert.equal(k.reportMarkdown, 'a/b/c/d/f/report.md');
    assert.equal(k.claim(3), 'a/b/c/d/f/claim-3.json');
    assert.equal(k.release(3), 'a/b/c/d/f/claim-3.released.json');
    assert.equal(k.effectsPrefix, 'a/b/c/d/f/effects-');
    assert.equal(k.effects('0b6f-11aa'), 'a/b/c/d/f/effects-0b6f-11aa.json');
    assert.equal(k.effects('../x y'), 'a/b/c/d/f/effects-___x_y.json', 'a hostile run id stays one name');
    assert.equal(keysIn('a/b//').binary, 'a/b/binary', 'every trailing slash goes');
    assert.equal(findingKeys(incident()).binary, `${FOLDER}/binary`);
  });
});

describe('blast-radius keys', () => {
  test('slots and subjects under _ratelimit/<rule>/<hour>/, with or without a prefix', () => {
    const k = rateLimitKeys('', 'delete-critical', '2026-11-27T09');
    assert.equal(k.slotsPrefix, '_ratelimit/delete-critical/2026-11-27T09/slots/');
    assert.equal(k.slot(4), '_ratelimit/delete-critical/2026-11-27T09/slots/4.json');
    assert.equal(k.subject('s'), `_ratelimit/delete-critical/2026-11-27T09/subjects/${subjectHash('s')}.json`);
    assert.equal(rateLimitKeys('ev', 'r', 'w').slot(0), 'ev/_ratelimit/r/w/slots/0.json');
    assert.equal(rateLimitKeys('ev/', 'r', 'w').slot(0), 'ev/_ratelimit/r/w/slots/0.json');
  });

  test('the subject is stored as 32 hex of its SHA-256, never as finding data', () => {
    assert.equal(subjectHash('s'), '043a718774c572bd8a25adbeb1bfcd5c');
    assert.match(subjectHash('finding\ndeletePod\npod:uid'), /^[0-9a-f]{32}$/);
  });

  test('rule segments: safe names verbatim, anything else flattened with a hash (the stored layout)', () => {
    assert.equal(ruleSegment('delete-critical'), 'delete-critical');
    assert.equal(ruleSegment('a/b'), 'a_b-c14cddc0');
    assert.match(ruleSegment('.hidden'), /^hidden-[0-9a-f]{8}$/);
    assert.equal(ruleSegment('a//b'), 'a_b-7a9acf33', 'a run of unsafe characters is one _');
    assert.equal(ruleSegment('a/.b'), 'a_.b-fbed6e8c', 'only leading dots go');
    assert.equal(ruleSegment('..x'), 'x-8901738c', 'all leading dots go');
    assert.match(ruleSegment(''), /^-[0-9a-f]{8}$/);
    assert.equal(ruleSegment('x'.repeat(80)).length, 60 + 9);
  });

  test('slot numbers only from well-formed slot keys', () => {
    assert.equal(slotNumber('_ratelimit/r/w/slots/12.json'), 12);
    assert.equal(slotNumber('slots/0.json'), 0);
    assert.equal(slotNumber('_ratelimit/r/w/slots/notes.txt'), undefined);
    assert.equal(slotNumber('_ratelimit/r/w/slots/1.json.bak'), undefined);
    assert.equal(slotNumber('_ratelimit/r/w/myslots/1.json'), undefined);
  });

  test('the claimed slot: scc-slot, else the older `slot`, else -1', () => {
    assert.equal(claimedSlotOf({ 'scc-slot': '2' }), 2);
    assert.equal(claimedSlotOf({ slot: '5' }), 5);
    assert.equal(claimedSlotOf({ 'scc-slot': '2', slot: '5' }), 2);
    assert.equal(claimedSlotOf({}), -1);
    assert.equal(claimedSlotOf({ 'scc-slot': '1.5' }), -1);
  });
});

describe('metadata', () => {
  test("a finished copy's facts as manifest metadata", () => {
    assert.deepEqual(copyMetadata({ sha256: 'ab', size: 7, truncated: true, verdict: 'truncated' }), {
      'scc-sha256': 'ab',
      'scc-size': '7',
      'scc-truncated': 'true',
      'scc-verdict': 'truncated',
    });
    assert.deepEqual(copyMetadata({ sha256: 'ab', size: 7, truncated: false, verdict: 'matches', prefix: { bytes: 4, sha256: 'cd' } }), {
      'scc-sha256': 'ab',
      'scc-size': '7',
      'scc-truncated': 'false',
      'scc-verdict': 'matches',
      'scc-prefix-sha256': 'cd',
      'scc-prefix-bytes': '4',
    });
  });

  test('every name is scc- prefixed and distinct', () => {
    const names = Object.values(META);
    for (const n of names) assert.match(n, /^scc-[a-z0-9-]+$/);
    assert.equal(new Set(names).size, names.length);
  });
});

describe('LEDGER_TABLE: the one description of the store', () => {
  test('one row per record kind, metadata from META only, each writer exists', () => {
    assert.deepEqual(LEDGER_TABLE.map((r) => r.record).sort(), [...RECORD_KINDS].sort());
    const known = new Set<string>(Object.values(META));
    for (const row of LEDGER_TABLE) {
      for (const m of row.metadata) assert.ok(known.has(m), `${row.record}: ${m}`);
      assert.doesNotThrow(() => readFileSync(new URL(`../../${row.writtenBy}`, import.meta.url)), row.writtenBy);
      assert.ok(row.meaning.length > 20);
    }
  });

  test('README carries the table exactly as the code renders it', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = ledgerTableMarkdown();
    assert.ok(table.includes('| key | record | written by | metadata | meaning |'));
    assert.ok(table.startsWith('`<folder>` = `<cluster project>/<cluster | no-cluster>/<namespace | no-namespace>/<pod | no-pod>/<finding id>`'), 'the folder is explained above the table');
    assert.equal(table.split('\n').filter((l) => l.startsWith('| `')).length, LEDGER_TABLE.length, 'one line per row');
    assert.ok(readme.includes(table), 'README "The evidence store" is stale: paste ledgerTableMarkdown() output');
  });
});
