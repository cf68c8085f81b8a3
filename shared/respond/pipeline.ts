// respond(): the playbook for one incident whose policy decision matched, as named stages
// (DESIGN.md "Data flow"). Each stage records StepResults; the report is derived from them.
//   locate -> enrich (alongside) | target pod -> contain early | snapshot -> contain late -> record
// A failed enrichment never blocks evidence or containment; the evidence gate of the
// destructive actions is the snapshot's result (contain/guards.ts).
import { RESPONDER_NAME } from '../common/product.js';
import type { StepResult } from '../common/step.js';
import type { Incident } from '../finding/types.js';
import type { ResponsePlan } from '../policy/types.js';
import { afterCritical, afterPoll, nextTurn } from '../common/turn.js';
import { buildPlaybookArtefacts } from '../enrich/playbook.js';
import { findingFolder } from '../ledger/layout.js';
import { ACTION_CATALOG } from '../policy/actions.js';
import type { RespondContext } from './context.js';
import { recordPending } from './approval-record.js';
import { computeOutcome } from './outcome.js';
import { loadPriorEffects, type EffectRecord } from './prior-effects.js';
import { REPORT_SCHEMA_VERSION, type TriageReport } from './report.js';
import { containEarly, containLate, prefetchLimits } from './stages/contain.js';
import { startEnrichment, type Enrichment } from './stages/enrich.js';
import { locate } from './stages/locate.js';
import { recordEffectsTaken, recordResult } from './stages/record.js';
import { evidenceGate, evidenceStatus, settleSnapshot, takeSnapshot, type VerifiedEvidence } from './stages/snapshot.js';
import { prepareTarget, readTargetPod } from './stages/target-pod.js';

export type { PipelineAdapters, PipelineSettings, RespondContext } from './context.js';
export { computeOutcome, markHash } from './outcome.js';

export async function respond(incident: Incident, plan: ResponsePlan, ctx: RespondContext): Promise<TriageReport> {
  const now = ctx.now ?? (() => new Date());
  const receivedAt = now().toISOString();
  const steps: StepResult[] = [];
  const record = (...done: StepResult[]): void => {
    for (const s of done) {
      steps.push(s);
      ctx.audit.step(s);
    }
  };
  const folder = findingFolder(incident);

  const located = await locate(incident, ctx);
  const w = located.workloads;
  // Critical call first (shared/common/turn.ts): the pod read, then the snapshot, whose
  // collector PATCH is the next call on the way to the DELETE (its store check runs beside
  // the read). Enrichment's reads follow once the pod read is written (their connections are
  // free again when the pod's answer comes, for the PATCH and its watch); the set-up runs once
  // they are all out. Everything but the snapshot sees the pod after the loop has polled
  // (afterCritical), so the PATCH leaves before the owner chain, prefetches and early wave.
  const read = readTargetPod(incident, plan, w, ctx);
  // The late wave starts as soon as the gate can be judged: at the latest when the snapshot ends,
  // earlier when a verified copy is being committed (its guards and budget slots beside the commit).
  let verified: (copy: VerifiedEvidence) => void = () => undefined;
  const copy = new Promise<VerifiedEvidence>((resolve) => (verified = resolve));
  const snapshotRun = takeSnapshot(incident, plan, w, ctx, (c) => verified(c));
  // Observed by evidenceGate and awaited below, after the set-up turns: a rejection meanwhile
  // must not surface as an unhandled one (the function fails the delivery on those).
  snapshotRun.catch(() => undefined);
  await nextTurn();
  // The log queries (report only) wait for containment: nothing they load may slow it.
  let containmentDone = (): void => undefined;
  const afterContainment = new Promise<void>((resolve) => (containmentDone = resolve));
  const enrichment = startEnrichment(incident, plan, w, ctx, now, afterContainment);
  await afterPoll();
  record(located.step);
  const prior = priorEffects(folder, ctx);
  const target = afterCritical(read);
  const chain = w ? prepareTarget(target, plan, w, ctx) : Promise.resolve({ owners: [] });
  const early = containEarly(incident, plan, w, target, ctx, now);
  prefetchLimits(incident, plan, w, target, chain, ctx, now);

  const gate = await evidenceGate(snapshotRun, copy);
  const facts = { target: await target, owners: (await chain).owners, ...gate, early };
  const cluster = enrichment.cluster();
  const containing = containLate(incident, plan, w, { ...facts, ...(cluster ? { cluster } : {}) }, ctx, now).finally(containmentDone);
  containing.catch(() => undefined); // awaited below, after the snapshot's step is recorded
  const snapshot = await snapshotRun;
  // The snapshot's audit line once the late wave's calls are under way (not in front of the DELETE).
  await afterPoll();
  record(snapshot.step);
  const contained = await containing;
  await settleSnapshot(snapshot, ctx); // the manifest was written while containment ran
  const enriched: Enrichment = await enrichment.result;
  record(...enriched.steps, ...(contained.step ? [contained.step] : []), ...contained.result.steps);
  const actions = contained.result.outcomes;
  for (const o of actions) for (const warning of o.warnings) ctx.audit.warning(warning, { action: o.type });
  await recordEffectsTaken(folder, actions, ctx, now());
  // approve mode: the destructive actions wait for a person (shared/respond/approval.ts).
  const pending = await recordPending({ incident, plan, target: facts.target, evidence: evidenceStatus(snapshot), now: now() }, ctx);
  if (pending.step) record(pending.step);

  const report = draftReport(incident, plan, ctx, { receivedAt, enriched, snapshot, actions, prior: await prior, steps });
  if (pending.section) {
    report.approval = pending.section;
    report.outcome = withPending(report.outcome, report);
  }
  record(...(await recordResult(report, ctx)));
  report.outcome = withPending(computeOutcome(steps, actions, plan, report.priorEffects ?? []), report);
  report.completedAt = now().toISOString();
  return report;
}

