// `scc-responder policy backtest POLICY --organization ORG`: reads the organization's findings
// of the policy's categories from SCC (the filter Terraform deploys, every state, no mark
// clause: handled findings are shown as such) and prints, per finding, what the policy decides
// and which guards pass or refuse from the finding alone; then the summary. Read-only.
import type { Policy } from '../../shared/policy/schema.js';
import { sccFindingFilter } from '../../shared/policy/scc-filter.js';
import { BacktestAccumulator, backtestRow } from '../../shared/contain/backtest.js';
import type { SccApiVersion } from '../../shared/gcp/scc-findings-list.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';
import { readFindings } from './scc-read.js';
import { renderRow, renderSummary, rowHeader, type BacktestFormat } from './backtest-render.js';

export interface BacktestCommand {
  policy: Policy;
  policySource: string;
  organization: string;
  version: SccApiVersion;
  since?: Date;
  /** An extra SCC filter expression, ANDed. */
  filter?: string;
  format: BacktestFormat;
  pageSize?: number;
  clientOptions?: SecurityCenterClientOptions;
  backoffMs?: number;
}

export function backtestFilter(c: Pick<BacktestCommand, 'policy' | 'since' | 'filter'>): string {
  const base = sccFindingFilter(c.policy, { state: 'any', excludeHandled: false, ...(c.since ? { since: c.since } : {}) });
  return c.filter ? `${base} AND (${c.filter})` : base;
}

export interface BacktestOutcome {
  findings: number;
  rejected: number;
  seconds: number;
}

export async function runBacktest(c: BacktestCommand, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<BacktestOutcome> {
  const started = process.hrtime.bigint();
  const acc = new BacktestAccumulator();
  let rejected = 0;
  io.stdout(rowHeader(c.format));
  for await (const r of readFindings({ ...c, filter: backtestFilter(c), stderr: io.stderr })) {
    if (!r.ok) {
      rejected += 1;
      io.stderr(`scc-responder: ${r.name}: rejected by the decoder: ${r.error}\n`);
      continue;
    }
    const row = backtestRow(r.incident, r.decision, r.handled, { protectedNamespaces: c.policy.protectedNamespaces });
    acc.add(row);
    io.stdout(renderRow(row, c.format));
  }
  const summary = acc.summary();
  const title = `Backtest of ${c.policySource} over organization ${c.organization} (SCC ${c.version}${c.since ? `, since ${c.since.toISOString()}` : ''})`;
  // CSV stays one table on stdout: its summary goes to stderr as text.
  if (c.format === 'csv') io.stderr(renderSummary(summary, { title, rejected }, 'text'));
  else io.stdout(renderSummary(summary, { title, rejected }, c.format));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { findings: summary.findings + rejected, rejected, seconds };
}
