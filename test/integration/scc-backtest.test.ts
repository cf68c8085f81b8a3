// policy backtest against the SCC gRPC fake (ListFindings v1 and v2 from the package protos,
// the real @google-cloud/security-center client over real gRPC) holding a few hundred
// generated findings. Differential: the backtest's summary equals the one computed here by
// running decide() directly on each generated finding, with an independent replay of the
// blast-radius limit: the real StoreActionLimiter (over an in-memory store) reserving one slot
// per destructive action in event-time order, in every budget of the rule narrowest first
// (workload of a cluster, namespace of a cluster, rule organization-wide; the cluster read
// here from the finding's resource name), as the executor does. Also: paging (page size below the set), throttling retried and
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
import { MemoryStore } from '../support/memory-store.js';
import { StoreActionLimiter, type LimitScope } from '../../shared/contain/limiter.js';

/**
 * Findings sharing workloads: every fourth pod belongs to Deployment `web` (so the workload
 * budget bites within an hour), every tenth keeps no pod-template-hash (its own workload: the
 * pod-name fallback).
 */
function withSharedWorkloads(findings: SeededFinding[]): SeededFinding[] {
  return findings.map((f, i) => {
    const k8s = f.finding['kubernetes'] as { pods: { name: string; labels?: { name: string; value: string }[] }[] };
    const sp = f.finding['sourceProperties'] as Record<string, unknown>;
    const p0 = k8s.pods[0];
    if (p0 === undefined) return f;
    if (i % 4 === 0) {
      p0.name = `web-7d9f8b6c5d-w${i.toString(36)}`;
      sp['Pod_Name'] = p0.name;
    }
    if (i % 10 === 3) p0.labels = (p0.labels ?? []).filter((l) => l.name !== 'pod-template-hash');
    return f;
  });
}

/**
 * The test's own reading of a finding's cluster, from its resource name (not the incident's
 * parse): the namespace and workload budgets are per cluster (project, location, name).
 */
function clusterOf(resourceName: string): { project: string; location: string; name: string } {
  const m = /^\/\/container\.googleapis\.com\/projects\/([^/]+)\/(?:locations|zones)\/([^/]+)\/clusters\/([^/]+)$/.exec(resourceName);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined, resourceName);
  return { project: m[1], location: m[2], name: m[3] };
}

/** The test's own reading of a generated pod's workload (the limiter's `namespace/Kind/name`). */
function workloadKey(ns: string, pod: string, labels: Record<string, string>): string {
  const hash = labels['pod-template-hash'];
  return hash !== undefined && pod.includes(`-${hash}-`) ? `${ns}/Deployment/${pod.slice(0, pod.indexOf(`-${hash}-`))}` : `${ns}/Pod/${pod}`;
}

interface Demand {
  at: string;
  rule: string;
  budgets: { scope: LimitScope; label: string; limit: number }[];
  subject: string;
}

