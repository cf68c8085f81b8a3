// `scc-responder policy backtest POLICY --organization ORG`: reads the organization's findings
// of the policy's categories from SCC (the filter Terraform deploys, every state, no mark
// clause: handled findings are shown as such) and prints, per finding, what the policy decides
// and which guards pass or refuse from the finding alone; then the summary. Read-only.
// With --live, the guards that need the live pod are judged on the cluster too, through a
// read-only view (backtest-clusters.ts), at most LIVE_CONCURRENCY findings at a time; the
// rows still come out in SCC's order.
import type { Policy } from '../../shared/policy/schema.js';
import { sccFindingFilter } from '../../shared/policy/scc-filter.js';
import { BacktestAccumulator, backtestRow } from '../../shared/contain/backtest.js';
import type { SccApiVersion } from '../../shared/gcp/scc-findings-list.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';
import { readFindings, type ReadFinding } from './scc-read.js';
import { hasLiveGuards, readLiveFacts, type LiveJudgement } from '../../shared/contain/backtest-live.js';
import type { LiveClusters } from './backtest-clusters.js';
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
  /** --live: read-only cluster access per finding's cluster. */
  live?: LiveClusters;
  /** Per-call deadline of the live reads (default 10 s). */
  liveCallTimeoutMs?: number;
}

/** Pod reads in flight at once with --live (over every cluster). */
export const LIVE_CONCURRENCY = 4;

export function backtestFilter(c: Pick<BacktestCommand, 'policy' | 'since' | 'filter'>): string {
  const base = sccFindingFilter(c.policy, { state: 'any', excludeHandled: false, ...(c.since ? { since: c.since } : {}) });
  return c.filter ? `${base} AND (${c.filter})` : base;
}

export interface BacktestOutcome {
  findings: number;
  rejected: number;
  seconds: number;
  /** --live: findings judged on the live pod, and those that could not be. */
  judged: number;
  notJudged: number;
}

/** The live judgement of one finding (undefined: nothing to judge, or no --live). Never rejects. */
async function judge(r: ReadFinding, c: BacktestCommand): Promise<LiveJudgement | undefined> {
  if (c.live === undefined || !r.ok || !hasLiveGuards(r.incident, r.decision, r.handled) || r.incident.cluster === null) return undefined;
  try {
    const reads = await c.live.reads(r.incident.cluster);
    if (typeof reads === 'string') return { judged: false, reason: reads };
    return await readLiveFacts(reads, r.incident, r.decision, { callTimeoutMs: c.liveCallTimeoutMs ?? 10_000 });
  } catch (err) {
    return { judged: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Each finding with its live judgement, `limit` judgements in flight, in the source's order. */
async function* judged(source: AsyncIterable<ReadFinding>, c: BacktestCommand, limit: number): AsyncGenerator<[ReadFinding, LiveJudgement | undefined]> {
  const pending: Promise<[ReadFinding, LiveJudgement | undefined]>[] = [];
  for await (const r of source) {
    pending.push(judge(r, c).then((j) => [r, j]));
    if (pending.length >= limit) yield await (pending.shift() as Promise<[ReadFinding, LiveJudgement | undefined]>);
  }
  for (const p of pending) yield await p;
}

export async function runBacktest(c: BacktestCommand, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<BacktestOutcome> {
  const started = process.hrtime.bigint();
  const acc = new BacktestAccumulator();
  let rejected = 0;
  let judgedCount = 0;
  let notJudged = 0;
  if (c.live?.note !== undefined) io.stderr(`scc-responder: --live: ${c.live.note}\n`);
  io.stdout(rowHeader(c.format));
  for await (const [r, live] of judged(readFindings({ ...c, filter: backtestFilter(c), stderr: io.stderr }), c, c.live === undefined ? 1 : LIVE_CONCURRENCY)) {
    if (!r.ok) {
      rejected += 1;
      io.stderr(`scc-responder: ${r.name}: rejected by the decoder: ${r.error}\n`);
      continue;
    }
    if (live !== undefined) {
      if (live.judged) judgedCount += 1;
      else notJudged += 1;
    }
    const row = backtestRow(r.incident, r.decision, r.handled, { protectedNamespaces: c.policy.protectedNamespaces, ...(live === undefined ? {} : { live }) });
    acc.add(row);
    io.stdout(renderRow(row, c.format));
  }
  const summary = acc.summary();
  const title = `Backtest of ${c.policySource} over organization ${c.organization} (SCC ${c.version}${c.since ? `, since ${c.since.toISOString()}` : ''}${c.live ? ', live guards judged read-only on the clusters' : ''})`;
  const ctx = { title, rejected, live: c.live !== undefined };
  // CSV stays one table on stdout: its summary goes to stderr as text.
  if (c.format === 'csv') io.stderr(renderSummary(summary, ctx, 'text'));
  else io.stdout(renderSummary(summary, ctx, c.format));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { findings: summary.findings + rejected, rejected, seconds, judged: judgedCount, notJudged };
}
