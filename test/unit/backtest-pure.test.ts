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

test('limit replay: per rule and per namespace, per UTC hour, one slot per destructive action; handled findings count nowhere', () => {
  const acc = new BacktestAccumulator();
  const at = (t: string, ns: string, pod: string) => incident((i) => {
    i.eventTime = t;
    i.namespace = ns;
    i.pod = pod;
  });
  const findings = [
    at('2026-11-20T04:00:00Z', 'a', 'p1'), at('2026-11-20T04:10:00Z', 'a', 'p2'), at('2026-11-20T04:20:00Z', 'b', 'p3'),
    at('2026-11-20T04:59:59Z', 'c', 'p4'), // 4 in hour 04: rule limit 2 -> 2 degraded; namespace a: 2 -> 1 degraded
    at('2026-11-20T05:00:00Z', 'a', 'p5'), // a new hour
  ];
  for (const i of findings) acc.add(backtestRow(i, decide(i, POLICY), false));
  const handled = at('2026-11-20T04:30:00Z', 'a', 'p6');
  acc.add(backtestRow(handled, decide(handled, POLICY), true));
  const s = acc.summary();
  assert.equal(s.findings, 6);
  assert.equal(s.handled, 1);
  assert.deepEqual(s.byRule, { del: 5 });
  assert.deepEqual(s.actions, { labelPod: { enforce: 5, dryRun: 0 }, deletePod: { enforce: 5, dryRun: 0 } });
  const rule = s.limits.find((l) => l.scope === 'rule');
  assert.deepEqual(rule, { rule: 'del', scope: 'rule', limit: 2, windows: 2, demanded: 5, degraded: 2 });
  assert.deepEqual(s.limits.find((l) => l.scope === 'namespace a'), { rule: 'del', scope: 'namespace a', limit: 1, windows: 2, demanded: 3, degraded: 1 });
  assert.equal(s.limits.find((l) => l.scope === 'namespace b')?.degraded, 0);
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