/** The real limiter, one reservation per destructive action in event-time order, narrowest budget first, as executor.ts blastRadius. */
async function limiterReplay(demands: Demand[]): Promise<Record<string, { demanded: number; degraded: number }>> {
  const limiter = new StoreActionLimiter(new MemoryStore());
  const out: Record<string, { demanded: number; degraded: number }> = {};
  demands.sort((a, b) => a.at.localeCompare(b.at));
  for (const d of demands) {
    for (const b of d.budgets) out[`${d.rule}|${b.label}`] ??= { demanded: 0, degraded: 0 };
    for (const b of d.budgets) {
      const row = out[`${d.rule}|${b.label}`] as { demanded: number; degraded: number };
      row.demanded += 1;
      const v = await limiter.reserve(b.scope, b.limit, d.subject, new Date(d.at));
      if (!v.allowed) {
        row.degraded += 1;
        break;
      }
    }
  }
  return out;
}

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
    maxActionsPerHourPerWorkload: 1
  - name: quarantine-shop
    match:
      categories: ["Execution: Modified Malicious Binary Executed", "Execution: Added Malicious Binary Executed"]
      projects: ["acme-shop-prod"]
    mode: approve
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
    maxActionsPerHourPerWorkload: 1
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
  const actions: Record<string, { enforce: number; approve: number; dryRun: number }> = {};
  const demands: Demand[] = [];
  const sources: Record<string, number> = {};
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
      const e = (actions[a.type] ??= { enforce: 0, approve: 0, dryRun: 0 });
      if (d.mode === 'enforce') e.enforce += 1; else if (d.mode === 'approve') e.approve += 1; else e.dryRun += 1;
    }
    if (d.withheldActions?.length) refusals['protected-namespace'] = (refusals['protected-namespace'] ?? 0) + d.withheldActions.length;
    const preview = previewGuards(incident, d, { protectedNamespaces: policy.protectedNamespaces });
    for (const p of preview) for (const g of p.guards) if (g.verdict === 'fail') refusals[g.name] = (refusals[g.name] ?? 0) + 1;
    const counted = preview.filter((p) => ACTION_CATALOG[p.action].destructive && !p.guards.some((g) => g.verdict === 'fail'));
    if (counted.length === 0) continue;
    const ns = incident.namespace ?? '';
    const workload = workloadKey(ns, incident.pod ?? '', incident.podLabels);
    const cluster = clusterOf(String(f.finding['resourceName']));
    const where = `${cluster.project}/${cluster.location}/${cluster.name}`;
    const budgets: Demand['budgets'] = [];
    if (d.maxActionsPerHourPerWorkload !== undefined) {
      budgets.push({ scope: { rule: d.rule, cluster, workload }, label: `workload ${workload} in ${where}`, limit: d.maxActionsPerHourPerWorkload });
      const source = workload.includes('/Pod/') ? 'pod name' : 'finding labels';
      sources[source] = (sources[source] ?? 0) + 1;
    }
    if (d.maxActionsPerHourPerNamespace !== undefined) budgets.push({ scope: { rule: d.rule, cluster, namespace: ns }, label: `namespace ${ns} in ${where}`, limit: d.maxActionsPerHourPerNamespace });
    if (d.maxActionsPerHour !== undefined) budgets.push({ scope: { rule: d.rule }, label: 'rule', limit: d.maxActionsPerHour });
    for (const p of counted) demands.push({ at: incident.eventTime, rule: d.rule, budgets, subject: `${incident.findingName}\n${p.action}` });
  }
  return { findings: selected.length, handled, byRule, noMatch, refusals, actions, demands, sources };
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
    findings = withSharedWorkloads(generateFindings(COUNT));
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
      const limits = Object.fromEntries((got['limits'] as { rule: string; scope: string; demanded: number; degraded: number }[]).map((l) => [`${l.rule}|${l.scope}`, { demanded: l.demanded, degraded: l.degraded }]));
      const replayed = await limiterReplay(want.demands);
      assert.deepEqual(limits, replayed);
      for (const scope of version === 'v1' ? ['rule', 'namespace ', 'workload '] : ['namespace ']) {
        assert.ok(Object.entries(replayed).some(([k, v]) => k.split('|')[1]?.startsWith(scope) && v.degraded > 0), `the ${scope.trim()} budget degrades something`);
      }
      // The data tells clusters apart: one namespace has budgets in several clusters, and
      // counting it once for every cluster (the old, cluster-blind keys) degrades more.
      const clustersOf = new Map<string, Set<string>>();
      for (const k of Object.keys(replayed).filter((l) => l.includes('|namespace '))) {
        const [nsLabel = '', where = ''] = k.split(' in ');
        clustersOf.set(nsLabel, (clustersOf.get(nsLabel) ?? new Set()).add(where));
      }
      assert.ok([...clustersOf.values()].some((c) => c.size > 1), JSON.stringify([...clustersOf.keys()]));
      const ONE = { project: 'one', location: 'one', name: 'one' };
      const blind = await limiterReplay(want.demands.map((d) => ({ ...d, budgets: d.budgets.map((b) => ('cluster' in b.scope ? { ...b, scope: { ...b.scope, cluster: ONE } } : b)) })));
      const degraded = (r: Record<string, { degraded: number }>): number => Object.values(r).reduce((n, v) => n + v.degraded, 0);
      assert.ok(degraded(blind) > degraded(replayed), `cluster-blind ${degraded(blind)} vs per cluster ${degraded(replayed)}`);
      assert.deepEqual(got['workloadSources'], want.sources);
      assert.ok((want.sources['pod name'] ?? 0) > 0 && (want.sources['finding labels'] ?? 0) > 0, JSON.stringify(want.sources));
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
    assert.equal(lines[0], 'finding,event_time,category,severity,state,namespace,pod,handled,rule,mode,actions,refused_by,needs_live,live,live_verdicts,workload');
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
