// The pure pieces of backtest/backfill: the SCC filter's variants, --since parsing, the
// summary's limit replay (rule and namespace budgets, hour windows), handled findings kept
// out of every count, the CSV cell quoting, and the backfill skip reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicy } from '../../shared/policy/load.js';
import { sccFindingFilter } from '../../shared/policy/scc-filter.js';
import { decide } from '../../shared/policy/decide.js';
import { toIncident } from '../../shared/finding/incident.js';
import { BacktestAccumulator, backtestRow } from '../../shared/contain/backtest.js';
import { parseSince } from '../../functions/cli/scc-read.js';
import { renderRow } from '../../functions/cli/backtest-render.js';
import { backtestFilter } from '../../functions/cli/backtest.js';
import { backfillFilter } from '../../functions/cli/backfill.js';
import { fixture } from './finding-helpers.js';
import type { Incident } from '../../shared/finding/types.js';

const MMB = 'Execution: Modified Malicious Binary Executed';

function policyOf(text: string) {
  const r = loadPolicy(text, 't.yaml');
  assert.ok(r.ok, JSON.stringify(r));
  return r.policy;
}

const POLICY = policyOf(`version: 1
rules:
  - name: del
    match: { categories: ["${MMB}"] }
    mode: enforce
    requireEvidence: false
    actions: [{ type: labelPod }, { type: deletePod }]
    maxActionsPerHour: 2
    maxActionsPerHourPerNamespace: 1
`);

function incident(change: (i: Incident) => void = () => undefined): Incident {
  const built = toIncident(fixture('modified-malicious-binary.v1.json'));
  assert.ok(built.ok);
  const i = structuredClone(built.incident);
  change(i);
  return i;
}

test('the filter: ACTIVE + no handled marks by default (the notification config); every state and no marks for the backtest; since; an extra clause', () => {
  const since = new Date('2026-11-01T00:00:00Z');
  assert.equal(
    sccFindingFilter(POLICY),
    `(category = "${MMB}") AND state = "ACTIVE" AND resource_name : "//container.googleapis.com/" AND -security_marks.marks.scc_responder_state = "triaged" AND -security_marks.marks.scc_responder_state = "contained" AND -security_marks.marks.scc_responder_state = "failed" AND -security_marks.marks.scc_responder_state = "reverted" AND -security_marks.marks.scc_responder_state = "denied" AND -security_marks.marks.scc_responder_state = "expired"`,
  );
  assert.equal(backtestFilter({ policy: POLICY, since, filter: 'severity = "HIGH"' }), `(category = "${MMB}") AND resource_name : "//container.googleapis.com/" AND event_time >= "2026-11-01T00:00:00.000Z" AND (severity = "HIGH")`);
  assert.equal(backfillFilter({ policy: POLICY, since }), `${sccFindingFilter(POLICY)} AND event_time >= "2026-11-01T00:00:00.000Z"`);
});

test('--since: days, hours, minutes, RFC 3339; anything else is refused', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  assert.equal(parseSince('30d', now)?.toISOString(), '2026-11-01T12:00:00.000Z');
  assert.equal(parseSince('12h', now)?.toISOString(), '2026-12-01T00:00:00.000Z');
  assert.equal(parseSince('90m', now)?.toISOString(), '2026-12-01T10:30:00.000Z');
  assert.equal(parseSince('2026-11-20T05:00:00Z', now)?.toISOString(), '2026-11-20T05:00:00.000Z');
  for (const bad of ['yesterday', '30', '-3d', '2026-11-20', '3w']) assert.equal(parseSince(bad, now), undefined, bad);
});

test('limit replay: per namespace then per rule (narrowest first), per UTC hour, one slot per destructive action; handled findings count nowhere', () => {
  const acc = new BacktestAccumulator();
  const at = (t: string, ns: string, pod: string) => incident((i) => {
    i.eventTime = t;
    i.namespace = ns;
    i.pod = pod;
  });
  const findings = [
    at('2026-11-20T04:00:00Z', 'a', 'p1'), at('2026-11-20T04:10:00Z', 'a', 'p2'), at('2026-11-20T04:20:00Z', 'b', 'p3'),
    at('2026-11-20T04:59:59Z', 'c', 'p4'), // 4 in hour 04: namespace a (limit 1) degrades 1, 3 reach the rule (limit 2): 1 degraded
    at('2026-11-20T05:00:00Z', 'a', 'p5'), // a new hour
  ];
  for (const i of findings) acc.add(backtestRow(i, decide(i, POLICY), false));
  const handled = at('2026-11-20T04:30:00Z', 'a', 'p6');
  acc.add(backtestRow(handled, decide(handled, POLICY), true));
  const s = acc.summary();
  assert.equal(s.findings, 6);
  assert.equal(s.handled, 1);
  assert.deepEqual(s.byRule, { del: 5 });
  assert.deepEqual(s.actions, { labelPod: { enforce: 5, approve: 0, dryRun: 0 }, deletePod: { enforce: 5, approve: 0, dryRun: 0 } });
  const rule = s.limits.find((l) => l.scope === 'rule');
  // Narrowest first, as the executor: what a namespace budget degraded never reaches the rule's.
  assert.deepEqual(rule, { rule: 'del', scope: 'rule', limit: 2, windows: 2, demanded: 4, degraded: 1 });
  assert.deepEqual(s.limits.find((l) => l.scope === 'namespace a in acme-payments-prod/us-central1/payments'), { rule: 'del', scope: 'namespace a in acme-payments-prod/us-central1/payments', limit: 1, windows: 2, demanded: 3, degraded: 1 });
  assert.equal(s.limits.find((l) => l.scope === 'namespace b in acme-payments-prod/us-central1/payments')?.degraded, 0);
});

