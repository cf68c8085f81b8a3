// SCC's gRPC answer (as google-gax decodes it: camelCase, enums and int64 as strings, every
// field present with its default, Timestamp as {seconds, nanos}, `sourceProperties` as a map of protobuf Values) turned
// into the NotificationMessage's JSON shape, so the one decoder (toIncident) reads SCC's copy
// exactly as it reads a message. Pure: no client library here.

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** google.protobuf.Timestamp -> RFC 3339 (the proto3 JSON form). */
function timestamp(v: Record<string, unknown>): string | undefined {
  const seconds = Number(v['seconds'] ?? 0);
  const nanos = Number(v['nanos'] ?? 0);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return undefined;
  const ms = seconds * 1000 + Math.floor(nanos / 1e6);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function isTimestamp(v: Record<string, unknown>): boolean {
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k === 'seconds' || k === 'nanos');
}

/** google.protobuf.Value -> JSON. */
function structValue(v: unknown): Json {
  if (!isRecord(v)) return null;
  const kind = typeof v['kind'] === 'string' ? v['kind'] : Object.keys(v).find((k) => k.endsWith('Value') && v[k] !== undefined && v[k] !== null);
  switch (kind) {
    case 'stringValue':
      return String(v['stringValue'] ?? '');
    case 'numberValue':
      return Number(v['numberValue'] ?? 0);
    case 'boolValue':
      return v['boolValue'] === true;
    case 'structValue':
      return struct(v['structValue']);
    case 'listValue': {
      const values = isRecord(v['listValue']) ? v['listValue']['values'] : undefined;
      return Array.isArray(values) ? values.map(structValue) : [];
    }
    default:
      return null;
  }
}

/** google.protobuf.Struct -> JSON object. */
function struct(v: unknown): { [key: string]: Json } {
  const fields = isRecord(v) && isRecord(v['fields']) ? v['fields'] : {};
  return Object.fromEntries(Object.entries(fields).map(([k, value]) => [k, structValue(value)]));
}

/**
 * Drops what proto3 defaults add (empty strings, empty lists and objects, nulls, oneof
 * discriminators), converts Timestamps and the `sourceProperties` Values.
 */
export function protoToJson(value: unknown, key = ''): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) {
    const items = value.map((v) => protoToJson(v)).filter((v): v is Json => v !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (!isRecord(value)) return undefined;
  // `map<string, google.protobuf.Value>` in both versions (not a Struct).
  if (key === 'sourceProperties') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structValue(v)]));
  if (isTimestamp(value)) return timestamp(value);
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    const j = protoToJson(v, k);
    if (j !== undefined) out[k] = j;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * One ListFindingsResult -> `{ finding, resource }` in the NotificationMessage's shape. v1's
 * list result names its resource fields `projectName`/`parentName`; the message says
 * `project`/`parent` (v2 already does).
 */
export function listResultToNotification(result: unknown): { finding: Record<string, unknown>; resource?: Record<string, unknown> } | null {
  if (!isRecord(result)) return null;
  const finding = protoToJson(result['finding']);
  if (!isRecord(finding)) return null;
  const resource = protoToJson(result['resource']);
  if (!isRecord(resource)) return { finding };
  const { projectName, parentName, ...rest } = resource;
  return {
    finding,
    resource: {
      ...rest,
      ...(projectName === undefined || 'project' in rest ? {} : { project: projectName }),
      ...(parentName === undefined || 'parent' in rest ? {} : { parent: parentName }),
    },
  };
}
