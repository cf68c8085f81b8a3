// Turns log entries into what a reviewer reads: counts, first/last lines, a few lines, and
// from the audit log who exec'd into, attached to, debugged, changed or deleted the pod.
// Pure.
import type { LogEntryView, LogQueryName } from '../ports.js';
import type { AuditActor, LogSummary } from './types.js';

export const SUMMARY_LINES = 20;
const LINE_CHARS = 500;

/** Kubernetes audit method (`io.k8s.core.v1.pods.exec.create`) -> the action a human names. */
export function auditAction(method: string): string {
  const m = method.toLowerCase();
  if (/pods\.exec\./.test(m)) return 'exec';
  if (/pods\.attach\./.test(m)) return 'attach';
  if (/pods\.portforward\./.test(m)) return 'portforward';
  if (/pods\.ephemeralcontainers\./.test(m)) return 'debug';
  const verb = /\.(create|update|patch|delete|deletecollection|get|list|watch)$/.exec(m)?.[1];
  if (verb === 'deletecollection') return 'delete';
  return verb ?? 'other';
}

function clip(e: LogEntryView): LogEntryView {
  return e.text.length > LINE_CHARS ? { ...e, text: `${e.text.slice(0, LINE_CHARS)}…` } : e;
}

/** Audit entries about this pod (its resource name ends in /pods/<pod> or a subresource of it). */
function aboutPod(e: LogEntryView, namespace: string | undefined, pod: string | undefined): boolean {
  if (!pod || !e.resourceName) return false;
  const ns = namespace ? `namespaces/${namespace}/` : '';
  return new RegExp(`${ns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}pods/${pod.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|$)`).test(e.resourceName);
}

export function auditActors(entries: LogEntryView[], namespace?: string, pod?: string): AuditActor[] {
  const byKey = new Map<string, AuditActor>();
  for (const e of entries) {
    if (!e.method || !aboutPod(e, namespace, pod)) continue;
    const principal = e.principal ?? 'unknown principal';
    const action = auditAction(e.method);
    const key = `${principal}\u0000${e.method}`;
    const a = byKey.get(key);
    if (a) {
      a.count += 1;
      if (e.timestamp && (!a.firstAt || e.timestamp < a.firstAt)) a.firstAt = e.timestamp;
      if (e.timestamp && (!a.lastAt || e.timestamp > a.lastAt)) a.lastAt = e.timestamp;
    } else {
      byKey.set(key, {
        principal,
        action,
        method: e.method,
        ...(e.resourceName ? { resourceName: e.resourceName } : {}),
        count: 1,
        ...(e.timestamp ? { firstAt: e.timestamp, lastAt: e.timestamp } : {}),
      });
    }
  }
  // Interactive access first (exec/attach/debug), then changes, then reads.
  const rank = (a: string): number => ['exec', 'attach', 'debug', 'portforward', 'delete', 'patch', 'update', 'create'].indexOf(a) >>> 0;
  return [...byKey.values()].sort((x, y) => rank(x.action) - rank(y.action) || (x.firstAt ?? '').localeCompare(y.firstAt ?? ''));
}

export function summariseLogs(
  name: LogQueryName,
  filter: string,
  result: { entries: LogEntryView[]; truncated: boolean },
  pod?: { namespace?: string; name?: string },
): LogSummary {
  const entries = [...result.entries].sort((a, b) => (a.timestamp ?? '').localeCompare(b.timestamp ?? ''));
  const first = entries[0];
  const last = entries.at(-1);
  const summary: LogSummary = {
    name,
    filter,
    count: entries.length,
    truncated: result.truncated,
    ...(first ? { first: clip(first) } : {}),
    ...(last ? { last: clip(last) } : {}),
    lines: entries.slice(0, SUMMARY_LINES).map(clip),
  };
  if (name === 'audit') summary.actors = auditActors(entries, pod?.namespace, pod?.name);
  return summary;
}