test('limit replay per cluster: namespace a of two clusters (or projects) is two budgets; the rule budget counts them all (negative control: the same cluster shares one)', () => {
  const acc = new BacktestAccumulator();
  const at = (t: string, project: string, location: string, pod: string) => incident((i) => {
    i.eventTime = t;
    i.namespace = 'a';
    i.pod = pod;
    i.projectId = project;
    i.cluster = { ...(i.cluster ?? assert.fail('fixture has a cluster')), project, location };
  });
  const findings = [
    at('2026-11-20T04:00:00Z', 'prod', 'us-central1', 'p1'),
    at('2026-11-20T04:01:00Z', 'prod', 'europe-west1', 'p2'), // another location: another cluster
    at('2026-11-20T04:02:00Z', 'dr', 'us-central1', 'p3'), // another project: another cluster
    at('2026-11-20T04:03:00Z', 'prod', 'us-central1', 'p4'), // the first cluster again: its namespace budget is spent
  ];
  for (const i of findings) acc.add(backtestRow(i, decide(i, POLICY), false));
  const s = acc.summary();
  const ns = (c: string) => s.limits.find((l) => l.scope === `namespace a in ${c}/payments`);
  assert.deepEqual(ns('prod/us-central1'), { rule: 'del', scope: 'namespace a in prod/us-central1/payments', limit: 1, windows: 1, demanded: 2, degraded: 1 });
  assert.deepEqual(ns('prod/europe-west1'), { rule: 'del', scope: 'namespace a in prod/europe-west1/payments', limit: 1, windows: 1, demanded: 1, degraded: 0 });
  assert.deepEqual(ns('dr/us-central1'), { rule: 'del', scope: 'namespace a in dr/us-central1/payments', limit: 1, windows: 1, demanded: 1, degraded: 0 });
  // 3 reach the rule (limit 2, organization-wide): 1 degraded there.
  assert.deepEqual(s.limits.find((l) => l.scope === 'rule'), { rule: 'del', scope: 'rule', limit: 2, windows: 1, demanded: 3, degraded: 1 });
  assert.deepEqual(backtestRow(findings[1] as Incident, decide(findings[1] as Incident, POLICY), false).cluster, { project: 'prod', location: 'europe-west1', name: 'payments' });
});

test('a protected namespace: actions withheld count as refusals and take no slot', () => {
  const acc = new BacktestAccumulator();
  const i = incident((x) => void (x.namespace = 'kube-system'));
  acc.add(backtestRow(i, decide(i, POLICY), false));
  const s = acc.summary();
  assert.deepEqual(s.refusals, { 'protected-namespace': 2 });
  assert.deepEqual(s.limits, []);
});

