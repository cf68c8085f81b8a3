// Evidence store on Cloud Storage. Objects are created with `ifGenerationMatch: 0` (create
// only: a second writer gets 412 and is told the object exists; `roles/storage.objectCreator`
// cannot overwrite either). An upload is atomic in Cloud Storage: a resumable session that is
// never finalised, or a multipart request that fails, leaves no object. The body's end is only
// released by the snapshot once the copy is verified, so an object that exists is complete;
// it also carries `scc-complete: true` in the metadata sent with the create, so that objects
// written by anything else (or a partial object from some other tool) never look like ours.
// Metadata is only ever sent with the create: the deployed roles (objectCreator +
// objectViewer, shared/gcp-permissions.ts) have no storage.objects.update, so what is known
// only at the end of a copy (hashes, size, truncation) goes into the manifest, written after.
//
// Loaded lazily by the composition root: importing this module loads @google-cloud/storage.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage, type Bucket, type GetFilesOptions, type StorageOptions } from '@google-cloud/storage';
import type { CreateOptions, EvidenceStore, StoredObject } from '../ports.js';
import { classifyError, isTransientHttp, ResponderError, TimeoutError } from '../common/errors.js';
import { withTimeout } from '../common/time.js';
import { assertSafeKey, assertSafePrefix } from '../ledger/keys.js';
import { META } from '../ledger/layout.js';

const COMPLETE_KEY = META.complete;
/** How long a failed upload waits for the auth client to say why (unmasked). */
const TOKEN_CHECK_MS = 10_000;

export interface GcsEvidenceStoreOptions {
  bucket: string;
  /** Object name prefix without leading/trailing `/` (e.g. `ctd`); '' for none. */
  prefix?: string;
  /** A ready client (tests pass one pointed at the fake), else one is built from storageOptions. */
  storage?: Storage;
  storageOptions?: StorageOptions;
  /** Bodies up to this size go as one multipart request; larger ones resumable (default 4 MiB). */
  simpleUploadMaxBytes?: number;
  /** Resumable chunk size, a multiple of 256 KiB (default 8 MiB): memory held per upload for retries. */
  chunkSizeBytes?: number;
  /** Names per objects.list page in listPages() (default 1000, the API's maximum). */
  listPageSize?: number;
}

interface ObjectResource {
  name?: string;
  size?: string | number;
  generation?: string | number;
  metadata?: Record<string, string | number | boolean | null>;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/**
 * The client's upload errors do not always carry the HTTP status as a number (after retries it
 * is "Retry limit exceeded - status: 500 - {...}"): put it back so the failure is classified
 * right (5xx/429 transient, 4xx permanent) and say which object it was.
 */
function storeError(err: unknown, name: string): Error {
  if (err instanceof ResponderError) return err;
  // Resumable uploads reject with the API's error body itself ({ code, message, errors }), not an Error.
  const bodyMessage = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined;
  const message = err instanceof Error ? err.message : typeof bodyMessage === 'string' ? bodyMessage : String(err);
  const fromText = /\bstatus:? (\d{3})\b/i.exec(message)?.[1];
  const status = statusOf(err) ?? (fromText === undefined ? undefined : Number(fromText));
  const classified = classifyError(err);
  const kind = status !== undefined ? (isTransientHttp(status) ? 'transient' : 'permanent') : /retry limit exceeded/i.test(message) ? 'transient' : classified.kind;
  // After its retries the client says "Retry limit exceeded - ... - code: ECONNRESET": keep the
  // errno as the code, since callers that classify by code alone (the snapshot's failure kind)
  // would otherwise call a connection that kept dropping permanent and never redeliver.
  const errno = /\bcode: ([A-Z][A-Z0-9_]+)\b/.exec(message)?.[1];
  const code = status ?? classified.code ?? errno;
  return new ResponderError(`Cloud Storage upload of ${name} failed: ${message.split('\n')[0]?.slice(0, 300) ?? ''}`, kind, { ...(code === undefined ? {} : { code }), cause: err });
}

/**
 * objects.list asks for the names only. With `fields` set, getFiles returns the listed items
 * as plain objects instead of building a File (with its Acl and request helpers) for each:
 * the budget and rate-limit windows are listed once per finding and grow with every finding
 * in the window, so a burst built thousands of File objects only to read their names (68 ms
 * of a 100-finding burst's CPU in the profile, growing with the square of the burst). The
 * partial response also keeps Cloud Storage from sending every object's full metadata.
 */
const LIST_FIELDS = 'items(name),nextPageToken';

interface ListedItem {
  name?: string;
}

function namesOf(items: readonly ListedItem[], base: string): string[] {
  const out: string[] = [];
  for (const item of items) if (typeof item.name === 'string' && item.name.startsWith(base)) out.push(item.name.slice(base.length));
  return out;
}

function stringMetadata(m: ObjectResource['metadata']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

/** Reads up to `limit` bytes; tells whether the stream ended within them. */
async function readHead(it: AsyncIterator<Buffer | string>, limit: number): Promise<{ chunks: Buffer[]; bytes: number; ended: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes < limit) {
    const next = await it.next();
    if (next.done === true) return { chunks, bytes, ended: true };
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    bytes += chunk.length;
  }
  return { chunks, bytes, ended: false };
}

async function* replay(head: Buffer[], it: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  for (const c of head) yield c;
  for (;;) {
    const next = await it.next();
    if (next.done === true) return;
    yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
  }
}

export class GcsEvidenceStore implements EvidenceStore {
  readonly location: string;
  private readonly bucket: Bucket;
  private readonly bucketName: string;
  private readonly prefix: string;
  private readonly simpleMax: number;
  private readonly chunkSize: number;
  private readonly listPageSize: number;

