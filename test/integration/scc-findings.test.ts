// SCC's copy of a finding through the real @google-cloud/security-center clients (v1 default
// export, .v2) against the gRPC fake built from the package's protos: ListFindings with the
// `name = "..."` filter on the finding's source (v2: source + location), GetSource cached per
// instance, and the copy read by the same decoder as a message (toIncident).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSccFindingsReader, listParentOf, type SccFindingsReader } from '../../shared/gcp/scc-findings.js';
import { toIncident } from '../../shared/finding/incident.js';
import { ResponderError } from '../../shared/common/errors.js';
import { CTD_SOURCE, startFakeScc, type FakeScc } from '../support/fake-scc.js';
import { fixture } from '../support/cloudevents.js';

let fake: FakeScc;
let reader: SccFindingsReader;
before(async () => {
  fake = await startFakeScc();
  reader = createSccFindingsReader({ clientOptions: fake.clientOptions(), timeoutMs: 3000 });
});
after(async () => {
  await reader.close();
  await fake.close();
});

function incidentOf(n: unknown): ReturnType<typeof toIncident> & { ok: true } {
  const r = toIncident(n);
  assert.ok(r.ok, JSON.stringify(r));
  return r;
}

describe('SCC findings reader', () => {
  for (const file of ['modified-malicious-binary.v1.json', 'modified-malicious-binary.v2.json']) {
    test(`${file}: SCC's copy decodes to the same incident as the message`, async () => {
      const n = fixture(file);
      const name = fake.addFinding(n);
      const reads = fake.reads.length;
      const copy = await reader.getFinding(name);
      assert.ok(copy, 'found');
      const list = fake.reads.slice(reads).find((r) => r.method === 'ListFindings');
      assert.equal(list?.version, file.includes('v2') ? 'v2' : 'v1');
      assert.equal(list?.request['parent'], listParentOf(name));
      assert.equal(list?.request['filter'], `name = "${name}"`);
      const fromScc = incidentOf(copy.notification).incident;
      const fromMessage = incidentOf(n).incident;
      for (const k of ['findingName', 'category', 'state', 'eventTime', 'createTime', 'resourceName', 'namespace', 'pod', 'container', 'imageUri', 'node', 'args', 'pid', 'podLabels', 'cluster', 'binary', 'sourceDisplayName'] as const) {
        assert.deepEqual(fromScc[k], fromMessage[k], k);
      }
      assert.equal(copy.notification.finding['parent'], CTD_SOURCE);
    });
  }

  test('v2 names are listed under their location, v1 under the source', () => {
    assert.equal(listParentOf('organizations/1/sources/2/locations/global/findings/f'), 'organizations/1/sources/2/locations/global');
    assert.equal(listParentOf('projects/p-1/sources/2/findings/f'), 'projects/p-1/sources/2');
    assert.throws(() => listParentOf('organizations/1/sources/2/findings/f" OR name:"x'), ResponderError);
  });

  test('an unknown finding is null, not an error', async () => {
    assert.equal(await reader.getFinding('organizations/999/sources/1/findings/forged'), null);
  });

  test('state and mute come back as SCC has them', async () => {
    const n = fixture('modified-malicious-binary.v1.json') as { finding: Record<string, unknown> };
    n.finding['name'] = String(n.finding['name']).replace(/[^/]+$/, 'mutedone');
    const name = fake.addFinding(n, { state: 'INACTIVE', mute: 'MUTED' });
    const copy = await reader.getFinding(name);
    assert.equal(copy?.notification.finding['state'], 'INACTIVE');
    assert.equal(copy?.notification.finding['mute'], 'MUTED');
  });

  test('the source is read once per instance; an unknown source is null', async () => {
    const r = createSccFindingsReader({ clientOptions: fake.clientOptions(), timeoutMs: 3000 });
    try {
      const before = fake.reads.filter((x) => x.method === 'GetSource').length;
      const a = await r.getSource(CTD_SOURCE);
      const b = await r.getSource(CTD_SOURCE);
      assert.deepEqual(a, { name: CTD_SOURCE, displayName: 'Container Threat Detection' });
      assert.deepEqual(b, a);
      assert.equal(fake.reads.filter((x) => x.method === 'GetSource').length, before + 1);
      assert.equal(await r.getSource('organizations/123456789012/sources/42'), null);
    } finally {
      await r.close();
    }
  });

  test('SCC unavailable is a transient error with context', async () => {
    fake.faults.inject({ match: 'ListFindings', status: 503 });
    await assert.rejects(reader.getFinding('organizations/1/sources/2/findings/x'), (err: unknown) => {
      assert.ok(err instanceof ResponderError);
      assert.equal(err.kind, 'transient');
      assert.match(err.message, /ListFindings on organizations\/1\/sources\/2/);
      return true;
    });
    fake.faults.clear();
  });
});
