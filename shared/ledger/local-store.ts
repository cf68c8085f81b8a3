// Evidence store on a local directory (the CLI default). Create-only and crash-safe:
//   1. the body streams into a temp file in the target directory (mode 0600, never executable:
//      it is malware), flushed to disk;
//   2. `link(temp, final)` publishes it; link fails with EEXIST when the name exists, so of two
//      concurrent writers exactly one wins, and nothing is ever overwritten;
//   3. the sidecar `<name>.meta.json` (metadata as given at create, size, content type) is
//      published the same way AFTER the data. An object without its sidecar is incomplete and
//      `stat` reports null for it.
// A failed or aborted write removes its temp file and publishes nothing.
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readFile, readdir, realpath, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { CreateOptions, EvidenceStore, StoredObject } from '../ports.js';
import { assertSafeKey, assertSafePrefix, UnsafeKeyError } from './keys.js';
import { META } from './layout.js';

export const SIDECAR_SUFFIX = '.meta.json';
const TEMP_PREFIX = '.scc-tmp-';
const COMPLETE_KEY = META.complete;
const MAX_TEXT_BYTES = 16 * 1024 * 1024;

interface Sidecar {
  key: string;
  size: number;
  contentType: string;
  createdAt: string;
  metadata: Record<string, string>;
}

export interface LocalEvidenceStoreOptions {
  /** Root directory; created when missing. */
  root: string;
  /** How long a writer that lost the race waits for the winner's sidecar (default 5 s). */
  sidecarWaitMs?: number;
  /** Flush to disk every this many bytes while writing (default 16 MiB). */
  syncEveryBytes?: number;
}

/**
 * Writes to a file handle and flushes to disk while the copy is still arriving (one
 * `datasync` in flight at a time, every `syncEveryBytes`), so the final `fsync` that makes the
 * object durable has little left to do: durability costs overlap with the network instead of
 * being paid at the end. Does not close the handle.
 */
class DurableFileWriter extends Writable {
  private sinceSync = 0;
  private syncing: Promise<void> | undefined;

