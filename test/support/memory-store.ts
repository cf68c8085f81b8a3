// An in-memory EvidenceStore with exactly the port's semantics (shared/ports.ts): `create` is
// create-only (the first writer to finish its body wins; later ones get `created: false` and
// the existing object), a failed or aborted body leaves nothing behind, every object it
// creates carries `scc-complete: true` and `stat` reports only such objects (like both
// backends). Every operation yields to the event loop first, so concurrent callers really
// interleave, and goes through a FaultPlan (keys `create <key>`, `stat <key>`,
// `readText <key>`, `list <prefix>`) so tests can inject 503s, 403s, delays and hangs.
import type { CreateOptions, EvidenceStore, StoredObject } from '../../shared/ports.js';
import { FaultPlan, sleep } from './faults.js';

interface Entry {
  data: Buffer;
  metadata: Record<string, string>;
  generation: string;
}

/** An error shaped like a Cloud Storage API error (numeric `code`, classified by status). */
export class StoreError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export class MemoryStore implements EvidenceStore {
  readonly location: string;
  readonly faults = new FaultPlan();
  readonly objects = new Map<string, Entry>();
  /** Every create call's result, in completion order. */
  readonly creates: { key: string; created: boolean }[] = [];
  private generation = 0;

  constructor(location = 'memory://evidence') {
    this.location = location;
  }

  private async gate(key: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const fault = this.faults.take(key);
    const done = this.faults.record(key, fault);
    try {
      await new Promise((r) => setImmediate(r));
      if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
      if (fault?.delayMs) await sleep(fault.delayMs);
      if (fault?.hang) await new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
      if (fault?.status !== undefined) throw new StoreError(fault.status, fault.message ?? `injected fault ${fault.status} on ${key}`);
      signal?.throwIfAborted();
    } finally {
      done();
    }
  }

  private view(key: string, e: Entry): StoredObject {
    return { uri: `${this.location}/${key}`, key, size: e.data.length, generation: e.generation, metadata: { ...e.metadata } };
  }

  async stat(key: string, signal?: AbortSignal): Promise<StoredObject | null> {
    await this.gate(`stat ${key}`, signal);
    const e = this.objects.get(key);
    return e && e.metadata['scc-complete'] === 'true' ? this.view(key, e) : null;
  }

  async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, _options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }> {
    await this.gate(`create ${key}`, signal);
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      signal?.throwIfAborted();
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
    signal?.throwIfAborted();
    // Check-and-set with no await in between: the create-only precondition (GCS ifGenerationMatch=0).
    const existing = this.objects.get(key);
    if (existing) {
      this.creates.push({ key, created: false });
      return { created: false, object: this.view(key, existing) };
    }
    const entry: Entry = { data: Buffer.concat(chunks), metadata: { ...metadata, 'scc-complete': 'true' }, generation: String(++this.generation) };
    this.objects.set(key, entry);
    this.creates.push({ key, created: true });
    return { created: true, object: this.view(key, entry) };
  }

  async readText(key: string, signal?: AbortSignal): Promise<string | null> {
    await this.gate(`readText ${key}`, signal);
    return this.objects.get(key)?.data.toString('utf8') ?? null;
  }

  async list(prefix: string, signal?: AbortSignal): Promise<string[]> {
    await this.gate(`list ${prefix}`, signal);
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Test helper: the text of an object, or undefined. */
  text(key: string): string | undefined {
    return this.objects.get(key)?.data.toString('utf8');
  }

  /**
   * Test helper: plant an object directly (e.g. a claim left by a crashed run). Complete (as
   * our backends mark what they create) unless `complete: false`: a foreign or half-written
   * object, which stat does not report and create does not replace.
   */
  put(key: string, data: string | Buffer, metadata: Record<string, string> = {}, options: { complete?: boolean } = {}): void {
    const marker: Record<string, string> = options.complete === false ? {} : { 'scc-complete': 'true' };
    this.objects.set(key, { data: Buffer.isBuffer(data) ? data : Buffer.from(data), metadata: { ...metadata, ...marker }, generation: String(++this.generation) });
  }
}
