// Each service's native message from NotificationFacts. Pure.
//   Slack incoming webhook: `text` (fallback, notifications) + Block Kit `blocks`
//     (header, section fields, section text, actions with url buttons).
//   Google Chat incoming webhook: `text` + `cardsV2` [{ cardId, card: { header, sections } }].
//   PagerDuty Events API v2: { routing_key, event_action, dedup_key, payload{summary, source,
//     severity, timestamp, component, group, class, custom_details}, links, client }.
// Attacker-writable values are clipped and have Slack/Chat control characters (& < >)
// escaped, so a binary path cannot become a link, a mention (<!channel>) or markup.
import { actionLines, binaryText, clip, titleText, whereText, type NotificationFacts } from './facts.js';

/** Slack mrkdwn and Google Chat text both treat & < > as control characters. */
export function escapeMarkup(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const esc = (value: string, max?: number): string => escapeMarkup(clip(value, max));

function plainText(f: NotificationFacts): string {
  const lines = [
    `${titleText(f)}`,
    `Where: ${whereText(f)}`,
    `Binary: ${binaryText(f)}`,
    `Rule ${f.rule} (${f.mode}): ${f.verdict}`,
    ...actionLines(f).map((l) => `- ${l}`),
  ];
  if (f.pending) lines.push(`Pending: ${f.pending.actions.join(', ')}`, `Approve: ${f.pending.approve}`, `Deny: ${f.pending.deny}`);
  return lines.map((l) => esc(l, 600)).join('\n');
}

// ------------------------------------------------------------------ Slack

type SlackText = { type: 'plain_text' | 'mrkdwn'; text: string };

export interface SlackMessage {
  text: string;
  blocks: Record<string, unknown>[];
}

export function slackMessage(f: NotificationFacts): SlackMessage {
  const field = (label: string, value: string): SlackText => ({ type: 'mrkdwn', text: `*${label}*\n${esc(value)}` });
  const blocks: Record<string, unknown>[] = [
    // header: plain_text, at most 150 characters
    { type: 'header', text: { type: 'plain_text', text: clip(titleText(f), 150) } },
    {
      type: 'section',
      fields: [
        field('Cluster', f.cluster ?? f.project),
        field('Namespace / pod', `${f.namespace ?? '-'} / ${f.pod ?? '-'}`),
        field('Binary', f.binary?.path ?? 'unknown'),
        field('Hash verdict', f.hashVerdict),
        field('Rule', `${f.rule} (${f.mode})`),
        field('Verdict', f.verdict),
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(actionLines(f).map((l) => `• ${escapeMarkup(l)}`).join('\n'), 3000) } },
  ];
  if (f.pending) {
    const text = `*Pending:* ${esc(f.pending.actions.join(', '))}\n*Approve:* \`${esc(f.pending.approve, 1200)}\`\n*Deny:* \`${esc(f.pending.deny, 1200)}\``;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } });
  }
  if (f.links.length > 0) {
    blocks.push({
      type: 'actions',
      // at most 25 elements; button text at most 75 characters, url at most 3000
      elements: f.links.slice(0, 25).map((l, i) => ({ type: 'button', action_id: `link-${i}`, text: { type: 'plain_text', text: clip(l.title, 75) }, url: l.url.slice(0, 3000) })),
    });
  }
  return { text: plainText(f), blocks };
}

// ------------------------------------------------------------------ Google Chat

export interface GoogleChatMessage {
  text: string;
  cardsV2: { cardId: string; card: Record<string, unknown> }[];
}

export function googleChatMessage(f: NotificationFacts): GoogleChatMessage {
  const row = (topLabel: string, text: string): Record<string, unknown> => ({ decoratedText: { topLabel, text: esc(text), wrapText: true } });
  const sections: Record<string, unknown>[] = [
    {
      header: 'Found',
      widgets: [row('Cluster', f.cluster ?? f.project), row('Namespace / pod', `${f.namespace ?? '-'} / ${f.pod ?? '-'}`), row('Binary', binaryText(f))],
    },
    { header: `Done (rule ${esc(f.rule)}, ${f.mode}): ${f.verdict}`, widgets: actionLines(f).map((l) => ({ textParagraph: { text: esc(l, 600) } })) },
  ];
  if (f.pending) {
    sections.push({
      header: 'Pending approval',
      widgets: [row('Actions', f.pending.actions.join(', ')), row('Approve', f.pending.approve), row('Deny', f.pending.deny)],
    });
  }
  if (f.links.length > 0) {
    sections.push({ widgets: [{ buttonList: { buttons: f.links.map((l) => ({ text: clip(l.title, 75), onClick: { openLink: { url: l.url } } })) } }] });
  }
  return {
    text: plainText(f),
    cardsV2: [{ cardId: `scc-responder-${f.findingId}`.slice(0, 64), card: { header: { title: clip(titleText(f), 150), subtitle: esc(whereText(f)) }, sections } }],
  };
}

// ------------------------------------------------------------------ PagerDuty

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export function pagerDutySeverity(sccSeverity: string): PagerDutySeverity {
  switch (sccSeverity) {
    case 'CRITICAL':
      return 'critical';
    case 'HIGH':
      return 'error';
    case 'MEDIUM':
      return 'warning';
    default:
      return 'info';
  }
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  /** The finding name: SCC's identity for the incident, so redeliveries update one alert. */
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
  client?: string;
}

/** PagerDuty allows a dedup_key of at most 255 characters; SCC finding names are shorter. */
export function pagerDutyTrigger(f: NotificationFacts, routingKey: string): PagerDutyEvent {
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: f.findingName.slice(0, 255),
    payload: {
      // summary: at most 1024 characters
      summary: clip(`${f.category} in ${whereText(f)}: ${f.verdict}, ${f.actions.map((a) => `${a.type} ${a.status}`).join(', ') || 'no action'}`, 1024),
      source: clip(f.cluster ?? f.project, 255),
      severity: pagerDutySeverity(f.severity),
      timestamp: f.eventTime,
      component: clip(f.pod ?? 'unknown-pod', 255),
      group: clip(f.namespace ?? 'unknown-namespace', 255),
      class: clip(f.category, 255),
      custom_details: {
        finding: f.findingName,
        binary: f.binary?.path ?? null,
        sha256: f.binary?.sha256 ?? null,
        hashVerdict: f.hashVerdict,
        rule: f.rule,
        mode: f.mode,
        verdict: f.verdict,
        actions: actionLines(f),
        runId: f.runId,
        ...(f.pending ? { pending: f.pending } : {}),
      },
    },
    links: f.links.map((l) => ({ href: l.url, text: l.title })),
    client: 'scc-container-responder',
  };
}

export function pagerDutyResolve(f: NotificationFacts, routingKey: string): PagerDutyEvent {
  return { routing_key: routingKey, event_action: 'resolve', dedup_key: f.findingName.slice(0, 255) };
}