test('csv rows quote commas and quotes; markdown escapes pipes', () => {
  const i = incident((x) => void (x.pod = 'p"1,2|3'));
  const row = backtestRow(i, decide(i, POLICY), false);
  assert.match(renderRow(row, 'csv'), /,"p""1,2\|3",/);
  assert.match(renderRow(row, 'markdown'), /p"1,2\\\|3/);
});

test('the filter drops exactly the mark states the responder recognises as handled', async () => {
  const { DEFAULT_HANDLED_MARK_VALUES } = await import('../../shared/policy/scc-filter.js');
  const { FINAL_MARK_STATES } = await import('../../shared/record/marks.js');
  // awaiting-approval passes the filter: a person's approval mark must reach the function.
  assert.deepEqual([...DEFAULT_HANDLED_MARK_VALUES].sort(), [...FINAL_MARK_STATES].sort());
});

const WORKLOAD_POLICY = policyOf(`version: 1
rules:
  - name: del
    match: { categories: ["${MMB}"] }
    mode: enforce
    requireEvidence: false
    actions: [{ type: deletePod }]
    maxActionsPerHour: 3
    maxActionsPerHourPerWorkload: 1
`);

test('workload from the finding: Deployment (pod-template-hash), StatefulSet, Job, else the pod name', async () => {
  const { workloadFromFinding } = await import('../../shared/contain/workload-hint.js');
  assert.deepEqual(workloadFromFinding({ namespace: 'n', pod: 'web-7d9f-abcde', podLabels: { 'pod-template-hash': '7d9f' } }), { key: 'n/Deployment/web', source: 'finding labels' });
  assert.deepEqual(workloadFromFinding({ namespace: 'n', pod: 'db-2', podLabels: { 'statefulset.kubernetes.io/pod-name': 'db-2' } }), { key: 'n/StatefulSet/db', source: 'finding labels' });
  assert.deepEqual(workloadFromFinding({ namespace: 'n', pod: 'nightly-x1', podLabels: { 'batch.kubernetes.io/job-name': 'nightly' } }), { key: 'n/Job/nightly', source: 'finding labels' });
  // A hash that is not in the name says nothing: the pod is its own workload.
  assert.deepEqual(workloadFromFinding({ namespace: 'n', pod: 'web-abc', podLabels: { 'pod-template-hash': '7d9f' } }), { key: 'n/Pod/web-abc', source: 'pod name' });
  assert.equal(workloadFromFinding({ podLabels: {} }), undefined);
});

test('workload budget replay: one workload degraded before the rule budget; pod-name fallback said in the summary', async () => {
  const { renderSummary } = await import('../../functions/cli/backtest-render.js');
  const acc = new BacktestAccumulator();
  const at = (t: string, pod: string, hash?: string) => incident((i) => {
    i.eventTime = t;
    i.namespace = 'shop';
    i.pod = pod;
    i.podLabels = hash === undefined ? {} : { 'pod-template-hash': hash };
  });
  for (const i of [at('2026-11-20T04:00:00Z', 'web-h1-aaaaa', 'h1'), at('2026-11-20T04:01:00Z', 'web-h1-bbbbb', 'h1'), at('2026-11-20T04:02:00Z', 'web-h1-ccccc', 'h1'), at('2026-11-20T04:03:00Z', 'bare-1'), at('2026-11-20T04:04:00Z', 'bare-2')]) {
    acc.add(backtestRow(i, decide(i, WORKLOAD_POLICY), false));
  }
  const s = acc.summary();
  assert.deepEqual(s.limits.find((l) => l.scope === 'workload shop/Deployment/web in acme-payments-prod/us-central1/payments'), { rule: 'del', scope: 'workload shop/Deployment/web in acme-payments-prod/us-central1/payments', limit: 1, windows: 1, demanded: 3, degraded: 2 });
  // 1 (web) + 2 bare pods reach the rule budget of 3: nothing more degraded.
  assert.deepEqual(s.limits.find((l) => l.scope === 'rule'), { rule: 'del', scope: 'rule', limit: 3, windows: 1, demanded: 3, degraded: 0 });
  assert.deepEqual(s.workloadSources, { 'finding labels': 3, 'pod name': 2 });
  assert.match(renderSummary(s, { title: 't', rejected: 0 }, 'text'), /Workloads for maxActionsPerHourPerWorkload: 3 from the finding's labels, 2 from the pod's own name \(no owner chain read, no owner label in the finding: each such pod counted as its own workload\)\n/);
});

test('live verdicts: a gone pod is a skip (not a refusal) and takes no slot; a live refusal is named (live); not judged is counted by reason', async () => {
  const acc = new BacktestAccumulator();
  const gone = incident((i) => void (i.pod = 'gone-1'));
  acc.add(backtestRow(gone, decide(gone, WORKLOAD_POLICY), false, { live: { judged: true, facts: { podNotFound: true, owners: [] } } }));
  const bare = incident((i) => void (i.pod = 'bare-1'));
  const pod = { namespace: bare.namespace ?? '', name: 'bare-1', uid: 'u1', labels: {}, annotations: {}, ownerReferences: [], containers: [{ name: bare.container ?? 'c', state: 'running' as const }], creationTimestamp: '2020-01-01T00:00:00Z' };
  acc.add(backtestRow(bare, decide(bare, WORKLOAD_POLICY), false, { live: { judged: true, facts: { pod, owners: [] } } }));
  const far = incident((i) => void (i.pod = 'far-1'));
  acc.add(backtestRow(far, decide(far, WORKLOAD_POLICY), false, { live: { judged: false, reason: 'no kube context for cluster p/l/c' } }));
  const s = acc.summary();
  assert.deepEqual(s.skipped, { 'pod-identity (live)': 1 });
  assert.deepEqual(s.refusals, { 'require-controller (live)': 1 });
  assert.deepEqual(s.notJudged, { 'no kube context for cluster p/l/c': 1 });
  // Only the not-judged finding (live guards unknown, as without --live) reaches the replay.
  assert.equal(s.limits.find((l) => l.scope === 'rule')?.demanded, 1);
});
