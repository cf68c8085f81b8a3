// Reading the parts of a Cloud Logging entry (as @google-cloud/logging returns it) that are
// not plain JSON: protobuf Timestamps and the audit protoPayload (an Any of
// google.cloud.audit.AuditLog). Shared by the playbook's log search and the approval author
// lookup. Pure: no client is constructed here.
import { AUDIT_LOG_TYPE_URL, decodeAuditLog, type AuditLogFields } from './audit-log-proto.js';

export type Rec = Record<string, unknown>;
export const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An entry timestamp (Date, ISO string or protobuf `{ seconds, nanos }`) as ISO, if it is one. */
export function isoOf(t: unknown): string | undefined {
  if (t instanceof Date) return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
  if (typeof t === 'string') return t;
  if (isRec(t) && t['seconds'] !== undefined) {
    const ms = Number(t['seconds']) * 1000 + Number(t['nanos'] ?? 0) / 1e6;
    return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
  }
  return undefined;
}

/** The AuditLog inside a protoPayload Any, or undefined for anything else (or undecodable bytes). */
export function auditOf(payload: unknown): AuditLogFields | undefined {
  if (!isRec(payload)) return undefined;
  const typeUrl = payload['type_url'] ?? payload['typeUrl'];
  const value = payload['value'];
  if (typeUrl !== AUDIT_LOG_TYPE_URL || !(value instanceof Uint8Array)) return undefined;
  try {
    return decodeAuditLog(value);
  } catch {
    return undefined;
  }
}