/** approve mode: the outcome's action words and summary also say what waits (as the marks do). */
function withPending(outcome: TriageReport['outcome'], report: TriageReport): TriageReport['outcome'] {
  const a = report.approval;
  if (a?.status !== 'pending' || outcome.retry) return outcome;
  const words = a.actions.map((x) => `${ACTION_CATALOG[x.type].words.noun}-pending`);
  const action = [...(outcome.action === 'none' ? [] : [outcome.action]), ...words].join(',');
  return { ...outcome, action, summary: `${outcome.summary}; waiting for approval: ${a.actions.map((x) => x.type).join(', ')} until ${a.expiresAt} (run ${a.pendingRunId})` };
}

/**
 * Effects of earlier attempts (best effort), needed only for the report: listed once the claim
 * is decided, off the critical path, and not at all on the finding's first delivery (this run
 * created claim-0, and only a claim holder records effects).
 */
function priorEffects(folder: string, ctx: RespondContext): Promise<EffectRecord[]> {
  const store = ctx.adapters.evidence;
  if (!store) return Promise.resolve([]);
  const first = ctx.claim?.first ?? Promise.resolve(false);
  return first.then((isFirst) => (isFirst ? [] : loadPriorEffects(store, folder, ctx.signal))).catch((err: unknown) => {
    ctx.audit.warning(`could not read earlier attempts' effect records: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  });
}

interface Parts {
  receivedAt: string;
  enriched: Enrichment;
  snapshot: Awaited<ReturnType<typeof takeSnapshot>>;
  actions: TriageReport['actions'];
  prior: EffectRecord[];
  steps: StepResult[];
}

function draftReport(incident: Incident, plan: ResponsePlan, ctx: RespondContext, p: Parts): TriageReport {
  const enrichment = p.enriched.data;
  const playbook = buildPlaybookArtefacts(incident, {
    ...(enrichment?.node?.instanceId ? { instanceId: enrichment.node.instanceId } : {}),
    ...(enrichment?.topController ? { owner: enrichment.topController } : {}),
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    responder: { name: RESPONDER_NAME, version: ctx.version },
    runId: ctx.audit.runId,
    findingName: incident.findingName,
    receivedAt: p.receivedAt,
    completedAt: p.receivedAt,
    ...(ctx.envelope ? { envelope: ctx.envelope } : {}),
    ...(ctx.confirmation ? { confirmation: ctx.confirmation } : {}),
    incident,
    decision: plan,
    playbook,
    ...(enrichment ? { enrichment } : {}),
    ...(p.snapshot.evidence ? { evidence: p.snapshot.evidence } : {}),
    actions: p.actions,
    ...(p.prior.length > 0 ? { priorEffects: p.prior } : {}),
    steps: p.steps,
    outcome: computeOutcome(p.steps, p.actions, plan, p.prior),
  };
}
