// policy backtest against the SCC gRPC fake (ListFindings v1 and v2 from the package protos,
// the real @google-cloud/security-center client over real gRPC) holding a few hundred
// generated findings. Differential: the backtest's summary equals the one computed here by
// running decide() directly on each generated finding, with an independent replay of the
// blast-radius limit. Also: paging (page size below the set), throttling retried and
// reported, throttling beyond the attempts failing with a clear message, the filter SCC
// receives, every output format.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicy } from '../../shared/policy/load.js';
import type { Policy } from '../../shared/policy/schema.js';
import { decide } from '../../shared/policy/decide.js';
import { toIncident } from '../../shared/finding/incident.js';
import { isHandled } from '../../shared/record/marks.js';
import { previewGuards } from '../../shared/contain/explain.js';
import { ACTION_CATALOG } from '../../shared/policy/actions.js';
import { startFakeScc, type FakeScc } from '../support/fake-scc.js';
import { generateFindings, ORG } from '../support/generated-findings.js';
import { main, type CliIO } from '../../functions/cli/main.js';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeededFinding } from '../support/scc-list-findings.js';

const POLICY = `version: 1
protectedNamespaces: ["kube-system"]
requireEvidence: true
rules:
  - name: delete-payments
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["payments"]
      severities: [CRITICAL, HIGH]
    mode: enforce
    snapshot: true
    actions:
      - type: labelPod
      - type: deletePod
    maxActionsPerHour: 2
  - name: quarantine-shop
    match:
      categories: ["Execution: Modified Malicious Binary Executed", "Execution: Added Malicious Binary Executed"]
      projects: ["acme-shop-prod"]
    mode: enforce
    snapshot: false
    actions:
      - type: quarantinePod
    maxActionsPerHour: 1
  - name: preview-everything
    match:
      categories: ["Execution: Modified Malicious Binary Executed", "Execution: Added Malicious Binary Executed", "Execution: Reverse Shell"]
    mode: dry-run
    requireEvidence: false
    actions:
      - type: deletePod
    maxActionsPerHour: 3
    maxActionsPerHourPerNamespace: 1
`;

const COUNT = 400;
let scc: FakeScc;
let dir: string;
let policyFile: string;
let policy: Policy;

