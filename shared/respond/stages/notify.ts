// Part of stage 5, record: notifications (Slack, Google Chat, PagerDuty) for the rule's
// `notify` targets. They run in the record stage, after containment, so no webhook can
// delay a DELETE; each target is its own best-effort step (`record.notify.<channel>`): a
// failure is in the audit trail and never asks for a redelivery. The secret (webhook URL or
// routing key) is read at send time and never put into a step, an error or a report.
import { runStep, skipped, type StepResult } from '../../common/step.js';
import type { NotificationFacts, NotificationLink } from '../../notify/facts.js';
import { googleChatMessage, pagerDutyResolve, pagerDutyTrigger, slackMessage } from '../../notify/formats.js';
import { parseWebhookUrl } from '../../notify/send.js';
import { actionEntry } from '../../policy/actions.js';
import type { ResponsePlan } from '../../policy/types.js';
import { findingKeys } from '../../ledger/layout.js';
import { signalOf, type RespondContext } from '../context.js';
import { markHash } from '../outcome.js';
import { mergeStatuses } from '../prior-effects.js';
import type { TriageReport } from '../report.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

type Target = NonNullable<ResponsePlan['notify']>[number];

/** The SCC console page of one finding. */
export function sccConsoleUrl(findingName: string): string {
  return `https://console.cloud.google.com/security/command-center/findingsv2;name=${encodeURIComponent(findingName)}`;
}

function links(report: TriageReport, ctx: RespondContext): NotificationLink[] {
  const out: NotificationLink[] = [{ title: 'Finding in SCC', url: sccConsoleUrl(report.findingName) }];
  const store = ctx.adapters.evidence;
  if (store?.location.startsWith('gs://')) {
    const [bucket, ...prefix] = store.location.slice('gs://'.length).split('/');
    const key = [...prefix.filter(Boolean), findingKeys(report.incident).reportMarkdown].join('/');
    out.push({ title: 'Report', url: `https://console.cloud.google.com/storage/browser/_details/${encodeURIComponent(bucket ?? '')}/${key.split('/').map(encodeURIComponent).join('/')}` });
  }
  const podLogs = report.playbook.filters.pod;
  if (podLogs.runnable) out.push({ title: 'Pod logs', url: podLogs.url });
  const audit = report.playbook.filters.audit;
  if (audit.runnable) out.push({ title: 'Cluster audit logs', url: audit.url });
  return out;
}

/** What the notification says, from the report (everything in it is already scrubbed data). */
export function notificationFacts(report: TriageReport, ctx: RespondContext): NotificationFacts {
  const i = report.incident;
  const plan = report.decision.matched ? report.decision : undefined;
  const statuses = mergeStatuses(report.actions, report.priorEffects ?? []);
  return {
    findingName: i.findingName,
    findingId: i.findingId,
    category: i.category,
    severity: i.severity,
    eventTime: i.eventTime,
    project: i.projectId,
    ...(i.cluster ? { cluster: i.cluster.name } : {}),
    ...(i.namespace ? { namespace: i.namespace } : {}),
    ...(i.pod ? { pod: i.pod } : {}),
    ...(i.container ? { container: i.container } : {}),
    ...(i.binary ? { binary: { path: i.binary.path, ...(i.binary.sha256 ? { sha256: i.binary.sha256 } : {}) } } : {}),
    hashVerdict: markHash(report.evidence),
    rule: plan?.rule ?? '-',
    mode: ctx.forceDryRun ? 'dry-run' : (plan?.mode ?? '-'),
    verdict: report.outcome.verdict,
    summary: report.outcome.summary,
    actions: report.actions.map((a, n) => ({ type: a.type, status: statuses[n]?.status ?? a.status, detail: a.detail })),
    // Waiting for approval is not contained (PagerDuty keeps the alert open), even after a quarantine ran at once.
    contained: report.approval?.status !== 'pending' && statuses.some((s) => s.status === 'done' && actionEntry(s.type)?.destructive === true),
    runId: ctx.audit.runId,
    links: links(report, ctx),
    ...pendingFacts(report),
  };
}

/** approve mode, waiting: what waits and the exact commands (facts.pending, rendered by every formatter). */
function pendingFacts(report: TriageReport): Pick<NotificationFacts, 'pending'> {
  const a = report.approval;
  if (a?.status !== 'pending' || !a.commands) return {};
  return { pending: { actions: a.actions.map((x) => x.type), approve: a.commands.approve, deny: a.commands.deny, expiresAt: a.expiresAt } };
}

async function send(target: Target, facts: NotificationFacts, ctx: RespondContext, signal: AbortSignal): Promise<Record<string, unknown>> {
  const notify = ctx.adapters.notify;
  if (!notify) throw new Error('unreachable: no notify adapter');
  const what = `${target.channel} notification (secret ${target.secret})`;
  const secret = await notify.secrets.read(target.secret, signal);
  switch (target.channel) {
    case 'slack':
      return { status: (await notify.poster.postJson(parseWebhookUrl(secret, what), slackMessage(facts), what, signal)).status };
    case 'googleChat':
      return { status: (await notify.poster.postJson(parseWebhookUrl(secret, what), googleChatMessage(facts), what, signal)).status };
    case 'pagerduty': {
      const url = parseWebhookUrl(notify.pagerDutyUrl ?? PAGERDUTY_EVENTS_URL, what);
      const routingKey = secret.trim();
      await notify.poster.postJson(url, pagerDutyTrigger(facts, routingKey), what, signal);
      if (!facts.contained) return { events: ['trigger'] };
      // Trigger then resolve under the same dedup key: the alert stays in PagerDuty's record.
      await notify.poster.postJson(url, pagerDutyResolve(facts, routingKey), what, signal);
      return { events: ['trigger', 'resolve'] };
    }
  }
}

/** One best-effort step per notify target of the rule. */
export async function notifySteps(report: TriageReport, ctx: RespondContext): Promise<StepResult[]> {
  const plan = report.decision.matched ? report.decision : undefined;
  const targets = plan?.notify ?? [];
  if (targets.length === 0) return [];
  const name = (t: Target): string => `record.notify.${t.channel}`;
  const best = (s: StepResult): StepResult => ({ ...s, bestEffort: true });
  if (!ctx.adapters.notify) return targets.map((t) => best(skipped(name(t), 'notifications are not configured in this deployment')));
  if (report.outcome.retry) return targets.map((t) => best(skipped(name(t), 'a retry is coming: the final attempt notifies')));
  const facts = notificationFacts(report, ctx);
  const steps = await Promise.all(
    targets.map((t) =>
      runStep(name(t), async (signal) => ({ via: t.secret, ...(await send(t, facts, ctx, signal)) }), { timeoutMs: ctx.settings.recordTimeoutMs, ...signalOf(ctx) }),
    ),
  );
  return steps.map(best);
}
