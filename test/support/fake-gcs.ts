// A small Cloud Storage JSON API fake over plain HTTP, enough for @google-cloud/storage used as
// `new Storage({ apiEndpoint: fake.url, projectId })` (no auth header is sent):
//   - simple (multipart/related) uploads and resumable uploads (POST -> Location session; PUT
//     chunks answered 308 with Range; the last PUT answered 200 with the object; `bytes */*`
//     status queries), with `ifGenerationMatch` checked at session start and at finalisation;
//   - object metadata GET / PATCH (`ifMetagenerationMatch`), media GET (`alt=media`), list with
//     prefix and paging, DELETE;
//   - object resources carry correct base64 `crc32c` and `md5Hash` (the client validates them);
//   - like the service: only buckets that exist (given at start or created) are served, any
//     other bucket answers 404; a resumable upload's non-final chunks must be multiples of
//     256 KiB (400 otherwise).
// Bodies are streamed to temp files, never held in memory (tests upload 64-256 MiB).
// IAM (option `iam`): when given the roles the caller holds on the bucket, every request is
// checked against the permissions those roles carry (STORAGE_ROLE_PERMISSIONS, Cloud Storage's
// predefined roles) and answered 403 `forbidden` like Cloud Storage when one is missing; a
// resumable session's chunks are covered by the create checked at its start.
// Faults (FaultPlan) are keyed `${METHOD} ${path}`, e.g. `PUT /upload/storage/v1/b/B/o` or
// `POST /upload/storage/v1/b/B/o`: status (500/503/429/...), delayMs, release, hang, drop (+dropAfterBytes
// of the request body read before the socket is destroyed).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C } from '@google-cloud/storage';
import { FaultPlan, sleep, type Fault } from './faults.js';

export interface FakeGcsObject {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  contentType: string;
  metadata: Record<string, string>;
  crc32c: string;
  md5Hash: string;
  timeCreated: string;
  updated: string;
  /** Temp file holding the bytes. */
  file: string;
}

interface Session {
  id: string;
  bucket: string;
  name: string;
  resource: Record<string, unknown>;
  ifGenerationMatch?: number;
  file: string;
  received: number;
  finalised?: FakeGcsObject;
  crc: CRC32C;
  md5: ReturnType<typeof createHash>;
}

/** Object permissions of Cloud Storage's predefined roles (bucket-level grants). */
export const STORAGE_ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'roles/storage.objectCreator': ['storage.objects.create'],
  'roles/storage.objectViewer': ['storage.objects.get', 'storage.objects.list'],
  'roles/storage.objectUser': ['storage.objects.create', 'storage.objects.delete', 'storage.objects.get', 'storage.objects.list', 'storage.objects.update'],
  'roles/storage.objectAdmin': ['storage.objects.create', 'storage.objects.delete', 'storage.objects.get', 'storage.objects.list', 'storage.objects.update'],
};

export interface FakeGcsIam {
  /** Roles the caller holds on the bucket (unknown roles grant nothing). */
  roles: readonly string[];
  /** Named in 403 messages, like the real service names the principal. */
  principal?: string;
  /**
   * An IAM Condition on the bindings (`resource.name` based, as Cloud Storage supports): a
   * permission the roles carry is granted only where this returns true. Settable later with
   * `setIamCondition` (tests that need one object refused without touching the others).
   */
  condition?: (permission: string, objectName: string) => boolean;
}

/** The permission a request needs, or undefined (a resumable chunk: authorised at the session's start). */
export function permissionFor(method: string, path: string): string | undefined {
  if (/^\/upload\/storage\/v1\/b\/[^/]+\/o$/.test(path)) return method === 'POST' ? 'storage.objects.create' : undefined;
  if (/^\/storage\/v1\/b\/[^/]+\/o$/.test(path)) return method === 'GET' ? 'storage.objects.list' : 'storage.objects.create';
  if (/^\/(?:storage\/v1|download\/storage\/v1)\/b\/[^/]+\/o\/.+$/.test(path)) {
    if (method === 'GET') return 'storage.objects.get';
    if (method === 'PATCH' || method === 'PUT') return 'storage.objects.update';
    if (method === 'DELETE') return 'storage.objects.delete';
  }
  return undefined;
}

/** The object name of an upload (`POST /upload/...?name=`), from the query a fault or call record carries. */
export function uploadNameOf(detail: unknown): string {
  return new URLSearchParams((detail as { query?: string } | undefined)?.query ?? '').get('name') ?? '';
}

