// Rendering of `policy backtest`: one entry per finding as it streams (text, markdown table
// row, JSON line or CSV row), then the summary. Nothing is held per finding.
import type { BacktestRow, BacktestSummary } from '../../shared/contain/backtest.js';
import type { GuardPreviewEntry } from '../../shared/contain/explain.js';

export type BacktestFormat = 'text' | 'markdown' | 'json' | 'csv';

function actionsOf(row: BacktestRow): string {
  return row.plan.actions.map((a) => a.action).join(' ') || 'none';
}

function guardsWith(row: BacktestRow, verdict: 'fail' | 'unknown'): string {
  const label = (g: GuardPreviewEntry): string => (verdict === 'unknown' ? `${g.name} (needs ${g.needs ?? 'cluster'})` : `${g.name}${g.effect === 'skip' ? ' (skip)' : ''}${g.live ? ' (live)' : ''}`);
  return [...new Set(row.plan.actions.flatMap((a) => a.guards.filter((g) => g.verdict === verdict).map(label)))].join(' ');
}

/** --live: each live guard's verdict once (`pod-identity=pass require-controller=fail`), for the table formats. */
function liveVerdicts(row: BacktestRow): string {
  const live = row.plan.actions.flatMap((a) => a.guards.filter((g) => g.live === true).map((g) => `${g.name}=${g.effect === 'skip' ? 'skip' : g.verdict}`));
  return [...new Set(live)].join(' ');
}

/** --live: judged, or `not judged: <reason>`; empty when not asked. */
function liveOf(row: BacktestRow): string {
  if (row.live === undefined) return '';
  return row.live.judged ? 'judged' : `not judged: ${row.live.reason}`;
}

function ruleOf(row: BacktestRow): string {
  if (row.handled) return 'handled (our marks: skipped)';
  return row.decision.matched ? row.decision.rule : `no match: ${row.decision.code ?? 'no-match'}`;
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const CSV_COLUMNS = ['finding', 'event_time', 'category', 'severity', 'state', 'namespace', 'pod', 'handled', 'rule', 'mode', 'actions', 'refused_by', 'needs_live', 'live', 'live_verdicts', 'workload'] as const;

export function rowHeader(format: BacktestFormat): string {
  if (format === 'csv') return `${CSV_COLUMNS.join(',')}\n`;
  if (format === 'markdown') return '| finding | event time | namespace/pod | rule | mode | actions | refused by | needs the live pod | live | live verdicts |\n|---|---|---|---|---|---|---|---|---|---|\n';
  return '';
}

export function renderRow(row: BacktestRow, format: BacktestFormat): string {
  const mode = row.decision.matched && !row.handled ? row.decision.mode : '';
  const where = `${row.namespace ?? '?'}/${row.pod ?? '?'}`;
  if (format === 'json') return `${JSON.stringify({ kind: 'finding', ...row })}\n`;
  if (format === 'csv') {
    const cells = [row.finding, row.eventTime, row.category, row.severity, row.state, row.namespace ?? '', row.pod ?? '', String(row.handled), ruleOf(row), mode, actionsOf(row), guardsWith(row, 'fail'), guardsWith(row, 'unknown'), liveOf(row), liveVerdicts(row), row.workload ? `${row.workload.key} (${row.workload.source})` : ''];
    return `${cells.map(csvCell).join(',')}\n`;
  }
  if (format === 'markdown') {
    const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    return `| ${[row.finding, row.eventTime, where, ruleOf(row), mode, actionsOf(row), guardsWith(row, 'fail'), guardsWith(row, 'unknown'), liveOf(row), liveVerdicts(row)].map(cell).join(' | ')} |\n`;
  }
  const head = `\n${row.finding}\n  ${row.eventTime}  ${row.category} (${row.severity}, ${row.state})  ${where}\n`;
  if (row.handled) return `${head}  handled: carries our marks, the function skips it\n`;
  const live = row.live === undefined ? '' : `  live: ${liveOf(row)}\n`;
  return `${head}${live}${row.plan.text.split('\n').map((l) => `  ${l}`).join('\n')}\n`;
}

function table(headers: string[], rows: (string | number)[][], format: 'text' | 'markdown'): string {
  if (rows.length === 0) return format === 'markdown' ? '_none_\n' : '  (none)\n';
  const cells = rows.map((r) => r.map(String));
  if (format === 'markdown') return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...cells.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  return [headers, ...cells].map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd()).join('\n') + '\n';
}

export interface SummaryContext {
  title: string;
  rejected: number;
  /** --live was given: the live sections are shown (empty ones too). */
  live?: boolean;
}

/** Where the per-workload budget's workloads came from; the pod name is a fallback worth saying. */
function workloadLine(s: BacktestSummary): string {
  const w = s.workloadSources;
  const parts = [
    w['live owner chain'] === undefined ? '' : `${w['live owner chain']} from the live owner chain`,
    w['finding labels'] === undefined ? '' : `${w['finding labels']} from the finding's labels`,
    // Said plainly: a guess that can undercount (a bare ReplicaSet's pods each counted alone).
    w['pod name'] === undefined ? '' : `${w['pod name']} from the pod's own name (no owner chain read, no owner label in the finding: each such pod counted as its own workload)`,
  ].filter((p) => p !== '');
  return parts.length === 0 ? '' : `Workloads for maxActionsPerHourPerWorkload: ${parts.join(', ')}\n`;
}

export function renderSummary(s: BacktestSummary, ctx: SummaryContext, format: BacktestFormat): string {
  if (format === 'json') return `${JSON.stringify({ kind: 'summary', title: ctx.title, rejected: ctx.rejected, live: ctx.live === true, ...s })}\n`;
  const f = format === 'markdown' ? 'markdown' : 'text';
  const h = (t: string): string => (f === 'markdown' ? `\n### ${t}\n\n` : `\n${t}\n`);
  const counts = (m: Record<string, number>): [string, number][] => Object.entries(m).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return [
    f === 'markdown' ? `\n## ${ctx.title}\n\n` : `\n${ctx.title}\n`,
    `${s.findings} findings read, ${s.handled} already handled (our marks), ${ctx.rejected} rejected by the decoder\n`,
    h('Findings per rule'), table(['rule', 'findings'], counts(s.byRule), f),
    h('Not handled by any rule'), table(['reason', 'findings'], counts(s.noMatch), f),
    h('Actions planned'), table(['action', 'enforce', 'approve', 'dry-run'], Object.entries(s.actions).sort().map(([a, n]) => [a, n.enforce, n.approve, n.dryRun]), f),
    h(ctx.live ? 'Refused, judged from the finding and, marked (live), on the live pod' : 'Refused, judged from the finding alone'), table(['guard', 'actions'], counts(s.refusals), f),
    ...(ctx.live ? [h('Nothing to do on the live cluster (skipped)'), table(['guard', 'actions'], counts(s.skipped), f), h('Not judged on the live cluster'), table(['reason', 'findings'], counts(s.notJudged), f)] : []),
    h(ctx.live ? 'Not judged: need the snapshot or the shared store (or a live pod that could not be read)' : 'Not judged: need the live pod, the snapshot or the shared store'), table(['guard', 'actions'], counts(s.undecided), f),
    h('Blast-radius limit replayed over event times (UTC hours, as if enforced; narrowest budget first)'),
    workloadLine(s),
    table(['rule', 'scope', 'limit/h', 'hours', 'demanded', 'degraded'], s.limits.map((l) => [l.rule, l.scope, l.limit, l.windows, l.demanded, l.degraded]), f),
  ].join('');
}
