// `scc-responder approvals [--expire]` through main() (the bin's code path), on stores made by
// real approve-mode triages (the fake Kubernetes API server, the SCC gRPC fake, a local
// evidence directory): a record still pending, one past its expiry that nobody decided, one
// closed by a deny. The sweep's clock is moved (io.now), nothing sleeps.
// Checked: the listing (text and JSON, newest first, statuses); --expire closes exactly the
// expired-unclosed record (marks `expired` on the SCC fake, the decision report stored beside
// it, an audit entry) and leaves the others; a late approval of the closed record does nothing;
// an approval delivery holding the claim (the real claim protocol, held open) makes the sweep
// skip the record and say so, and once that claim is released the same sweep closes it (the
// negative control: only the claim kept it from double-closing); SCC's copy already decided
// (a decision mark, another state) is left to the function, and closed once it is restored.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../functions/cli/main.js';
import { keysIn } from '../../shared/ledger/layout.js';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';
import { createIdempotency } from '../../shared/record/idempotency.js';
import { MARK_KEYS } from '../../shared/record/marks.js';
import type { ApprovalRow, SweepOutcome } from '../../shared/respond/approval-sweep.js';
import { freshFinding } from '../support/cloudevents.js';
import { DEPLOY_POD, NODE, NS, type World } from '../support/fake-kube-world.js';
import { type FakeScc } from '../support/fake-scc.js';
import { startCliWorld, type CliWorld } from '../support/cli-world.js';

const policy = (hours: number): string => `version: 1
requireEvidence: false
rules:
  - name: approve-cordon
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
    mode: approve
    approval:
      expiresAfterHours: ${hours}
    snapshot: false
    actions:
      - type: labelPod
      - type: cordonNode
`;
const LATER = (): Date => new Date(Date.now() + 2 * 3_600_000);

let world: World;
let scc: FakeScc;
let dir: string;
let kubeconfig: string;
let cli: CliWorld;
let shortPolicy: string;
let longPolicy: string;

// The CLI prints the sweep's own rows and outcomes (functions/cli/approvals.ts).
type Row = ApprovalRow;
type Swept = SweepOutcome;

