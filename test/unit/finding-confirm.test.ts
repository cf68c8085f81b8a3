// The comparison with SCC's copy and the confirm stage, without a network: what is refused,
// what the function does versus the CLI, the eventTime window, and acting on SCC's copy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { compareWithScc, eventTimeProblem, sourceProblem } from '../../shared/finding/confirm.js';
import { toIncident } from '../../shared/finding/incident.js';
import type { Incident } from '../../shared/finding/types.js';
import { defaultPolicy } from '../../shared/policy/default-policy.js';
import { decide } from '../../shared/policy/decide.js';
import { confirmFinding, type ConfirmDeps } from '../../shared/respond/confirm.js';
import type { FindingReader } from '../../shared/ports.js';
import { memoryFindings } from '../support/memory-findings.js';
import { ResponderError } from '../../shared/common/errors.js';

const NOW = new Date('2026-11-27T10:00:00Z');
const HOUR = 3_600_000;
type N = { finding: Record<string, unknown> & { name: string; processes: { binary: { path: string } }[] } };
const fixture = (): N => JSON.parse(readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as N;
const incidentOf = (n: unknown): Incident => {
  const r = toIncident(n);
  assert.ok(r.ok);
  return r.incident;
};
const deps = (surface: 'function' | 'cli', reader?: FindingReader): ConfirmDeps => ({
  surface,
  ...(reader ? { reader } : {}),
  decide: (i) => decide(i, defaultPolicy()),
  maxEventAgeMs: 192 * HOUR,
  acceptedSources: [],
  now: () => NOW,
});

describe('compareWithScc', () => {
  const source = { name: 'organizations/123456789012/sources/7153827493721873246', displayName: 'Container Threat Detection' };
  test('the same finding is confirmed and SCC\'s incident is returned', () => {
    const r = compareWithScc({ message: incidentOf(fixture()), copy: fixture(), source, acceptedSources: [] });
    assert.equal(r.confirmed, true);
  });
  test('every difference is a reason', () => {
    const scc = fixture();
    scc.finding['state'] = 'INACTIVE';
    scc.finding['mute'] = 'MUTED';
    scc.finding.processes[0]!.binary.path = '/bin/other';
    const r = compareWithScc({ message: incidentOf(fixture()), copy: scc, source, acceptedSources: [] });
    assert.equal(r.confirmed, false);
    if (!r.confirmed) {
      assert.ok(r.reasons.some((x) => /INACTIVE/.test(x)));
      assert.ok(r.reasons.some((x) => /muted/.test(x)));
      assert.ok(r.reasons.some((x) => /binary path differs/.test(x)));
    }
  });
  test('sources: display name, pinned list, and a name whose source is not SCC\'s parent', () => {
    const name = 'organizations/1/sources/2/findings/f';
    assert.equal(sourceProblem(name, 'organizations/1/sources/2', { name: 'x', displayName: 'Container Threat Detection' }, []), undefined);
    assert.match(sourceProblem(name, 'organizations/1/sources/2', { name: 'x', displayName: 'Copycat' }, []) ?? '', /not Container Threat Detection/);
    assert.match(sourceProblem(name, 'organizations/1/sources/2', { name: 'x', displayName: 'Container Threat Detection' }, ['organizations/1/sources/9']) ?? '', /not an accepted/);
    assert.match(sourceProblem(name, 'organizations/1/sources/3', null, []) ?? '', /not SCC's parent/);
  });
  test('eventTime window', () => {
    assert.equal(eventTimeProblem('2026-11-27T09:00:00Z', NOW, 192 * HOUR), undefined);
    assert.match(eventTimeProblem('2030-01-01T00:00:00Z', NOW, 192 * HOUR) ?? '', /future/);
    assert.match(eventTimeProblem('2026-11-10T00:00:00Z', NOW, 192 * HOUR) ?? '', /older than/);
  });
});

describe('confirmFinding', () => {
  test('function: no reader, unknown finding, stale eventTime are refused; SCC down is unavailable', async () => {
    const message = incidentOf(fixture());
    assert.equal((await confirmFinding(message, deps('function'))).status, 'refused');
    assert.equal((await confirmFinding(message, deps('function', memoryFindings()))).status, 'refused');
    const stale = fixture();
    stale.finding['eventTime'] = '2026-11-01T00:00:00Z';
    assert.equal((await confirmFinding(incidentOf(stale), deps('function', memoryFindings(stale)))).status, 'refused');
    const down: FindingReader = { getFinding: () => Promise.reject(new ResponderError('SCC ListFindings failed: 14 UNAVAILABLE', 'transient')), getSource: () => Promise.resolve(null) };
    assert.equal((await confirmFinding(message, deps('function', down))).status, 'unavailable');
  });
  test('CLI: no reader or SCC down proceeds unconfirmed; stale only warns; unknown is still refused', async () => {
    const message = incidentOf(fixture());
    const none = await confirmFinding(message, deps('cli'));
    assert.equal(none.status, 'unconfirmed');
    const stale = fixture();
    stale.finding['eventTime'] = '2026-11-01T00:00:00Z';
    const s = await confirmFinding(incidentOf(stale), deps('cli', memoryFindings(stale)));
    assert.equal(s.status, 'confirmed');
    if (s.status === 'confirmed') assert.match(s.warnings.join(' '), /older than/);
    assert.equal((await confirmFinding(message, deps('cli', memoryFindings()))).status, 'refused');
  });
  test("acts on SCC's copy, re-decided; SCC's copy with our marks is already handled", async () => {
    const message = incidentOf(fixture());
    const r = await confirmFinding(message, deps('function', memoryFindings(fixture())));
    assert.equal(r.status, 'confirmed');
    if (r.status === 'confirmed') {
      assert.notEqual(r.incident, message, "SCC's incident, not the message's");
      assert.equal(r.plan.matched, true);
    }
    const marked = fixture();
    (marked.finding['securityMarks'] as Record<string, unknown>)['marks'] = { scc_responder_state: 'contained' };
    assert.equal((await confirmFinding(message, deps('function', memoryFindings(marked)))).status, 'already-handled');
  });
});
