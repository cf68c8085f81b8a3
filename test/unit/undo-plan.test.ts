// planUndo(): what the records allow undo to touch. Only enforce actions reported done, only
// writes actually sent with a success answer, only keys under scc-responder/, and (when effect
// records exist) only actions they list; a dry-run or refused action yields nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActionOutcome } from '../../shared/contain/types.js';
import type { EffectRecord } from '../../shared/respond/prior-effects.js';
import type { TriageReport } from '../../shared/respond/report.js';
import { planUndo } from '../../shared/respond/undo.js';

function outcome(over: Partial<ActionOutcome>): ActionOutcome {
  return { type: 'labelPod', mode: 'enforce', requestedMode: 'enforce', status: 'done', guards: [], detail: 'x', writes: [], warnings: [], ...over };
}

function report(actions: ActionOutcome[]): TriageReport {
  return { actions, incident: { findingId: 'f1' } } as unknown as TriageReport;
}

const labelWrite = (labels: Record<string, string>, result = 'patched', attempted = true) => ({ call: 'patchPodMetadata' as const, target: 'ns/pod', body: { metadata: { uid: 'u1', labels } }, attempted, result });

test('sent, successful writes of done enforce actions become items; others do not', () => {
  const plan = planUndo(
    report([
      outcome({ writes: [labelWrite({ 'scc-responder/finding': 'f1' })] }),
      outcome({ type: 'annotatePod', mode: 'dry-run', status: 'would-do', writes: [labelWrite({ 'scc-responder/x': 'y' }, undefined, false)] }),
      outcome({ type: 'cordonNode', status: 'refused', writes: [] }),
      outcome({ type: 'quarantinePod', writes: [{ call: 'createNetworkPolicy', target: 'networkpolicy/ns/scc-quarantine-q-1', body: { podSelector: { 'scc-responder/quarantine': 'q-1' } }, attempted: true, result: 'error' }] }),
    ]),
    [],
  );
  assert.deepEqual(plan.items, [{ kind: 'podMetadata', action: 'labelPod', namespace: 'ns', name: 'pod', uid: 'u1', labels: { 'scc-responder/finding': 'f1' }, annotations: {} }]);
});

test('a key outside scc-responder/ is never planned for removal, and is noted', () => {
  const plan = planUndo(report([outcome({ writes: [labelWrite({ 'scc-responder/finding': 'f1', app: 'checkout' })] })]), []);
  assert.deepEqual(plan.items[0]?.kind === 'podMetadata' ? plan.items[0].labels : undefined, { 'scc-responder/finding': 'f1' });
  assert.match(plan.notes.join('\n'), /label app on ns\/pod is not under scc-responder\/: left alone/);
});

test('the NetworkPolicy item expects our ownership labels for this finding', () => {
  const plan = planUndo(
    report([outcome({ type: 'quarantinePod', writes: [{ call: 'createNetworkPolicy', target: 'networkpolicy/ns/scc-quarantine-q-1', body: { podSelector: { 'scc-responder/quarantine': 'q-1' } }, attempted: true, result: 'created' }] })]),
    [],
  );
  assert.deepEqual(plan.items, [
    { kind: 'networkPolicy', action: 'quarantinePod', namespace: 'ns', name: 'scc-quarantine-q-1', ownLabels: { 'app.kubernetes.io/managed-by': 'scc-responder', 'scc-responder/finding': 'f1', 'scc-responder/quarantine': 'q-1' } },
  ]);
});

test('effect records must list the action when there are any; earlier attempts not in the report are noted', () => {
  const effects: EffectRecord[] = [{ runId: 'r0', at: '2026-11-27T09:20:00Z', actions: [{ type: 'cordonNode', detail: 'node n cordoned' }] }];
  const plan = planUndo(report([outcome({ writes: [labelWrite({ 'scc-responder/finding': 'f1' })] })]), effects);
  assert.deepEqual(plan.items, []);
  assert.match(plan.notes.join('\n'), /labelPod: the report says done but no effect record lists it/);
  assert.match(plan.notes.join('\n'), /cordonNode was done by run r0 .* revert it by hand/);
});

test('a deleted pod is an item (reported as irreversible), a not-found delete is not', () => {
  const del = (result: string) => outcome({ type: 'deletePod', writes: [{ call: 'deletePod', target: 'ns/pod', body: { preconditions: { uid: 'u1' } }, attempted: true, result }] });
  assert.deepEqual(planUndo(report([del('deleted')]), []).items, [{ kind: 'deletedPod', action: 'deletePod', namespace: 'ns', name: 'pod', uid: 'u1' }]);
  assert.deepEqual(planUndo(report([del('not-found')]), []).items, []);
});