async function run(args: string[], options: { now?: () => Date; scc?: boolean } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const withScc = options.scc !== false;
  const env = { HOME: dir, KUBECONFIG: kubeconfig, ...(withScc ? { SCC_RESPONDER_MARKS: 'true', SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}` } : {}) };
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env, ...(options.now ? { now: options.now } : {}) });
  return { code, out, err };
}

/** A fresh finding triaged in approve mode: its pending record, awaiting-approval on the SCC fake. */
async function pend(evidence: string, policyFile: string, prefix: string): Promise<{ findingName: string; runId: string; file: string }> {
  const f = freshFinding(prefix);
  const file = path.join(dir, `${f.findingId}.json`);
  writeFileSync(file, JSON.stringify(f.notification));
  scc.addFinding(f.notification);
  const r = await run(['triage', file, '--policy', policyFile, '--evidence', evidence, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  const marks = scc.marksOf(f.findingName) ?? {};
  assert.equal(marks[MARK_KEYS.state], 'awaiting-approval', JSON.stringify(marks));
  return { findingName: f.findingName, runId: marks[MARK_KEYS.run] ?? '', file };
}

async function listJson(evidence: string, extra: string[] = [], now = LATER): Promise<{ code: number; records: Row[]; expire?: Swept[]; err: string }> {
  const r = await run(['approvals', '--evidence', evidence, '--format', 'json', ...extra], { now });
  const parsed = JSON.parse(r.out) as { records: Row[]; expire?: Swept[] };
  return { code: r.code, err: r.err, records: parsed.records, ...(parsed.expire ? { expire: parsed.expire } : {}) };
}

function decisionReport(evidence: string, folder: string): { runId: string; approval?: { status: string; reason?: string; pendingRunId: string }; confirmation?: { confirmed: boolean } } | null {
  const file = path.join(evidence, ...keysIn(folder).approvalFolder.split('/'), 'report.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof decisionReport>) : null;
}

before(async () => {
  cli = await startCliWorld('scc-approvals-');
  ({ world, scc, dir, kubeconfig } = cli);
  shortPolicy = path.join(dir, 'short.yaml');
  writeFileSync(shortPolicy, policy(1));
  longPolicy = path.join(dir, 'long.yaml');
  writeFileSync(longPolicy, policy(24));
});

after(() => cli.close());

test('lists pending, expired-unclosed and closed records newest first; --expire closes exactly the expired one', { timeout: 180_000 }, async () => {
  const evidence = path.join(dir, 'store-main');
  const pending = await pend(evidence, longPolicy, 'pend');
  const expired = await pend(evidence, shortPolicy, 'expd');
  const denied = await pend(evidence, shortPolicy, 'deny');
  scc.setMarks(denied.findingName, { ...(scc.marksOf(denied.findingName) ?? {}), scc_responder_approval: `deny:${denied.runId}` });
  const d = await run(['triage', denied.file, '--policy', shortPolicy, '--evidence', evidence, '--format', 'json']);
  assert.equal(d.code, 0, d.err);
  assert.equal(scc.marksOf(denied.findingName)?.[MARK_KEYS.state], 'denied');

  const listed = await listJson(evidence);
  assert.equal(listed.code, 0, listed.err);
  assert.deepEqual(listed.records.map((r) => [r.findingName, r.status, r.closedAs ?? '']), [
    [denied.findingName, 'closed', 'denied'],
    [expired.findingName, 'expired-unclosed', ''],
    [pending.findingName, 'pending', ''],
  ]);
  const e = listed.records[1] as Row;
  assert.equal(e.runId, expired.runId);
  assert.equal(e.rule, 'approve-cordon');
  assert.deepEqual(e.actions, ['cordonNode']);
  assert.deepEqual([e.pod.namespace, e.pod.name], [NS, DEPLOY_POD]);
  assert.equal(e.pod.uid, world.kube.pod(NS, DEPLOY_POD)?.uid);
  assert.ok(Date.parse(e.expiresAt) - Date.parse(e.createdAt) === 3_600_000, `${e.createdAt} -> ${e.expiresAt}`);

  const text = await run(['approvals', '--evidence', evidence], { now: LATER });
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /3 record\(s\), 1 pending, 1 expired-unclosed, 1 closed/);
  const order = [denied, expired, pending].map((f) => text.out.indexOf(f.findingName));
  assert.ok(order.every((i, k) => i > 0 && (k === 0 || i > (order[k - 1] as number))), text.out);
  assert.match(text.out, new RegExp(`closed\\(denied\\)\\s+${denied.findingName}`));
  assert.match(text.out, new RegExp(`expired-unclosed\\s+${expired.findingName}\\n\\s+run ${expired.runId}\\s+rule approve-cordon\\s+pod ${NS}/${DEPLOY_POD} \\(uid `));
  // Listing never closes anything.
  assert.equal(decisionReport(evidence, e.folder), null);
  // Now (before anyone's expiry) nothing is expired.
  assert.deepEqual((await listJson(evidence, [], () => new Date())).records.map((r) => r.status), ['closed', 'pending', 'pending']);

  const updatesBefore = scc.updates.length;
  const kubeWrites = world.kube.writes.length;
  const swept = await run(['approvals', '--evidence', evidence, '--expire', '--format', 'json', '--verbose'], { now: LATER });
  assert.equal(swept.code, 0, swept.err);
  const out = JSON.parse(swept.out) as { records: Row[]; expire: Swept[] };
  assert.deepEqual(out.expire.map((s) => [s.findingName, s.result]), [[expired.findingName, 'closed']]);
  assert.deepEqual(out.records.map((r) => `${r.status}:${r.closedAs ?? ''}`), ['closed:denied', 'closed:expired', 'pending:']);
  assert.equal(world.kube.writes.length, kubeWrites, 'the sweep never touches a cluster');
  // Marks: only the expired finding's, state expired.
  assert.deepEqual(scc.updates.slice(updatesBefore).map((u) => u.finding), [expired.findingName]);
  const marks = scc.marksOf(expired.findingName) ?? {};
  assert.equal(marks[MARK_KEYS.state], 'expired');
  assert.equal(marks[MARK_KEYS.action], 'cordon-expired');
  assert.equal(scc.marksOf(pending.findingName)?.[MARK_KEYS.state], 'awaiting-approval');
  assert.equal(scc.marksOf(denied.findingName)?.[MARK_KEYS.state], 'denied');
  // The decision report, as the function writes it for an expiry, says who closed it.
  const report = decisionReport(evidence, e.folder);
  assert.equal(report?.approval?.status, 'expired');
  assert.equal(report?.approval?.pendingRunId, expired.runId);
  assert.match(report?.approval?.reason ?? '', /expiry sweep/);
  assert.equal(report?.confirmation?.confirmed, true);
  assert.ok(out.expire[0]?.report?.endsWith('/approval/report.json'), out.expire[0]?.report);
  assert.equal(decisionReport(evidence, (out.records[2] as Row).folder), null, 'the pending record is not closed');
  // The audit entry (JSON on stderr with --verbose): the summary of the closing, a WARNING.
  const entries = swept.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const summaries = entries.filter((x) => (x['summary'] as { details?: { closedBy?: string } } | undefined)?.details?.closedBy === 'sweep');
  assert.equal(summaries.length, 1, swept.err);
  const summary = summaries[0] as Record<string, unknown>;
  assert.equal(summary['severity'], 'WARNING');
  assert.deepEqual((summary['summary'] as { details: unknown }).details, { approval: 'expired', pendingRun: expired.runId, failedSteps: [], closedBy: 'sweep' });
  assert.equal((summary['logging.googleapis.com/operation'] as { id: string }).id, expired.findingName);

  // Idempotent: the next sweep has nothing to close.
  const again = await run(['approvals', '--evidence', evidence, '--expire'], { now: LATER });
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /expire: nothing to close/);
  // A late approval of the expired record: handled (our expired marks), nothing cordoned.
  scc.setMarks(expired.findingName, { ...(scc.marksOf(expired.findingName) ?? {}), scc_responder_approval: `approve:${expired.runId}` });
  const late = await run(['triage', expired.file, '--policy', shortPolicy, '--evidence', evidence, '--format', 'json']);
  assert.equal(late.code, 0, late.err);
  assert.notEqual(world.kube.node(NODE)?.unschedulable, true, 'nothing cordoned after expiry');
  assert.equal(scc.marksOf(expired.findingName)?.[MARK_KEYS.state], 'expired');
});

test('an approval delivery holding the claim: the sweep skips the record and says so; released, the sweep closes it', { timeout: 120_000 }, async () => {
  const evidence = path.join(dir, 'store-race');
  const f = await pend(evidence, shortPolicy, 'race');
  const folder = (await listJson(evidence)).records[0]?.folder ?? '';
  const approvalFolder = keysIn(folder).approvalFolder;
  // The claim an approval delivery takes (approval.ts decideUnderClaim -> Idempotency.run), held open.
  const store = new LocalEvidenceStore({ root: evidence });
  const idem = createIdempotency({ store });
  let release!: () => void;
  let holding!: () => void;
  const held = new Promise<void>((r) => (holding = r));
  const delivery = idem.run({ findingName: f.findingName, folder: approvalFolder, runId: 'delivery-run-1' }, async () => {
    holding();
    await new Promise<void>((r) => (release = r));
    return 'transient failure';
  }, (why) => ({ release: why }));
  await held;
  const claim = JSON.parse((await store.readText(`${approvalFolder}/claim-0.json`)) ?? '{}') as { runId?: string; status?: string };
  assert.deepEqual([claim.status, claim.runId], ['in-progress', 'delivery-run-1'], 'the delivery holds the approval claim while the sweep runs');

  const swept = await listJson(evidence, ['--expire']);
  assert.equal(swept.code, 0, swept.err);
  assert.deepEqual(swept.expire?.map((s) => [s.findingName, s.result]), [[f.findingName, 'skipped']]);
  assert.match(swept.expire?.[0]?.detail ?? '', /holds the claim \(run delivery-run-1, generation 0/);
  assert.equal(decisionReport(evidence, folder), null, 'no decision report while the delivery holds the claim');
  assert.equal(scc.marksOf(f.findingName)?.[MARK_KEYS.state], 'awaiting-approval');
  assert.equal((await listJson(evidence)).records[0]?.status, 'expired-unclosed');

  // Negative control: the same record, clock and sweep close it once the claim is released:
  // the claim alone kept the sweep from closing a record a delivery was deciding.
  release();
  assert.equal((await delivery).status, 'executed');
  const after = await listJson(evidence, ['--expire']);
  assert.equal(after.code, 0, after.err);
  assert.deepEqual(after.expire?.map((s) => s.result), ['closed']);
  assert.equal(decisionReport(evidence, folder)?.approval?.status, 'expired');
  assert.equal(scc.marksOf(f.findingName)?.[MARK_KEYS.state], 'expired');
});

test("SCC's copy already decided (a decision mark, another state): left to the function, said so; restored, closed", { timeout: 120_000 }, async () => {
  const evidence = path.join(dir, 'store-decided');
  const f = await pend(evidence, shortPolicy, 'dcdd');
  const folder = (await listJson(evidence)).records[0]?.folder ?? '';
  const original = scc.marksOf(f.findingName) ?? {};

  scc.setMarks(f.findingName, { ...original, scc_responder_approval: `approve:${f.runId}` });
  const marked = await listJson(evidence, ['--expire']);
  assert.equal(marked.code, 0, marked.err);
  assert.equal(marked.expire?.[0]?.result, 'skipped');
  assert.match(marked.expire?.[0]?.detail ?? '', new RegExp(`carries a decision mark \\(approve:${f.runId}\\): the function decides it`));

  scc.setMarks(f.findingName, { ...original, [MARK_KEYS.state]: 'contained' });
  const moved = await listJson(evidence, ['--expire']);
  assert.equal(moved.expire?.[0]?.result, 'skipped');
  assert.match(moved.expire?.[0]?.detail ?? '', /says scc_responder_state=contained, not awaiting-approval: left to the function/);
  scc.setMarks(f.findingName, { ...original, [MARK_KEYS.run]: 'another-run' });
  assert.match((await listJson(evidence, ['--expire'])).expire?.[0]?.detail ?? '', /awaits run another-run, not /);
  assert.equal(decisionReport(evidence, folder), null, 'nothing closed while SCC says otherwise');

  // Negative control: SCC's copy awaiting this run again, the same sweep closes it.
  scc.setMarks(f.findingName, original);
  const closed = await listJson(evidence, ['--expire']);
  assert.deepEqual(closed.expire?.map((s) => s.result), ['closed']);
  assert.equal(scc.marksOf(f.findingName)?.[MARK_KEYS.state], 'expired');
});

test('without SCC access the record is closed unconfirmed, and the report says so', { timeout: 120_000 }, async () => {
  const evidence = path.join(dir, 'store-no-scc');
  const f = await pend(evidence, shortPolicy, 'nscc');
  const folder = (await listJson(evidence)).records[0]?.folder ?? '';
  const updates = scc.updates.length;
  const r = await run(['approvals', '--evidence', evidence, '--expire'], { now: LATER, scc: false });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`closed\\s+${f.findingName} \\(run ${f.runId}\\)`));
  const report = decisionReport(evidence, folder);
  assert.equal(report?.approval?.status, 'expired');
  assert.equal(report?.confirmation?.confirmed, false);
  assert.equal(scc.updates.length, updates, 'no marks without SCC access');
});

test('usage: --help, bad options and --evidence none are exit 2 with one sentence', async () => {
  const help = await run(['approvals', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: scc-responder approvals/);
  for (const flag of ['--evidence', '--expire', '--format']) assert.ok(help.out.includes(flag), flag);
  assert.match((await run(['help', 'approvals'])).out, /^Usage: scc-responder approvals/);
  for (const [args, message] of [
    [['approvals', '--format', 'csv'], /--format must be text or json \(got csv\)/],
    [['approvals', '--frobnicate'], /^scc-responder: unknown option --frobnicate\n/],
    [['approvals', 'extra'], /takes no positional arguments/],
    [['approvals', '--evidence', 'none'], /--evidence none has nothing to list/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.match(r.err, /Run 'scc-responder approvals --help'/);
    assert.equal(r.out, '');
  }
});
