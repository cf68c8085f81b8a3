// Human renderings of a TriageReport: plain text for a terminal and markdown for the report
// object and tickets. JSON output is the report itself. Pure: no I/O.
import type { PlaybookSection } from '../enrich/playbook.js';
import type { TriageReport } from './report.js';
import type { StepResult } from '../common/step.js';

export type OutputFormat = 'text' | 'markdown' | 'json';

// Finding data is attacker-writable (the binary path, arguments, labels, even the category):
// no rendering may let it move the cursor, rewrite the terminal, start a line, a heading or a
// link. Control characters (C0, DEL, C1), Unicode line separators and bidi controls are shown
// as escapes in both renderings.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}` : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** One line of text: every control character and line break shown as an escape. */
export function visibleLine(text: string): string {
  return text.replace(CONTROL_OR_NEWLINE, escapeChar);
}

/** Multi-line text (filters, commands): line breaks kept, every other control character escaped. */
export function visibleBlock(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

interface Line {
  label: string;
  value: string;
}

function headerLines(r: TriageReport): Line[] {
  const i = r.incident;
  const lines: Line[] = [
    { label: 'Finding', value: r.findingName },
    { label: 'Category', value: i.category },
    { label: 'Severity', value: i.severity },
    { label: 'State', value: i.state },
    { label: 'Event time', value: i.eventTime },
  ];
  if (i.cluster) lines.push({ label: 'Cluster', value: `${i.cluster.project}/${i.cluster.location}/${i.cluster.name}` });
  if (i.namespace || i.pod) lines.push({ label: 'Pod', value: `${i.namespace ?? '?'}/${i.pod ?? '?'} (container ${i.container ?? '?'})` });
  const d = r.decision;
  lines.push({
    label: 'Decision',
    value: d.matched
      ? `rule ${d.rule} (${d.mode}); enrich ${d.enrich ? 'yes' : 'no'}, snapshot ${d.snapshot ? 'yes' : 'no'}, actions: ${d.actions.map((a) => a.type).join(', ') || 'none'}${d.requireEvidence ? `, evidence first (${d.evidenceGate})` : ''}`
      : `no rule applies: ${d.reason}`,
  });
  // Where the plan differs from the rule as written (--dry-run, snapshot off, ...): said next to the decision.
  if (d.matched) for (const note of d.notes ?? []) lines.push({ label: 'Note', value: note });
  if (r.confirmation) {
    lines.push({ label: 'SCC', value: r.confirmation.confirmed ? "confirmed: acted on SCC's copy of the finding" : 'NOT CONFIRMED by SCC: acted on the file\'s copy' });
    for (const n of r.confirmation.notes) lines.push({ label: 'SCC note', value: n });
  }
  lines.push({ label: 'Outcome', value: r.outcome.summary });
  return lines;
}

/** Volatile state: where it talked to first (the question a responder asks first), then listeners. */
function volatileLines(e: NonNullable<TriageReport['evidence']>): Line[] {
  const v = e.volatile;
  const out: Line[] = [];
  if (e.collector) {
    out.push({ label: 'Collector', value: e.collector.used ? `${e.collector.container ?? '?'} (${e.collector.image ?? '?'}), runAsUser ${e.collector.runAsUser ?? 'image default'}${e.collector.ptrace ? ', CAP_SYS_PTRACE' : ''}` : `not used: ${e.collector.reason ?? 'off for this rule'}` });
  }
  if (!v) return out;
  for (const r of v.remoteEndpoints) out.push({ label: 'Remote endpoint', value: r });
  out.push({ label: 'Volatile state', value: `${v.uri} (sha256 ${v.sha256}, ${v.bytes} bytes): ${v.processes} processes, suspect pid ${v.suspects.join(', ') || 'none running'}` });
  for (const l of v.listening) out.push({ label: 'Listening', value: l });
  for (const p of v.problems) out.push({ label: 'Not read', value: p });
  return out;
}

function evidenceLines(r: TriageReport): Line[] {
  const e = r.evidence;
  if (!e) return [];
  const withheld = e.withheldByTarget.map((w) => ({ label: 'SIGNIFICANT', value: w }));
  if (e.outcome === 'failed') {
    const out: Line[] = [...withheld, { label: 'Evidence', value: `not collected (${e.failure}, ${e.blame === 'target' ? "the target's doing" : e.blame === 'ours' ? 'our side' : 'nothing to collect'}): ${e.reason}` }, ...volatileLines(e)];
    for (const c of e.manualCommands ?? []) out.push({ label: 'Manual command', value: c });
    return out;
  }
  const m = e.manifest;
  const out: Line[] = [...withheld, { label: 'Evidence', value: `${e.object.uri} (${e.outcome === 'exists' ? 'already stored' : 'stored now'}, ${e.object.size} bytes)` }];
  if (m) {
    out.push({ label: 'Copied with', value: `${m.method} (${m.trust})${m.source ? ` from ${m.source}` : ''}; ${m.explanation}` });
    out.push({ label: 'SHA-256', value: `${m.hashes.sha256} -> ${m.verdict}${m.significant ? ' (SIGNIFICANT)' : ''}${m.counts === false ? `; NOT the evidence: ${m.doesNotCountBecause ?? ''}` : ''}` });
  }
  return [...out, ...volatileLines(e)];
}

function actionLines(r: TriageReport): Line[] {
  return r.actions.map((a) => ({
    label: `Action ${a.type}`,
    value: `${a.status} (${a.mode}): ${a.detail}; guards: ${a.guards.map((g) => `${g.name}=${g.verdict}`).join(', ') || 'none'}`,
  }));
}

/** approve mode: what waits for a person, until when, and the commands; or the decision. */
function approvalLines(r: TriageReport): Line[] {
  const a = r.approval;
  if (!a) return [];
  const what = a.actions.map((x) => x.type).join(', ');
  const out: Line[] = [{ label: 'Approval', value: `${a.status}: ${what} (run ${a.pendingRunId}${a.pod ? `, pod uid ${a.pod.uid}` : ''}), expires ${a.expiresAt}${a.reason ? `; ${a.reason}` : ''}` }];
  if (a.status === 'pending' && a.commands) out.push({ label: 'Approve with', value: a.commands.approve }, { label: 'Deny with', value: a.commands.deny });
  if (a.approvedBy) out.push({ label: 'Approved by', value: a.approvedBy.principal ?? a.approvedBy.lookup });
  return out;
}

function enrichmentLines(r: TriageReport): Line[] {
  const e = r.enrichment;
  if (!e) return [];
  const out: Line[] = [];
  if (e.cluster) out.push({ label: 'Cluster info', value: `version ${e.cluster.currentMasterVersion ?? '?'}, status ${e.cluster.status ?? '?'}, network policy ${e.cluster.networkPolicyEnforced === undefined ? 'unknown' : e.cluster.networkPolicyEnforced ? 'enforced' : 'not enforced'}${e.cluster.controlPlaneEndpoint ? `, control plane via ${e.cluster.controlPlaneEndpoint} endpoint` : ''}${Object.keys(e.cluster.ownerHints).length ? `, owner hints ${JSON.stringify(e.cluster.ownerHints)}` : ''}` });
  if (e.pod) out.push({ label: 'Pod info', value: `uid ${e.pod.uid}, phase ${e.pod.phase ?? '?'}, node ${e.pod.nodeName ?? '?'}, service account ${e.pod.serviceAccountName ?? '?'}` });
  if (e.owners.length > 0) out.push({ label: 'Owner chain', value: e.owners.map((o) => `${o.kind}/${o.name}`).join(' -> ') });
  if (e.node) out.push({ label: 'Node info', value: `${e.node.name}, instance_id ${e.node.instanceId ?? 'unknown'}, ${e.node.unschedulable ? 'cordoned' : 'schedulable'}` });
  return out;
}

function stepRows(steps: readonly StepResult[]): string[][] {
  return steps.map((s) => [s.name, s.status + (s.failure ? ` (${s.failure})` : ''), `${s.durationMs} ms`, s.reason ?? '']);
}

function sectionText(sections: readonly PlaybookSection[]): string[] {
  const out: string[] = [];
  for (const sec of sections) {
    out.push('', `Step ${sec.step}: ${visibleLine(sec.title)}`);
    for (const it of sec.items) {
      const v = visibleBlock(it.value);
      const value = v.includes('\n') ? `\n      ${v.split('\n').join('\n      ')}` : ` ${v}`;
      out.push(`  - ${visibleLine(it.label)}:${value}${it.url && it.url !== it.value ? `\n      ${visibleLine(it.url)}` : ''}${it.source ? `  [${visibleLine(it.source)}]` : ''}`);
    }
  }
  return out;
}

export function renderText(r: TriageReport): string {
  const out: string[] = ['SCC container responder: triage report', ''];
  const all = [...headerLines(r), ...enrichmentLines(r), ...evidenceLines(r), ...actionLines(r), ...approvalLines(r)];
  const width = Math.max(...all.map((l) => l.label.length));
  for (const l of all) out.push(`${visibleLine(l.label).padEnd(width)}  ${visibleLine(l.value)}`);
  out.push(...sectionText(r.playbook.sections));
  if (r.steps.length > 0) {
    out.push('', 'Steps');
    for (const row of stepRows(r.steps).map((cells) => cells.map(visibleLine))) out.push(`  ${row[0]?.padEnd(22)} ${row[1]?.padEnd(20)} ${row[2]?.padStart(8)}  ${row[3]}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Escapes text for a markdown table cell or inline text: markdown punctuation (emphasis,
 * code, links, HTML, tables, headings, lists), control characters, and what GitHub-flavoured
 * markdown would turn into a link by itself (`scheme://`, `www.`, `user@host`).
 */
export function md(text: string): string {
  return visibleLine(text.replace(/[\\`*_{}[\]<>|#!~]/g, (c) => `\\${c}`))
    .replace(/:\/\//g, '\\://')
    .replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}\\.`)
    .replace(/@/g, '\\@');
}

/** A URL safe inside markdown link parentheses (already-encoded URLs stay as they are). */
function mdUrl(url: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are percent-encoded
  return url.replace(/[()\s<>\u0000-\u001f\u007f-\u009f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** A code fence longer than any backtick run in its content, so the content cannot close it. */
export function fence(text: string): string {
  const body = visibleBlock(text);
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(Math.max(3, longest + 1));
  return `${ticks}\n${body}\n${ticks}`;
}

export function renderMarkdown(r: TriageReport): string {
  const out: string[] = [`# Triage: ${md(r.incident.category)}`, ''];
  out.push('| | |', '|---|---|');
  for (const l of [...headerLines(r), ...enrichmentLines(r), ...evidenceLines(r), ...actionLines(r), ...approvalLines(r)]) out.push(`| ${md(l.label)} | ${md(l.value)} |`);
  if (r.approval?.status === 'pending' && r.approval.commands) {
    out.push('', '## Approval', '', `Waiting for a person until ${md(r.approval.expiresAt)}. Approve:`, '', fence(r.approval.commands.approve), '', 'Deny:', '', fence(r.approval.commands.deny));
  }
  for (const sec of r.playbook.sections) {
    out.push('', `## Step ${sec.step}: ${md(sec.title)}`, '');
    for (const it of sec.items) {
      if (it.kind === 'filter' || it.kind === 'command') {
        out.push(`**${md(it.label)}**${it.url ? ` ([open](${mdUrl(it.url)}))` : ''}`, '', fence(it.value), '');
      } else if (it.kind === 'link' && it.url) {
        out.push(`- ${md(it.label)}: [${md(it.value)}](${mdUrl(it.url)})`);
      } else {
        out.push(`- ${md(it.label)}: ${md(it.value)}${it.source ? ` _(from ${md(it.source)})_` : ''}`);
      }
    }
  }
  if (r.steps.length > 0) {
    out.push('', '## Steps', '', '| step | status | duration | reason |', '|---|---|---|---|');
    for (const row of stepRows(r.steps)) out.push(`| ${row.map(md).join(' | ')} |`);
  }
  return `${out.join('\n')}\n`;
}

export function render(r: TriageReport, format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'markdown':
      return renderMarkdown(r);
    case 'text':
      return renderText(r);
  }
}