  constructor(options: GcsEvidenceStoreOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertSafePrefix(prefix);
    this.prefix = prefix;
    this.bucketName = options.bucket;
    const storage = options.storage ?? new Storage(options.storageOptions);
    this.bucket = storage.bucket(options.bucket);
    this.location = `gs://${options.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.simpleMax = options.simpleUploadMaxBytes ?? 4 * 1024 * 1024;
    this.chunkSize = options.chunkSizeBytes ?? 8 * 1024 * 1024;
    this.listPageSize = options.listPageSize ?? 1000;
    if (this.chunkSize % (256 * 1024) !== 0) throw new RangeError('chunkSizeBytes must be a multiple of 256 KiB');
  }

  objectName(key: string): string {
    assertSafeKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private toStored(key: string, name: string, r: ObjectResource): StoredObject {
    return {
      uri: `gs://${this.bucketName}/${name}`,
      key,
      size: Number(r.size ?? 0),
      ...(r.generation === undefined ? {} : { generation: String(r.generation) }),
      metadata: stringMetadata(r.metadata),
    };
  }

  /** The object as it is, complete or not; null when absent. */
  private async describe(key: string, signal?: AbortSignal): Promise<StoredObject | null> {
    signal?.throwIfAborted();
    const name = this.objectName(key);
    try {
      const [meta] = await this.bucket.file(name).getMetadata();
      return this.toStored(key, name, meta as ObjectResource);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async stat(key: string, signal?: AbortSignal): Promise<StoredObject | null> {
    const obj = await this.describe(key, signal);
    return obj !== null && obj.metadata[COMPLETE_KEY] === 'true' ? obj : null;
  }

  async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }> {
    const name = this.objectName(key);
    const file = this.bucket.file(name);
    const contentType = options?.contentType ?? 'application/octet-stream';
    const objectMetadata = { ...metadata, [COMPLETE_KEY]: 'true' };
    const common = {
      contentType,
      metadata: { contentType, metadata: objectMetadata },
      preconditionOpts: { ifGenerationMatch: 0 },
      validation: 'crc32c' as const,
    };
    signal?.throwIfAborted();
    const it = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    // An abort must also end a wait for the body's first bytes (readHead is not signal-aware).
    const onAbort = (): void => {
      const b = body as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
      b.destroy?.(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Small bodies (manifests) go in one multipart request; the head read here is bounded.
      const head = await readHead(it, this.simpleMax);
      signal?.throwIfAborted();
      if (head.ended) {
        await file.save(Buffer.concat(head.chunks, head.bytes), { ...common, resumable: false });
      } else {
        const upload = file.createWriteStream({ ...common, resumable: true, chunkSize: this.chunkSize });
        await pipeline(Readable.from(replay(head.chunks, it)), upload, signal ? { signal } : {});
      }
    } catch (err) {
      await it.return?.().catch(() => undefined);
      if (statusOf(err) === 412) {
        const existing = await this.describe(key, signal);
        if (existing !== null) return { created: false, object: existing };
      }
      if (signal?.aborted) throw err;
      throw storeError(await this.unmasked(err, signal), name);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const resource = file.metadata as ObjectResource;
    return { created: true, object: this.toStored(key, name, resource) };
  }

  /**
   * The client's save() can fail with only "Cannot call write after a stream was destroyed" when
   * its upload died before the body was written (no credentials, for one): the reason is lost.
   * Then the auth client is asked for a token (10 s at most), and its error, if any, is the one
   * reported; a token request that fails to answer in time says nothing, so the client's error stays.
   */
  private async unmasked(err: unknown, signal?: AbortSignal): Promise<unknown> {
    if ((err as { code?: unknown } | null)?.code !== 'ERR_STREAM_DESTROYED') return err;
    try {
      await withTimeout('asking the auth client for a token', TOKEN_CHECK_MS, signal, () => this.bucket.storage.authClient.getAccessToken());
      return err;
    } catch (authErr) {
      return authErr instanceof TimeoutError || signal?.aborted ? err : authErr;
    }
  }

  async readText(key: string, signal?: AbortSignal): Promise<string | null> {
    signal?.throwIfAborted();
    try {
      const [buf] = await this.bucket.file(this.objectName(key)).download();
      return buf.toString('utf8');
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async list(prefix: string, signal?: AbortSignal): Promise<string[]> {
    assertSafePrefix(prefix);
    signal?.throwIfAborted();
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    const [files] = await this.bucket.getFiles({ prefix: base + prefix, autoPaginate: true, fields: LIST_FIELDS });
    return namesOf(files as unknown as ListedItem[], base).sort();
  }

  /** One objects.list page (LIST_PAGE_SIZE names) at a time, following nextPageToken. */
  async *listPages(prefix: string, signal?: AbortSignal): AsyncGenerator<string[]> {
    assertSafePrefix(prefix);
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    let query: GetFilesOptions | undefined = { prefix: base + prefix, autoPaginate: false, maxResults: this.listPageSize, fields: LIST_FIELDS };
    while (query) {
      signal?.throwIfAborted();
      const [files, next] = (await this.bucket.getFiles(query)) as unknown as [ListedItem[], GetFilesOptions | null | undefined, unknown];
      yield namesOf(files, base);
      query = next?.pageToken ? { ...query, pageToken: next.pageToken } : undefined;
    }
  }
}