  constructor(private readonly fh: FileHandle, private readonly syncEveryBytes: number) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll(chunk).then(() => {
      this.sinceSync += chunk.length;
      if (this.sinceSync >= this.syncEveryBytes && this.syncing === undefined) {
        this.sinceSync = 0;
        this.syncing = this.fh.datasync().finally(() => {
          this.syncing = undefined;
        });
        this.syncing.catch(() => undefined); // the final sync reports a broken disk
      }
      callback();
    }, callback);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    (this.syncing ?? Promise.resolve()).then(() => this.fh.sync()).then(() => callback(), callback);
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export class LocalEvidenceStore implements EvidenceStore {
  readonly location: string;
  private readonly root: string;
  private readonly sidecarWaitMs: number;
  private readonly syncEveryBytes: number;
  private realRoot: string | undefined;

  constructor(options: LocalEvidenceStoreOptions) {
    this.root = resolve(options.root);
    this.location = this.root;
    this.sidecarWaitMs = options.sidecarWaitMs ?? 5000;
    this.syncEveryBytes = options.syncEveryBytes ?? 16 * 1024 * 1024;
  }

  /** Absolute path of the data file for a key (validated; always strictly inside the root). */
  pathFor(key: string): string {
    assertSafeKey(key);
    const name = basename(key);
    if (name.endsWith(SIDECAR_SUFFIX) || name.startsWith(TEMP_PREFIX)) throw new UnsafeKeyError(key, 'reserved name');
    const path = join(this.root, ...key.split('/'));
    if (!path.startsWith(this.root + sep)) throw new UnsafeKeyError(key, 'resolves outside the store root');
    return path;
  }

  private async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    // A symlink planted inside the root must not redirect writes elsewhere.
    this.realRoot ??= await realpath(this.root);
    const real = await realpath(dir);
    if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) throw new UnsafeKeyError(dir, 'directory resolves outside the store root');
  }

  private async readSidecar(path: string): Promise<Sidecar | null> {
    let text: string;
    try {
      text = await readFile(path + SIDECAR_SUFFIX, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as Partial<Sidecar>;
      if (typeof parsed.metadata !== 'object' || parsed.metadata === null || parsed.metadata[COMPLETE_KEY] !== 'true') return null;
      return parsed as Sidecar;
    } catch {
      return null;
    }
  }

  private async describe(key: string, path: string, requireComplete: boolean): Promise<StoredObject | null> {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
      throw err;
    }
    if (!st.isFile()) return null;
    const sidecar = await this.readSidecar(path);
    if (sidecar === null && requireComplete) return null;
    return {
      uri: pathToFileURL(path).href,
      key,
      size: st.size,
      generation: String(Math.trunc(st.mtimeMs * 1000)),
      metadata: sidecar?.metadata ?? {},
    };
  }

  async stat(key: string, signal?: AbortSignal): Promise<StoredObject | null> {
    signal?.throwIfAborted();
    return this.describe(key, this.pathFor(key), true);
  }

  async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }> {
    const path = this.pathFor(key);
    const dir = dirname(path);
    signal?.throwIfAborted();
    await this.ensureDir(dir);
    const temp = join(dir, `${TEMP_PREFIX}${basename(path)}-${randomBytes(6).toString('hex')}`);
    const fh = await open(temp, 'wx', 0o600);
    try {
      // Synced before it is published, so a published name never points at unwritten data.
      await pipeline(body, new DurableFileWriter(fh, this.syncEveryBytes), signal ? { signal } : {});
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    try {
      await link(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      if (isErrno(err, 'EEXIST')) return { created: false, object: await this.waitForComplete(key, path, signal) };
      throw err;
    }
    await unlink(temp).catch(() => undefined);
    const st = await stat(path);
    const storedMetadata = { ...metadata, [COMPLETE_KEY]: 'true' };
    const sidecar: Sidecar = {
      key,
      size: st.size,
      contentType: options?.contentType ?? 'application/octet-stream',
      createdAt: new Date().toISOString(),
      metadata: storedMetadata,
    };
    await this.publishSidecar(path, sidecar);
    await this.syncDir(dir);
    return {
      created: true,
      object: { uri: pathToFileURL(path).href, key, size: st.size, generation: String(Math.trunc(st.mtimeMs * 1000)), metadata: storedMetadata },
    };
  }

  /** The sidecar is published by link too, so a reader never sees half of it. */
  private async publishSidecar(path: string, sidecar: Sidecar): Promise<void> {
    const target = path + SIDECAR_SUFFIX;
    const temp = join(dirname(path), `${TEMP_PREFIX}${basename(target)}-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, `${JSON.stringify(sidecar, null, 2)}\n`, { flag: 'wx', mode: 0o600, flush: true });
      await link(temp, target);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } catch {
      // Some filesystems refuse fsync on directories; the data itself is already synced.
    } finally {
      await handle.close();
    }
  }

  /** The race loser waits briefly for the winner's sidecar; returns the object either way. */
  private async waitForComplete(key: string, path: string, signal?: AbortSignal): Promise<StoredObject> {
    const deadline = Date.now() + this.sidecarWaitMs;
    for (;;) {
      const obj = await this.describe(key, path, false);
      if (obj === null) throw new Error(`evidence object ${key} vanished after EEXIST`);
      if (obj.metadata[COMPLETE_KEY] === 'true' || Date.now() >= deadline || signal?.aborted === true) return obj;
      await sleep(25);
    }
  }

  async readText(key: string, signal?: AbortSignal): Promise<string | null> {
    const obj = await this.stat(key, signal);
    if (obj === null) return null;
    if (obj.size > MAX_TEXT_BYTES) throw new Error(`evidence object ${key} is ${obj.size} bytes, too large for readText`);
    return readFile(this.pathFor(key), 'utf8');
  }

  async list(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.listPages(prefix, signal)) keys.push(...page);
    return keys.sort();
  }

  /** One directory's complete objects at a time (a page), depth first: memory bounded by a directory. */
  async *listPages(prefix: string, signal?: AbortSignal): AsyncGenerator<string[]> {
    assertSafePrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    yield* this.walkPages(cut === -1 ? '' : prefix.slice(0, cut), prefix, signal);
  }

  private async *walkPages(relDir: string, prefix: string, signal?: AbortSignal): AsyncGenerator<string[]> {
    signal?.throwIfAborted();
    let entries;
    try {
      entries = await readdir(relDir === '' ? this.root : join(this.root, ...relDir.split('/')), { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
    const page: string[] = [];
    const dirs: string[] = [];
    for (const e of entries) {
      const key = relDir === '' ? e.name : `${relDir}/${e.name}`;
      if (e.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) dirs.push(key);
      } else if (e.isFile() && !e.name.endsWith(SIDECAR_SUFFIX) && !e.name.startsWith(TEMP_PREFIX) && key.startsWith(prefix)) {
        if ((await this.readSidecar(join(this.root, ...key.split('/')))) !== null) page.push(key);
      }
    }
    if (page.length > 0) yield page;
    for (const dir of dirs) yield* this.walkPages(dir, prefix, signal);
  }
}