/** A fault's `where`: an upload whose object name ends with `suffix` (e.g. `/volatile.json`). */
export const uploadNamed = (suffix: string) => (detail: unknown): boolean => uploadNameOf(detail).endsWith(suffix);

/** A call record (FaultPlan.calls) of an upload whose object name ends with `suffix`. */
export const isUploadNamed = (suffix: string) => (c: { key: string; detail?: unknown }): boolean => c.key.startsWith('POST /upload/') && uploadNameOf(c.detail).endsWith(suffix);

export interface FakeGcsRequest {
  method: string;
  path: string;
  query: string;
  at: number;
  /** The answer's HTTP status, once sent. */
  status?: number;
}

export interface FakeGcs {
  /** `http://127.0.0.1:PORT` for `new Storage({ apiEndpoint })`. */
  url: string;
  faults: FaultPlan;
  requests: FakeGcsRequest[];
  /** Requests refused by the IAM check, in order. */
  denied: { method: string; path: string; permission: string; object: string }[];
  /** Replaces the IAM Condition (undefined: none). Only with the `iam` option. */
  setIamCondition(condition: FakeGcsIam['condition']): void;
  /** Objects (all buckets, or one), in creation order. */
  objects(bucket?: string): FakeGcsObject[];
  object(bucket: string, name: string): FakeGcsObject | undefined;
  /** Bytes of an object (tests only read small ones this way; use `objectFile` for big ones). */
  read(bucket: string, name: string): Promise<Buffer>;
  /** Resumable sessions started but never finalised. */
  openSessions(): { bucket: string; name: string; received: number }[];
  /** Creates a bucket (a call to an unknown bucket answers 404, as Cloud Storage does). */
  createBucket(name: string): void;
  /** Seeds an object directly (e.g. a foreign object without our completeness marker). */
  putObject(bucket: string, name: string, data: Buffer, metadata?: Record<string, string>): Promise<FakeGcsObject>;
  close(): Promise<void>;
}

/** Hashes what flows through it the way Cloud Storage reports it. */
class HashTap extends Transform {
  constructor(
    private readonly crc: CRC32C,
    private readonly md5: ReturnType<typeof createHash>,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.crc.update(chunk);
    this.md5.update(chunk);
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

function errorBody(code: number, message: string, reason: string): string {
  return JSON.stringify({ error: { code, message, errors: [{ domain: 'global', reason, message }] } });
}

const REASONS: Record<number, string> = { 400: 'invalid', 403: 'forbidden', 404: 'notFound', 412: 'conditionNotMet', 429: 'rateLimitExceeded', 500: 'backendError', 503: 'backendError' };

/** Resumable uploads: every chunk but the last must be a multiple of this (the JSON API's rule). */
export const RESUMABLE_CHUNK_MULTIPLE = 256 * 1024;

export interface StartFakeGcsOptions {
  tmpDir?: string;
  /** The buckets that exist; any other bucket answers 404. */
  buckets: string[];
  /** The roles the caller holds on the bucket: requests their permissions do not cover answer 403. */
  iam?: FakeGcsIam;
}

export async function startFakeGcs(options: StartFakeGcsOptions): Promise<FakeGcs> {
  const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'fake-gcs-'));
  const buckets = new Set(options.buckets);
  const objects = new Map<string, FakeGcsObject>();
  const sessions = new Map<string, Session>();
  const faults = new FaultPlan();
  const requests: FakeGcsRequest[] = [];
  const denied: FakeGcs['denied'] = [];
  const granted = options.iam === undefined ? undefined : new Set(options.iam.roles.flatMap((r) => STORAGE_ROLE_PERMISSIONS[r] ?? []));
  let condition = options.iam?.condition;
  /** The object a request is about: in the path, or the `name` of an upload or list prefix. */
  const objectNameOf = (path: string, q: URLSearchParams): string => {
    const m = /\/o\/(.+)$/.exec(path);
    return m?.[1] !== undefined ? decodeURIComponent(m[1]) : (q.get('name') ?? q.get('prefix') ?? '');
  };
  let generationCounter = 1_700_000_000_000_000;
  const keyOf = (bucket: string, name: string): string => `${bucket}\u0000${name}`;
  let url = '';

