import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainPlan, previewGuards } from '../../shared/contain/explain.js';
import { incident, plan } from './contain-helpers.js';

describe('previewGuards + explainPlan (policy check)', () => {
  const p = plan(
    [
      { type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: true } },
      { type: 'labelPod', params: {} },
    ],
    { maxActionsPerHour: 5 },
  );

  test('actions in execution order, cluster-dependent guards unknown', () => {
    const preview = previewGuards(incident(), p);
    assert.deepEqual(preview.map((a) => a.action), ['labelPod', 'deletePod']);
    const del = preview[1];
    const byName = Object.fromEntries((del?.guards ?? []).map((g) => [g.name, g]));
    assert.equal(byName['params']?.verdict, 'pass');
    assert.equal(byName['protected-namespace']?.verdict, 'pass');
    assert.equal(byName['evidence']?.verdict, 'unknown');
    assert.equal(byName['evidence']?.needs, 'snapshot');
    for (const g of ['pod-identity', 'pod-not-terminating', 'require-controller']) {
      assert.equal(byName[g]?.verdict, 'unknown', g);
      assert.equal(byName[g]?.needs, 'cluster', g);
    }
    assert.equal(byName['blast-radius']?.needs, 'shared store');
  });

  test('the text names the rule, each action and each guard, with unknown (needs cluster)', () => {
    const e = explainPlan(p, previewGuards(incident(), p));
    assert.equal(e.matched, true);
    assert.equal(e.rule, 'delete-critical');
    assert.match(e.text, /^rule: delete-critical$/m);
    assert.match(e.text, /^action 2: deletePod \{"gracePeriodSeconds":0,"requireController":true\}$/m);
    assert.match(e.text, /require-controller\s+unknown \(needs cluster\)/);
    assert.match(e.text, /protected-namespace\s+pass/);
  });

  test('protected namespace is known without a cluster', () => {
    const preview = previewGuards(incident({ namespace: 'kube-system' }), p);
    assert.ok(preview.every((a) => a.guards.find((g) => g.name === 'protected-namespace')?.verdict === 'fail'));
  });

  test('a rule that requires evidence but takes no snapshot can never delete: said statically', () => {
    const noSnap = plan([{ type: 'deletePod', params: {} }], { snapshot: false });
    const g = previewGuards(incident(), noSnap)[0]?.guards.find((x) => x.name === 'evidence');
    assert.equal(g?.verdict, 'fail');
  });

  test('invalid parameters fail in the preview', () => {
    const bad = plan([{ type: 'deletePod', params: { gracePeriodSeconds: 'soon' } }]);
    assert.equal(previewGuards(incident(), bad)[0]?.guards[0]?.verdict, 'fail');
  });

  test('no match: the reason, no actions', () => {
    const e = explainPlan({ matched: false, reason: 'category not covered' }, []);
    assert.equal(e.matched, false);
    assert.equal(e.text, 'no rule matches: category not covered');
    assert.deepEqual(previewGuards(incident(), { matched: false, reason: 'x' }), []);
  });

  test('a plan without actions says so', () => {
    const e = explainPlan(plan([]), []);
    assert.match(e.text, /actions: none/);
  });

  test('actions withheld by decide() (protected namespace) and plan notes are shown', () => {
    const p2 = plan([], { withheldActions: [{ type: 'deletePod', params: {}, reason: 'namespace kube-system is protected' }], notes: ['snapshot off: path not absolute'] });
    const e = explainPlan(p2, previewGuards(incident({ namespace: 'kube-system' }), p2));
    assert.match(e.text, /^withheld: deletePod \(namespace kube-system is protected\)$/m);
    assert.match(e.text, /^note: snapshot off: path not absolute$/m);
  });
});
