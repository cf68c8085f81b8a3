// `scc-responder backfill --organization ORG --topic TOPIC`: publishes to the findings topic the
// ACTIVE findings that the policy matches and that carry none of our handled marks: the ones
// that existed before the notification config (or were lost in an outage longer than the
// topic's retention). Each goes out as the NotificationMessage JSON SCC itself publishes (v1
// or v2 as the finding names are), so the deployed function handles it with all its guards and
// idempotency. It never touches a cluster. Publishing is paced (`rate` per second).
import type { Policy } from '../../shared/policy/schema.js';
import { sccFindingFilter } from '../../shared/policy/scc-filter.js';
import type { ResultPublisher } from '../../shared/ports.js';
import type { SccApiVersion } from '../../shared/gcp/scc-findings-list.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';
import { readFindings, type ReadFinding } from './scc-read.js';

export interface BackfillCommand {
  policy: Policy;
  organization: string;
  version: SccApiVersion;
  topic: string;
  since?: Date;
  dryRun: boolean;
  /** Messages per second (default 10). */
  rate: number;
  pageSize?: number;
  clientOptions?: SecurityCenterClientOptions;
  backoffMs?: number;
}

export interface BackfillSummary {
  read: number;
  published: number;
  failed: number;
  /** Why the other findings were not published -> count. */
  skipped: Record<string, number>;
}

export function backfillFilter(c: Pick<BackfillCommand, 'policy' | 'since'>): string {
  return sccFindingFilter(c.policy, c.since ? { since: c.since } : {});
}

/** Why a finding is not published, or undefined when it is. The SCC filter already says most of it: checked again, SCC's filter is not ours. */
export function skipReason(r: ReadFinding): string | undefined {
  if (!r.ok) return 'rejected by the decoder';
  if (r.handled) return 'already handled (our marks)';
  if (!r.decision.matched) return r.decision.code ?? 'no rule matched';
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runBackfill(c: BackfillCommand, publisher: ResultPublisher | undefined, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<BackfillSummary> {
  const summary: BackfillSummary = { read: 0, published: 0, failed: 0, skipped: {} };
  const started = Date.now();
  for await (const r of readFindings({ ...c, filter: backfillFilter(c), stderr: io.stderr })) {
    summary.read += 1;
    const reason = skipReason(r);
    const name = r.ok ? r.incident.findingName : r.name;
    if (reason !== undefined) {
      summary.skipped[reason] = (summary.skipped[reason] ?? 0) + 1;
      continue;
    }
    if (c.dryRun || !publisher) {
      io.stdout(`would publish ${name}\n`);
      summary.published += 1;
      continue;
    }
    // Paced: the n-th message not before started + n / rate.
    const due = started + (summary.published * 1000) / c.rate - Date.now();
    if (due > 0) await sleep(due);
    try {
      const id = await publisher.publish(Buffer.from(JSON.stringify(r.listed.notification)), {}, name);
      summary.published += 1;
      io.stdout(`published ${name} (message ${id})\n`);
    } catch (err) {
      summary.failed += 1;
      io.stderr(`scc-responder: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  const skipped = Object.entries(summary.skipped).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  io.stdout(`\n${c.dryRun ? 'Would publish' : 'Published'} ${summary.published} of ${summary.read} findings read to ${c.topic}${summary.failed ? `, ${summary.failed} failed` : ''}; not published: ${skipped}\n`);
  return summary;
}
