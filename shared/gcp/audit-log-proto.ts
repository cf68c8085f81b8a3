// A minimal protobuf wire codec for google.cloud.audit.AuditLog. Cloud Logging returns audit
// entries with `protoPayload` as a google.protobuf.Any whose bytes are an AuditLog, and no
// installed package ships audit_log.proto, so the few fields the report needs (who, what, on
// which resource) are read here by field number. Pure: no client library.

export const AUDIT_LOG_TYPE_URL = 'type.googleapis.com/google.cloud.audit.AuditLog';

export interface AuditLogFields {
  serviceName?: string;
  methodName?: string;
  resourceName?: string;
  principalEmail?: string;
  callerIp?: string;
  userAgent?: string;
  statusCode?: number;
  statusMessage?: string;
}

// Field numbers from google/cloud/audit/audit_log.proto.
const F = { status: 2, authenticationInfo: 3, requestMetadata: 4, serviceName: 7, methodName: 8, resourceName: 11 } as const;
const AUTH = { principalEmail: 1 } as const;
const META = { callerIp: 1, userAgent: 2 } as const;
const STATUS = { code: 1, message: 2 } as const;

interface Field {
  no: number;
  wire: number;
  varint?: number;
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('audit log: truncated varint');
    const b = buf[pos++] ?? 0;
    // Values above 2^53 lose precision; the fields we read are small (lengths, codes).
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
    if (shift > 63) throw new Error('audit log: varint too long');
  }
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (wire) {
      case 0: {
        const [v, p] = readVarint(buf, pos);
        pos = p;
        yield { no, wire, varint: v };
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2: {
        const [len, p] = readVarint(buf, pos);
        if (p + len > buf.length) throw new Error('audit log: truncated field');
        yield { no, wire, bytes: buf.subarray(p, p + len) };
        pos = p + len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`audit log: unsupported wire type ${wire}`);
    }
  }
}

const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

export function decodeAuditLog(buf: Uint8Array): AuditLogFields {
  const out: AuditLogFields = {};
  for (const f of fields(buf)) {
    if (f.bytes === undefined) continue;
    switch (f.no) {
      case F.serviceName: out.serviceName = text(f.bytes); break;
      case F.methodName: out.methodName = text(f.bytes); break;
      case F.resourceName: out.resourceName = text(f.bytes); break;
      case F.authenticationInfo:
        for (const g of fields(f.bytes)) if (g.no === AUTH.principalEmail && g.bytes) out.principalEmail = text(g.bytes);
        break;
      case F.requestMetadata:
        for (const g of fields(f.bytes)) {
          if (g.no === META.callerIp && g.bytes) out.callerIp = text(g.bytes);
          if (g.no === META.userAgent && g.bytes) out.userAgent = text(g.bytes);
        }
        break;
      case F.status:
        for (const g of fields(f.bytes)) {
          if (g.no === STATUS.code && g.varint !== undefined) out.statusCode = g.varint;
          if (g.no === STATUS.message && g.bytes) out.statusMessage = text(g.bytes);
        }
        break;
    }
  }
  return out;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function lenField(no: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(no * 8 + 2), varint(payload.length), payload]);
}

const str = (no: number, s: string | undefined): Buffer => (s === undefined ? Buffer.alloc(0) : lenField(no, Buffer.from(s, 'utf8')));

/** Encodes the same subset (used by the Cloud Logging fake and by tests). */
export function encodeAuditLog(a: AuditLogFields): Buffer {
  const parts: Buffer[] = [];
  if (a.statusCode !== undefined || a.statusMessage !== undefined) {
    parts.push(lenField(F.status, Buffer.concat([a.statusCode ? Buffer.concat([varint(STATUS.code * 8), varint(a.statusCode)]) : Buffer.alloc(0), str(STATUS.message, a.statusMessage)])));
  }
  if (a.principalEmail !== undefined) parts.push(lenField(F.authenticationInfo, str(AUTH.principalEmail, a.principalEmail)));
  if (a.callerIp !== undefined || a.userAgent !== undefined) parts.push(lenField(F.requestMetadata, Buffer.concat([str(META.callerIp, a.callerIp), str(META.userAgent, a.userAgent)])));
  parts.push(str(F.serviceName, a.serviceName), str(F.methodName, a.methodName), str(F.resourceName, a.resourceName));
  return Buffer.concat(parts);
}
