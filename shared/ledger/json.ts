// The record protocol on top of the four store primitives (stat, create, readText, list;
// shared/ports.ts EvidenceStore), in the manner of Powertools' idempotency persistence
// layer: backends only move bytes create-only, this module decides what a record looks like
// and when one counts. Every record is written whole, create-only, with `scc-record` naming
// its kind; a record that cannot be parsed is reported as `unreadable`, never thrown, because
// it can only come from a writer that crashed, and the callers decide what that means
// (a claim: expired; an effect record: ignored; a report: handled but unreadable).
import { Readable } from 'node:stream';
import type { EvidenceStore, StoredObject } from '../ports.js';
import { META, type RecordKind } from './layout.js';

export interface PutOptions {
  /** Default `application/json` for putJson, `application/octet-stream` for putBytes. */
  contentType?: string;
  /** Indented JSON, for records people read (manifest, report). */
  pretty?: boolean;
  signal?: AbortSignal;
}

export type PutResult = { created: boolean; object: StoredObject };

/** The metadata of a new record: the caller's fields plus its kind. */
export function recordMetadata(kind: RecordKind, fields: Record<string, string> = {}): Record<string, string> {
  return { ...fields, [META.record]: kind };
}

/** True when the backend finished the object (it sets `scc-complete` on everything it creates). */
export function isComplete(object: StoredObject): boolean {
  return object.metadata[META.complete] === 'true';
}

/** Writes a small record whole, create-only. `created: false` carries the object already there. */
export function putBytes(store: EvidenceStore, key: string, kind: RecordKind, body: string | Buffer, fields: Record<string, string> = {}, options: PutOptions = {}): Promise<PutResult> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return store.create(key, Readable.from([bytes]), recordMetadata(kind, fields), options.signal, { contentType: options.contentType ?? 'application/octet-stream' });
}

/** Writes `value` as JSON (one line, or indented with `pretty`), create-only. */
export function putJson(store: EvidenceStore, key: string, kind: RecordKind, value: unknown, fields: Record<string, string> = {}, options: PutOptions = {}): Promise<PutResult> {
  const text = `${options.pretty === true ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`;
  return putBytes(store, key, kind, text, fields, { ...options, contentType: options.contentType ?? 'application/json' });
}

export type JsonRead = { state: 'absent' } | { state: 'unreadable'; text: string } | { state: 'ok'; value: unknown };

/** Reads a JSON record. Store errors propagate (the caller classifies them); bad JSON does not. */
export async function readJson(store: EvidenceStore, key: string, signal?: AbortSignal): Promise<JsonRead> {
  const text = await store.readText(key, signal);
  if (text === null) return { state: 'absent' };
  try {
    return { state: 'ok', value: JSON.parse(text) as unknown };
  } catch {
    return { state: 'unreadable', text: text.slice(0, 200) };
  }
}

/** readJson narrowed by a guard: the value when it is the expected shape, else null (absent or not it). */
export async function readRecord<T>(store: EvidenceStore, key: string, guard: (v: unknown) => v is T, signal?: AbortSignal): Promise<T | null> {
  const read = await readJson(store, key, signal);
  return read.state === 'ok' && guard(read.value) ? read.value : null;
}

/** Every key under a prefix, a page at a time when the backend can (EvidenceStore.listPages), else from list(). */
export async function* storeKeys(store: EvidenceStore, prefix: string, signal?: AbortSignal): AsyncGenerator<string> {
  if (store.listPages) {
    for await (const page of store.listPages(prefix, signal)) yield* page;
    return;
  }
  yield* await store.list(prefix, signal);
}
