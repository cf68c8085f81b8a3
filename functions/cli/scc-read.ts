// The finding reader shared by `policy backtest` and `backfill`: lists the organization's
// findings through the SCC adapter and reads each one exactly as the function would, by
// decoding the notification JSON with the function's own decoder (decodeMessage, toIncident)
// and deciding with decide(). Progress and throttling go to stderr.
import type { Policy } from '../../shared/policy/schema.js';
import type { Decision } from '../../shared/policy/types.js';
import type { Incident } from '../../shared/finding/types.js';
import { decodeMessage } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import { decide } from '../../shared/policy/decide.js';
import { isHandled } from '../../shared/record/marks.js';
import { listOrganizationFindings, type ListedFinding, type SccApiVersion } from '../../shared/gcp/scc-findings-list.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';

export type ReadFinding =
  | { ok: true; listed: ListedFinding; incident: Incident; decision: Decision; handled: boolean }
  | { ok: false; listed: ListedFinding; name: string; error: string };

export interface ReadOptions {
  organization: string;
  version: SccApiVersion;
  filter: string;
  policy: Policy;
  pageSize?: number;
  clientOptions?: SecurityCenterClientOptions;
  backoffMs?: number;
  /** Progress and throttling lines. */
  stderr: (s: string) => void;
}

/** Every listed finding, decoded and decided. Throws (with context) when SCC cannot be read. */
export async function* readFindings(o: ReadOptions): AsyncGenerator<ReadFinding> {
  const started = Date.now();
  for await (const listed of listOrganizationFindings({
    organization: o.organization,
    version: o.version,
    filter: o.filter,
    ...(o.pageSize === undefined ? {} : { pageSize: o.pageSize }),
    ...(o.clientOptions === undefined ? {} : { clientOptions: o.clientOptions }),
    ...(o.backoffMs === undefined ? {} : { backoffMs: o.backoffMs }),
    onPage: (pages, results) => o.stderr(`scc-responder: page ${pages}: ${results} findings read (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
    onRetry: (attempt, ms, reason) => o.stderr(`scc-responder: SCC throttled or unavailable (${reason}): retry ${attempt} in ${(ms / 1000).toFixed(1)} s\n`),
  })) {
    const decoded = decodeMessage(JSON.stringify(listed.notification));
    const built = decoded.ok ? toIncident(decoded.message) : undefined;
    const name = String(listed.notification.finding['name'] ?? '?');
    if (!decoded.ok) yield { ok: false, listed, name, error: decoded.error.message };
    else if (!built?.ok) yield { ok: false, listed, name, error: built ? built.error.message : 'unreadable' };
    else yield { ok: true, listed, incident: built.incident, decision: decide(built.incident, o.policy), handled: isHandled(built.incident.securityMarks) };
  }
}

const SINCE = /^(\d{1,5})([dhm])$/;

/** `30d`, `12h`, `90m` before `now`, or an RFC 3339 instant. */
export function parseSince(value: string, now: Date): Date | undefined {
  const m = SINCE.exec(value);
  if (m) {
    const unit = m[2] === 'd' ? 86_400_000 : m[2] === 'h' ? 3_600_000 : 60_000;
    return new Date(now.getTime() - Number(m[1]) * unit);
  }
  const t = Date.parse(value);
  return /^\d{4}-\d{2}-\d{2}T/.test(value) && Number.isFinite(t) ? new Date(t) : undefined;
}