  const resourceOf = (o: FakeGcsObject): Record<string, unknown> => ({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${url}/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}`,
    mediaLink: `${url}/download/storage/v1/b/${o.bucket}/o/${encodeURIComponent(o.name)}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: Buffer.from(`${o.generation}:${o.metageneration}`).toString('base64'),
    timeCreated: o.timeCreated,
    updated: o.updated,
    ...(Object.keys(o.metadata).length > 0 ? { metadata: o.metadata } : {}),
  });

  const send = (res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };
  const sendError = (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void =>
    send(res, status, errorBody(status, message, REASONS[status] ?? 'error'), headers);

  const preconditionFails = (bucket: string, name: string, ifGenerationMatch: number | undefined): boolean => {
    if (ifGenerationMatch === undefined) return false;
    const existing = objects.get(keyOf(bucket, name));
    return ifGenerationMatch === 0 ? existing !== undefined : existing?.generation !== ifGenerationMatch;
  };

  const stringMap = (v: unknown): Record<string, string> => {
    const out: Record<string, string> = {};
    if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
    return out;
  };

  /**
   * Publishes an object, atomically with its precondition check (no await in between), the way
   * Cloud Storage decides concurrent create-only writes. Returns undefined on a failed precondition.
   */
  const commitObject = async (bucket: string, name: string, file: string, size: number, crc: CRC32C, md5: ReturnType<typeof createHash>, resource: Record<string, unknown>, ifGenerationMatch?: number): Promise<FakeGcsObject | undefined> => {
    if (preconditionFails(bucket, name, ifGenerationMatch)) {
      await unlink(file).catch(() => undefined);
      return undefined;
    }
    const now = new Date().toISOString();
    const old = objects.get(keyOf(bucket, name));
    if (old) void unlink(old.file).catch(() => undefined);
    generationCounter += 1;
    const o: FakeGcsObject = {
      bucket,
      name,
      generation: generationCounter,
      metageneration: 1,
      size,
      contentType: typeof resource['contentType'] === 'string' ? resource['contentType'] : 'application/octet-stream',
      metadata: stringMap(resource['metadata']),
      crc32c: crc.toString(),
      md5Hash: md5.digest('base64'),
      timeCreated: now,
      updated: now,
      file,
    };
    objects.set(keyOf(bucket, name), o);
    return o;
  };

  /** Streams the request body into `file` (appending), optionally dropping the socket after `dropAfter` bytes. */
  const receiveBody = async (req: http.IncomingMessage, file: string, tap: Transform, dropAfter?: number): Promise<void> => {
    const out = createWriteStream(file, { flags: 'a' });
    if (dropAfter === undefined) {
      await pipeline(req, tap, out);
      return;
    }
    let seen = 0;
    const cutter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        const room = dropAfter - seen;
        seen += chunk.length;
        if (chunk.length >= room) {
          cb(null, chunk.subarray(0, Math.max(0, room)));
          req.socket.destroy();
          this.destroy(new Error('fake-gcs: dropped mid-upload'));
          return;
        }
        cb(null, chunk);
      },
    });
    await pipeline(req, cutter, tap, out);
  };

  const handleMultipart = async (req: http.IncomingMessage, res: http.ServerResponse, bucket: string, q: URLSearchParams, fault: Fault | undefined): Promise<void> => {
    const boundary = /boundary=("?)([^";]+)\1/.exec(req.headers['content-type'] ?? '')?.[2];
    if (!boundary) return sendError(res, 400, 'multipart upload without boundary');
    const raw = join(dir, `mp-${randomUUID()}`);
    try {
      await receiveBody(req, raw, new Transform({ transform: (c, _e, cb) => cb(null, c) }), fault?.drop ? (fault.dropAfterBytes ?? 0) : undefined);
    } catch {
      await unlink(raw).catch(() => undefined);
      return; // connection is gone
    }
    try {
      const total = (await stat(raw)).size;
      const fh = await open(raw, 'r');
      const headLen = Math.min(total, 1024 * 1024);
      const head = Buffer.alloc(headLen);
      await fh.read(head, 0, headLen, 0);
      const tailLen = Math.min(total, 4096);
      const tail = Buffer.alloc(tailLen);
      await fh.read(tail, 0, tailLen, total - tailLen);
      await fh.close();
      const delim = Buffer.from(`--${boundary}`);
      const first = head.indexOf(delim);
      const metaStart = head.indexOf('\r\n\r\n', first) + 4;
      const second = head.indexOf(Buffer.from(`\r\n--${boundary}`), metaStart);
      if (first < 0 || metaStart < 4 || second < 0) throw new Error('malformed multipart head');
      const resource = JSON.parse(head.subarray(metaStart, second).toString('utf8')) as Record<string, unknown>;
      const mediaStart = head.indexOf('\r\n\r\n', second + 2) + 4;
      const finale = tail.lastIndexOf(Buffer.from(`\r\n--${boundary}--`));
      if (mediaStart < 4 || finale < 0) throw new Error('malformed multipart body');
      const mediaEnd = total - tailLen + finale;
      const name = q.get('name') ?? (typeof resource['name'] === 'string' ? resource['name'] : undefined);
      if (!name) return sendError(res, 400, 'object name missing');
      const igm = q.get('ifGenerationMatch');
      if (preconditionFails(bucket, name, igm === null ? undefined : Number(igm))) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
      const file = join(dir, `obj-${randomUUID()}`);
      const crc = new CRC32C();
      const md5 = createHash('md5');
      let size = 0;
      if (mediaEnd > mediaStart) {
        await pipeline(createReadStream(raw, { start: mediaStart, end: mediaEnd - 1 }), new HashTap(crc, md5, (n) => (size += n)), createWriteStream(file));
      } else {
        await (await open(file, 'w')).close();
      }
      const o = await commitObject(bucket, name, file, size, crc, md5, resource, igm === null ? undefined : Number(igm));
      if (!o) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
      send(res, 200, resourceOf(o));
    } catch (err) {
      sendError(res, 400, `fake-gcs: ${(err as Error).message}`);
    } finally {
      await unlink(raw).catch(() => undefined);
    }
  };

  const startResumable = async (req: http.IncomingMessage, res: http.ServerResponse, bucket: string, q: URLSearchParams): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const resource = text.trim() === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    const name = q.get('name') ?? (typeof resource['name'] === 'string' ? resource['name'] : undefined);
    if (!name) return sendError(res, 400, 'object name missing');
    const igmText = q.get('ifGenerationMatch');
    const ifGenerationMatch = igmText === null ? undefined : Number(igmText);
    if (preconditionFails(bucket, name, ifGenerationMatch)) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
    const contentType = req.headers['x-upload-content-type'];
    if (typeof contentType === 'string' && resource['contentType'] === undefined) resource['contentType'] = contentType;
    const id = randomBytes(12).toString('hex');
    const file = join(dir, `session-${id}`);
    await (await open(file, 'w')).close();
    sessions.set(id, { id, bucket, name, resource, ...(ifGenerationMatch === undefined ? {} : { ifGenerationMatch }), file, received: 0, crc: new CRC32C(), md5: createHash('md5') });
    send(res, 200, {}, { location: `${url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}` });
  };

  const rangeHeader = (s: Session): Record<string, string> => (s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {});

  const finalise = async (s: Session, res: http.ServerResponse): Promise<void> => {
    const o = await commitObject(s.bucket, s.name, s.file, s.received, s.crc, s.md5, s.resource, s.ifGenerationMatch);
    if (!o) {
      sessions.delete(s.id);
      return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
    }
    s.finalised = o;
    send(res, 200, resourceOf(o));
  };

  const putResumable = async (req: http.IncomingMessage, res: http.ServerResponse, q: URLSearchParams, fault: Fault | undefined): Promise<void> => {
    const s = sessions.get(q.get('upload_id') ?? '');
    if (!s) {
      req.resume();
      return sendError(res, 404, 'No such upload session');
    }
    const cr = req.headers['content-range'] ?? '';
    if (s.finalised) {
      req.resume();
      return send(res, 200, resourceOf(s.finalised));
    }
    // Status query: `bytes */*` or `bytes */N`.
    const query = /^bytes \*\/(\*|\d+)$/.exec(cr);
    if (query) {
      req.resume();
      if (query[1] !== '*' && Number(query[1]) === s.received) return finalise(s, res);
      return send(res, 308, '', rangeHeader(s));
    }
    const m = /^bytes (\d+)-(\*|-?\d+)\/(\*|\d+|undefined)$/.exec(cr);
    if (!m) {
      req.resume();
      return sendError(res, 400, `bad Content-Range ${JSON.stringify(cr)}`);
    }
    const start = Number(m[1]);
    const total = m[3] === '*' || m[3] === 'undefined' ? undefined : Number(m[3]);
    const last = m[2] === '*' ? undefined : Number(m[2]);
    const isFinal = m[2] === '*' || (total !== undefined && last !== undefined && last + 1 >= total);
    if (!isFinal && last !== undefined && (last - start + 1) % RESUMABLE_CHUNK_MULTIPLE !== 0) {
      req.resume();
      const n = last - start + 1;
      return sendError(res, 400, `Invalid request. The number of bytes uploaded is required to be a multiple of ${RESUMABLE_CHUNK_MULTIPLE} bytes, except for the final request. The received request contained ${n} bytes, which does not meet this requirement.`);
    }
    if (start > s.received) {
      req.resume();
      return sendError(res, 400, `chunk starts at ${start} but only ${s.received} bytes were received`);
    }
    // Receive into a chunk file first: a chunk cut by a dropped connection is not kept.
    const chunkFile = `${s.file}.chunk-${randomUUID()}`;
    const crcChunk = new CRC32C();
    const md5Chunk = createHash('md5');
    let got = 0;
    try {
      await receiveBody(req, chunkFile, new HashTap(crcChunk, md5Chunk, (n) => (got += n)), fault?.drop ? (fault.dropAfterBytes ?? 0) : undefined);
    } catch {
      await unlink(chunkFile).catch(() => undefined);
      if (m[2] === '*') {
        // Single-request upload: what arrived before the drop is persisted (like GCS does).
        return;
      }
      return;
    }
    // Append the part of the chunk we do not have yet.
    const skip = s.received - start;
    if (got > skip) {
      await pipeline(
        createReadStream(chunkFile, { start: skip }),
        new HashTap(s.crc, s.md5, (n) => (s.received += n)),
        createWriteStream(s.file, { flags: 'a' }),
      );
    }
    await unlink(chunkFile).catch(() => undefined);
    const finalTotal = m[2] === '*' ? (total ?? s.received) : total;
    if (finalTotal !== undefined && s.received >= finalTotal) return finalise(s, res);
    send(res, 308, '', rangeHeader(s));
  };

  const objectPath = /^\/(?:storage\/v1|download\/storage\/v1)\/b\/([^/]+)\/o\/(.+)$/;

  const server = http.createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const path = u.pathname;
      const q = u.searchParams;
      const method = req.method ?? 'GET';
      const logged: FakeGcsRequest = { method, path, query: u.search, at: Date.now() };
      requests.push(logged);
      res.once('finish', () => {
        logged.status = res.statusCode;
      });
      const key = `${method} ${path}`;
      const fault = faults.take(key, { query: u.search });
      const done = faults.record(key, fault, { query: u.search });
      try {
        const delay = (fault?.delayMs ?? 0) + faults.latencyMs;
        if (delay > 0) await sleep(delay);
        if (fault?.release) await fault.release.catch(() => undefined);
        if (fault?.hang) {
          req.resume();
          return; // never answered
        }
        if (fault?.status !== undefined) {
          req.resume();
          return sendError(res, fault.status, fault.message ?? `fake-gcs: injected ${fault.status}`, fault.retryAfter ? { 'retry-after': String(fault.retryAfter) } : {});
        }
        if (fault?.drop && !(method === 'PUT' || method === 'POST')) {
          req.socket.destroy();
          return;
        }
        const bucketInPath = /^\/(?:upload\/|download\/)?storage\/v1\/b\/([^/]+)(?:\/|$)/.exec(path)?.[1];
        if (bucketInPath !== undefined && !buckets.has(decodeURIComponent(bucketInPath))) {
          req.resume();
          return sendError(res, 404, 'The specified bucket does not exist.');
        }
        const permission = granted === undefined ? undefined : permissionFor(method, path);
        const object = objectNameOf(path, q);
        if (granted !== undefined && permission !== undefined && (!granted.has(permission) || (condition !== undefined && !condition(permission, object)))) {
          req.resume();
          denied.push({ method, path, permission, object });
          const who = options.iam?.principal ?? 'scc-responder@project.iam.gserviceaccount.com';
          return sendError(res, 403, `${who} does not have ${permission} access to the Google Cloud Storage object. Permission '${permission}' denied on resource (or it may not exist).`);
        }
        const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
        if (upload) {
          const bucket = decodeURIComponent(upload[1] as string);
          if (method === 'POST' && q.get('uploadType') === 'multipart') return await handleMultipart(req, res, bucket, q, fault);
          if (method === 'POST' && q.get('uploadType') === 'resumable') return await startResumable(req, res, bucket, q);
          if (method === 'PUT' && q.has('upload_id')) return await putResumable(req, res, q, fault);
          req.resume();
          return sendError(res, 400, `unsupported upload ${method} ${u.search}`);
        }
        const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
        if (list && method === 'GET') {
          const bucket = decodeURIComponent(list[1] as string);
          const prefix = q.get('prefix') ?? '';
          const all = [...objects.values()].filter((o) => o.bucket === bucket && o.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : 1));
          const startAt = Number(q.get('pageToken') ?? '0');
          const max = Number(q.get('maxResults') ?? '1000');
          const page = all.slice(startAt, startAt + max);
          const next = startAt + max < all.length ? String(startAt + max) : undefined;
          // A partial response, as Cloud Storage gives for `fields=items(a,b),nextPageToken`.
          const itemFields = /(?:^|,)items\(([^)]*)\)/.exec(q.get('fields') ?? '')?.[1]?.split(',');
          const items = page.map((o) => {
            const r = resourceOf(o) as Record<string, unknown>;
            return itemFields === undefined ? r : Object.fromEntries(itemFields.filter((f) => f in r).map((f) => [f, r[f]]));
          });
          return send(res, 200, { kind: 'storage#objects', items, ...(next ? { nextPageToken: next } : {}) });
        }
        const obj = objectPath.exec(path);
        if (obj) {
          const bucket = decodeURIComponent(obj[1] as string);
          const name = decodeURIComponent(obj[2] as string);
          const o = objects.get(keyOf(bucket, name));
          if (method === 'GET') {
            req.resume();
            if (!o) return sendError(res, 404, `No such object: ${bucket}/${name}`);
            if (q.get('alt') === 'media') {
              res.writeHead(200, {
                'content-type': o.contentType,
                'content-length': String(o.size),
                'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
                'x-goog-generation': String(o.generation),
                'x-goog-stored-content-length': String(o.size),
              });
              await pipeline(createReadStream(o.file), res).catch(() => undefined);
              return;
            }
            return send(res, 200, resourceOf(o));
          }
          if (method === 'PATCH') {
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            if (!o) return sendError(res, 404, `No such object: ${bucket}/${name}`);
            const imm = q.get('ifMetagenerationMatch');
            if (imm !== null && Number(imm) !== o.metageneration) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
            const patch = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
            if (typeof patch['metadata'] === 'object' && patch['metadata'] !== null) {
              for (const [k, v] of Object.entries(patch['metadata'] as Record<string, unknown>)) {
                if (v === null) delete o.metadata[k];
                else o.metadata[k] = String(v);
              }
            }
            if (typeof patch['contentType'] === 'string') o.contentType = patch['contentType'];
            o.metageneration += 1;
            o.updated = new Date().toISOString();
            return send(res, 200, resourceOf(o));
          }
          if (method === 'DELETE') {
            req.resume();
            if (!o) return sendError(res, 404, `No such object: ${bucket}/${name}`);
            const igm = q.get('ifGenerationMatch');
            if (igm !== null && Number(igm) !== o.generation) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
            objects.delete(keyOf(bucket, name));
            await unlink(o.file).catch(() => undefined);
            res.writeHead(204);
            res.end();
            return;
          }
        }
        req.resume();
        sendError(res, 404, `fake-gcs: no route for ${method} ${path}`);
      } catch (err) {
        if (!res.headersSent) sendError(res, 500, `fake-gcs internal error: ${(err as Error).message}`);
        else res.destroy();
      } finally {
        done();
      }
    })();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    faults,
    requests,
    createBucket: (name) => void buckets.add(name),
    denied,
    setIamCondition: (c) => {
      if (granted === undefined) throw new Error('fake-gcs: setIamCondition needs the iam option');
      condition = c;
    },
    objects: (bucket) => [...objects.values()].filter((o) => bucket === undefined || o.bucket === bucket),
    object: (bucket, name) => objects.get(keyOf(bucket, name)),
    read: async (bucket, name) => {
      const o = objects.get(keyOf(bucket, name));
      if (!o) throw new Error(`fake-gcs: no object ${bucket}/${name}`);
      const chunks: Buffer[] = [];
      for await (const c of createReadStream(o.file)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    openSessions: () => [...sessions.values()].filter((s) => !s.finalised).map((s) => ({ bucket: s.bucket, name: s.name, received: s.received })),
    putObject: async (bucket, name, data, metadata = {}) => {
      if (!buckets.has(bucket)) throw new Error(`fake-gcs: no bucket ${bucket} (create it first)`);
      const file = join(dir, `obj-${randomUUID()}`);
      const crc = new CRC32C();
      const md5 = createHash('md5');
      crc.update(data);
      md5.update(data);
      await pipeline(async function* () {
        yield data;
      }, createWriteStream(file));
      const o = await commitObject(bucket, name, file, data.length, crc, md5, { metadata });
      if (!o) throw new Error('fake-gcs: putObject failed');
      return o;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