function policyOf(text: string): Policy {
  const r = loadPolicy(text, 'test.yaml');
  assert.ok(r.ok, JSON.stringify(r));
  return r.policy;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: { SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}`, METADATA_SERVER_DETECTION: 'none', SCC_RESPONDER_BACKOFF_MS: '5', ...env } };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** The expected summary, from decide() on each generated finding the filter selects (independent of the backtest's code). */
function expected(findings: SeededFinding[], version: 'v1' | 'v2') {
  const covered = new Set(policy.rules.flatMap((r) => r.match.categories));
  const selected = findings
    .filter((f) => f.finding.name.includes('/locations/') === (version === 'v2'))
    .filter((f) => covered.has(String(f.finding['category'])) && String(f.finding['resourceName']).startsWith('//container.googleapis.com/'));
  const byRule: Record<string, number> = {};
  const noMatch: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const actions: Record<string, { enforce: number; dryRun: number }> = {};
  const demand = new Map<string, number>();
  let handled = 0;
  for (const f of selected) {
    const built = toIncident(structuredClone(f));
    assert.ok(built.ok, f.finding.name);
    const incident = built.incident;
    if (isHandled(incident.securityMarks)) { handled += 1; continue; }
    const d = decide(incident, policy);
    if (!d.matched) { noMatch[d.code ?? '?'] = (noMatch[d.code ?? '?'] ?? 0) + 1; continue; }
    byRule[d.rule] = (byRule[d.rule] ?? 0) + 1;
    for (const a of d.actions) {
      const e = (actions[a.type] ??= { enforce: 0, dryRun: 0 });
      if (d.mode === 'enforce') e.enforce += 1; else e.dryRun += 1;
    }
    if (d.withheldActions?.length) refusals['protected-namespace'] = (refusals['protected-namespace'] ?? 0) + d.withheldActions.length;
    const preview = previewGuards(incident, d, { protectedNamespaces: policy.protectedNamespaces });
    for (const p of preview) for (const g of p.guards) if (g.verdict === 'fail') refusals[g.name] = (refusals[g.name] ?? 0) + 1;
    const counted = preview.filter((p) => ACTION_CATALOG[p.action].destructive && !p.guards.some((g) => g.verdict === 'fail')).length;
    if (counted === 0) continue;
    const hour = incident.eventTime.slice(0, 13);
    if (d.maxActionsPerHour !== undefined) demand.set(`${d.rule}|rule|${d.maxActionsPerHour}|${hour}`, (demand.get(`${d.rule}|rule|${d.maxActionsPerHour}|${hour}`) ?? 0) + counted);
    if (d.maxActionsPerHourPerNamespace !== undefined) {
      const k = `${d.rule}|namespace ${incident.namespace}|${d.maxActionsPerHourPerNamespace}|${hour}`;
      demand.set(k, (demand.get(k) ?? 0) + counted);
    }
  }
  // Sequential replay, one slot per destructive action in event-time order, as the limiter takes them.
  const degraded: Record<string, number> = {};
  for (const [k, n] of demand) {
    const [rule, scope, limit] = k.split('|');
    const key = `${rule}|${scope}`;
    let used = 0;
    for (let i = 0; i < n; i += 1) { if (used < Number(limit)) used += 1; else degraded[key] = (degraded[key] ?? 0) + 1; }
    degraded[key] ??= 0;
  }
  return { findings: selected.length, handled, byRule, noMatch, refusals, actions, degraded };
}

function summaryOf(stdout: string): Record<string, unknown> {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const s = JSON.parse(last) as Record<string, unknown>;
  assert.equal(s['kind'], 'summary');
  return s;
}

describe('policy backtest against the SCC ListFindings fake', () => {
  let findings: SeededFinding[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backtest-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    policy = policyOf(POLICY);
    scc = await startFakeScc();
    findings = generateFindings(COUNT);
    scc.listed.push(...findings);
  });
  after(async () => {
    await scc.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    scc.listRequests.length = 0;
    scc.faults.clear();
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`${version}: the summary equals decide() on each finding (differential), over several pages`, async () => {
      const r = await run(['policy', 'backtest', policyFile, '--organization', ORG, '--api', version, '--since', '2026-01-01T00:00:00Z', '--format', 'json', '--page-size', '37']);
      assert.equal(r.code, 0, r.stderr);
      const want = expected(findings, version);
      const got = summaryOf(r.stdout);
      assert.ok(want.findings > 60, `enough findings selected (${want.findings})`);
      assert.equal(got['findings'], want.findings);
      assert.equal(got['rejected'], 0);
      assert.equal(got['handled'], want.handled);
      assert.ok(want.handled > 0, 'some findings carry our marks');
      assert.deepEqual(got['byRule'], want.byRule);
      assert.deepEqual(got['noMatch'], want.noMatch);
      assert.deepEqual(got['actions'], want.actions);
      assert.deepEqual(got['refusals'], want.refusals);
      assert.ok((want.refusals['protected-namespace'] ?? 0) > 0 && (want.refusals['evidence'] ?? 0) > 0, JSON.stringify(want.refusals));
      const limits = Object.fromEntries((got['limits'] as { rule: string; scope: string; degraded: number }[]).map((l) => [`${l.rule}|${l.scope}`, l.degraded]));
      assert.deepEqual(limits, want.degraded);
      assert.ok(Object.values(want.degraded).some((n) => n > 0), 'the limit degrades something');
      // One JSON line per finding before the summary.
      assert.equal(r.stdout.trim().split('\n').length, want.findings + 1);
      // Paging: several pages asked for, each with the token of the one before, with the filter Terraform deploys (every state, no mark clause).
      const pages = scc.listRequests.filter((q) => q.version === version);
      assert.equal(pages.length, Math.ceil(want.findings / 37));
      assert.deepEqual(pages.map((p) => p.pageToken), pages.map((_, i) => (i === 0 ? '' : String(i * 37))));
      assert.match(pages[0]?.filter ?? '', /^\(category = ".*"\) AND resource_name : "\/\/container\.googleapis\.com\/" AND event_time >= "2026-01-01T00:00:00\.000Z"$/);
      assert.equal(pages[0]?.parent, version === 'v1' ? `organizations/${ORG}/sources/-` : `organizations/${ORG}/sources/-/locations/global`);
      assert.match(r.stderr, new RegExp(`page ${pages.length}: ${want.findings} findings read`));
    });
  }

  test('negative control: a differently decided finding changes the summary', async () => {
    const want = expected(findings, 'v1');
    const r = await run(['policy', 'backtest', policyFile, '--organization', ORG, '--api', 'v1', '--since', '2026-01-01T00:00:00Z', '--format', 'json']);
    const other = policyOf(POLICY.replace('maxActionsPerHour: 2', 'maxActionsPerHour: 50').replace('namespaces: ["payments"]', 'namespaces: ["shop"]'));
    const saved = policy;
    policy = other;
    try {
      const changed = expected(findings, 'v1');
      assert.notDeepEqual(changed.byRule, summaryOf(r.stdout)['byRule']);
      assert.deepEqual(want.byRule, summaryOf(r.stdout)['byRule']);
    } finally {
      policy = saved;
    }
  });

  test('throttling (429 / RESOURCE_EXHAUSTED) is retried with backoff and reported; the result is complete', async () => {
    scc.faults.inject({ match: 'ListFindings', status: 429, times: 3 });
    const r = await run(['policy', 'backtest', policyFile, '--organization', ORG, '--api', 'v1', '--since', '2026-01-01T00:00:00Z', '--format', 'json', '--page-size', '100']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/SCC throttled or unavailable \(.*RESOURCE_EXHAUSTED.*\): retry \d/g) ?? []).length, 3, r.stderr);
    assert.equal(summaryOf(r.stdout)['findings'], expected(findings, 'v1').findings);
  });

  test('throttling beyond the attempts fails with a clear message and exit 1', async () => {
    scc.faults.inject({ match: 'ListFindings', status: 429, times: 20 });
    const r = await run(['policy', 'backtest', policyFile, '--organization', ORG, '--api', 'v2', '--format', 'json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ListFindings failed: .*RESOURCE_EXHAUSTED.*SCC throttled 6 attempts in a row/);
  });

  test('text, markdown and csv render each finding and the summary; guards needing the live pod are marked', async () => {
    const args = ['policy', 'backtest', policyFile, '--organization', ORG, '--api', 'v2', '--since', '2026-01-01T00:00:00Z'];
    const text = await run([...args, '--format', 'text']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /rule: delete-payments\n/);
    assert.match(text.stdout, /unknown \(needs cluster\)/);
    assert.match(text.stdout, /handled: carries our marks/);
    assert.match(text.stdout, /Findings per rule\n {2}rule +findings\n/);
    assert.match(text.stdout, /Blast-radius limit replayed/);
    const md = await run([...args, '--format', 'markdown']);
    assert.match(md.stdout, /^\| finding \| event time \|/);
    assert.match(md.stdout, /### Findings per rule\n\n\| rule \| findings \|\n\|---\|---\|\n/);
    const csv = await run([...args, '--format', 'csv']);
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'finding,event_time,category,severity,state,namespace,pod,handled,rule,mode,actions,refused_by,needs_live');
    assert.equal(lines.length - 1, expected(findings, 'v2').findings);
    assert.match(csv.stderr, /Findings per rule/);
  });

  test('bad command lines are usage errors (exit 2)', async () => {
    assert.equal((await run(['policy', 'backtest', policyFile])).code, 2);
    assert.equal((await run(['policy', 'backtest', policyFile, '--organization', 'acme'])).code, 2);
    assert.equal((await run(['policy', 'backtest', policyFile, '--organization', ORG, '--since', 'yesterday'])).code, 2);
    assert.equal((await run(['policy', 'backtest', policyFile, '--organization', ORG, '--format', 'xml'])).code, 2);
  });
});
