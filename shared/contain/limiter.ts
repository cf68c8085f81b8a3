// Blast-radius limit: at most `maxActionsPerHour` enforced destructive actions per policy
// rule, counted in state that every function instance shares. A misfiring rule (or an
// attacker who can trigger findings at will) must not be able to delete a whole fleet.
//
// Where the count lives: the evidence store the function already has, because it is shared
// by every instance and has create-only writes (GCS `ifGenerationMatch: 0`, O_EXCL for the
// local directory). No new service, no new permission beyond objectCreator + list + get.
//
// How it counts, race-free: one action = one slot object
//   <prefix>_ratelimit/<rule>/<window>/slots/<n>.json      for n in 0 .. limit-1
// An instance lists the window's slots, then tries to create slot n = (slots seen), n+1, ...
// with create-only semantics. Two instances racing for the same n: the store lets exactly
// one create it; the other moves on to n+1. No slot number >= limit is ever created, so at
// most `limit` actions are taken in a window whatever the number of instances.
//
// The window is a fixed UTC hour (`2026-11-29T04`), not a sliding one: a sliding window
// would have to count slots across two buckets and could not use "slot n exists" as the
// race-free decision. The price: up to 2 x limit actions around an hour boundary (limit at
// 04:59 and limit again at 05:00). Said plainly in the policy documentation.
//
// Redelivery: Pub/Sub redelivers and SCC re-notifies; the same action on the same pod must
// not use a second slot (a retry after a transient 500 would otherwise be starved). After a
// slot is won, a create-only claim `<window>/subjects/<hash>.json` records it; a later
// reservation for the same subject finds the claim and reuses the slot. A crash between the
// slot and the claim costs one extra slot: over-counting, the safe direction.
//
// Without a shared store there is nothing to count in: the limiter refuses every slot, so
// enforced actions degrade to dry-run with the reason "no shared store to count actions".
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EvidenceStore } from '../ports.js';

export interface LimitVerdict {
  allowed: boolean;
  /** Slots taken in this window (after our reservation, when reserved). */
  used: number;
  limit: number;
  /** The window, e.g. `2026-11-29T04` (UTC hour). */
  window: string;
  /** Our slot number when reserved. */
  slot?: number;
  /** True when the slot was taken by an earlier delivery of the same action on the same target. */
  reused?: boolean;
  reason: string;
}

/**
 * What one budget counts: the rule's actions everywhere (a bare rule name, as before), or only
 * those in one namespace or on one workload. Each scope has its own slots under the rule:
 *   _ratelimit/<rule>/<window>/...                       the rule
 *   _ratelimit/<rule>/namespace/<ns>/<window>/...        one namespace
 *   _ratelimit/<rule>/workload/<ns/Kind/name>/<window>/  one workload (segment hashed)
 * Windows start with a digit, so a scope segment can never be read as a window.
 */
export interface LimitScope {
  rule: string;
  namespace?: string;
  /** `namespace/Kind/name` of the top controller, or `namespace/Pod/name` for a bare pod. */
  workload?: string;
}

export type LimitSubjectScope = string | LimitScope;

function scopeOf(s: LimitSubjectScope): LimitScope {
  return typeof s === 'string' ? { rule: s } : s;
}

/** `rule payments`, `rule payments in namespace shop`, `rule payments on workload shop/Deployment/web`. */
export function scopeText(s: LimitSubjectScope): string {
  const { rule, namespace, workload } = scopeOf(s);
  if (workload !== undefined) return `rule ${rule} on workload ${workload}`;
  if (namespace !== undefined) return `rule ${rule} in namespace ${namespace}`;
  return `rule ${rule}`;
}

export interface ActionLimiter {
  /** False for the fallback that has no shared state (everything degrades to dry-run). */
  readonly shared: boolean;
  /**
   * Read-only: would an action be allowed now? (dry-run; writes nothing). `pending` counts
   * actions this same run would already have reserved, so a dry-run of several actions
   * reports the numbers enforce would see.
   */
  peek(scope: LimitSubjectScope, limit: number, subject: string, now: Date, signal?: AbortSignal, pending?: number): Promise<LimitVerdict>;
  /** Takes one slot for `subject` (finding + action + target) if one is free, create-only. */
  reserve(scope: LimitSubjectScope, limit: number, subject: string, now: Date, signal?: AbortSignal): Promise<LimitVerdict>;
}

/** `2026-11-29T04`: the UTC hour of `now`. */
export function hourWindow(now: Date): string {
  return now.toISOString().slice(0, 13);
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Rule names become one path segment: safe characters kept, a hash added when anything was changed. */
export function ruleSegment(rule: string): string {
  const cleaned = rule.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
  return cleaned === rule && cleaned !== '' && !cleaned.startsWith('.') ? cleaned : `${cleaned.replace(/^\.+/, '')}-${hash(rule, 8)}`;
}

const SLOT_RE = /(?:^|\/)slots\/(\d+)\.json$/;

export interface StoreLimiterOptions {
  /** Key prefix inside the store (e.g. `evidence/`); empty by default. */
  prefix?: string;
}

export class StoreActionLimiter implements ActionLimiter {
  readonly shared = true;
  private readonly prefix: string;

  constructor(private readonly store: EvidenceStore, options: StoreLimiterOptions = {}) {
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
  }

  private base(scope: LimitSubjectScope, window: string): string {
    const { rule, namespace, workload } = scopeOf(scope);
    const narrower = workload !== undefined ? `workload/${ruleSegment(workload)}/` : namespace !== undefined ? `namespace/${ruleSegment(namespace)}/` : '';
    return `${this.prefix}_ratelimit/${ruleSegment(rule)}/${narrower}${window}/`;
  }

  slotKey(rule: LimitSubjectScope, window: string, n: number): string {
    return `${this.base(rule, window)}slots/${n}.json`;
  }

  claimKey(rule: LimitSubjectScope, window: string, subject: string): string {
    return `${this.base(rule, window)}subjects/${hash(subject, 32)}.json`;
  }

  /** Slot numbers present in the window (only well-formed slot keys count). */
  private async slots(rule: LimitSubjectScope, window: string, signal?: AbortSignal): Promise<number[]> {
    const keys = await this.store.list(`${this.base(rule, window)}slots/`, signal);
    const out: number[] = [];
    for (const k of keys) {
      const m = SLOT_RE.exec(k);
      if (m?.[1] !== undefined) out.push(Number(m[1]));
    }
    return out;
  }

  private async claimedSlot(rule: LimitSubjectScope, window: string, subject: string, signal?: AbortSignal): Promise<number | undefined> {
    const claim = await this.store.stat(this.claimKey(rule, window, subject), signal);
    if (claim === null) return undefined;
    const slot = Number(claim.metadata['slot']);
    return Number.isInteger(slot) ? slot : -1;
  }

  async peek(rule: LimitSubjectScope, limit: number, subject: string, now: Date, signal?: AbortSignal, pending = 0): Promise<LimitVerdict> {
    const window = hourWindow(now);
    const claimed = await this.claimedSlot(rule, window, subject, signal);
    const used = (await this.slots(rule, window, signal)).length + pending;
    if (claimed !== undefined) {
      return { allowed: true, used, limit, window, reused: true, ...(claimed >= 0 ? { slot: claimed } : {}), reason: reasonReused(rule, used, limit, window) };
    }
    if (used < limit) return { allowed: true, used: used + 1, limit, window, reason: reasonAllowed(rule, used + 1, limit, window) };
    return { allowed: false, used, limit, window, reason: reasonDenied(rule, limit, window) };
  }

  async reserve(rule: LimitSubjectScope, limit: number, subject: string, now: Date, signal?: AbortSignal): Promise<LimitVerdict> {
    const window = hourWindow(now);
    const claimed = await this.claimedSlot(rule, window, subject, signal);
    if (claimed !== undefined) {
      const used = (await this.slots(rule, window, signal)).length;
      return { allowed: true, used, limit, window, reused: true, ...(claimed >= 0 ? { slot: claimed } : {}), reason: reasonReused(rule, used, limit, window) };
    }
    const seen = await this.slots(rule, window, signal);
    const at = now.toISOString();
    for (let n = seen.length; n < limit; n += 1) {
      const record = { ...scopeOf(rule), window, slot: n, subject: hash(subject, 32), at };
      const { created } = await this.store.create(this.slotKey(rule, window, n), body(record), meta(scopeOf(rule).rule, window, n, subject), signal);
      if (!created) continue; // another instance (or delivery) won slot n: try the next one
      // Best effort: a failure here only means a redelivery may take one more slot.
      await this.store.create(this.claimKey(rule, window, subject), body(record), meta(scopeOf(rule).rule, window, n, subject), signal).catch(() => undefined);
      return { allowed: true, used: n + 1, limit, window, slot: n, reason: reasonAllowed(rule, n + 1, limit, window) };
    }
    return { allowed: false, used: limit, limit, window, reason: reasonDenied(rule, limit, window) };
  }
}

function body(record: Record<string, unknown>): NodeJS.ReadableStream {
  return Readable.from([Buffer.from(`${JSON.stringify(record)}\n`)]);
}

function meta(rule: string, window: string, slot: number, subject: string): Record<string, string> {
  return { kind: 'ratelimit-slot', rule, window, slot: String(slot), subject: hash(subject, 32) };
}

// The same words in dry-run (peek) and enforce (reserve), so both report identical verdicts.
function reasonAllowed(scope: LimitSubjectScope, n: number, limit: number, window: string): string {
  return `action ${n} of ${limit} allowed this hour (${window}Z) for ${scopeText(scope)}`;
}
function reasonReused(scope: LimitSubjectScope, used: number, limit: number, window: string): string {
  return `already counted for this target in ${window}Z (${used} of ${limit} used by ${scopeText(scope)}): not counted again`;
}
function reasonDenied(scope: LimitSubjectScope, limit: number, window: string): string {
  return `maxActionsPerHour (${limit}) reached for ${scopeText(scope)} in ${window}Z: degraded to dry-run`;
}

/** The fallback without a shared store: fail safe, nothing is counted, nothing is allowed. */
export class NoSharedStoreLimiter implements ActionLimiter {
  readonly shared = false;
  private verdict(limit: number, now: Date): LimitVerdict {
    return { allowed: false, used: 0, limit, window: hourWindow(now), reason: 'no shared store to count actions: degraded to dry-run' };
  }
  peek(_scope: LimitSubjectScope, limit: number, _subject: string, now: Date): Promise<LimitVerdict> {
    return Promise.resolve(this.verdict(limit, now));
  }
  reserve(_scope: LimitSubjectScope, limit: number, _subject: string, now: Date): Promise<LimitVerdict> {
    return Promise.resolve(this.verdict(limit, now));
  }
}

export function createActionLimiter(store: EvidenceStore | undefined, options: StoreLimiterOptions = {}): ActionLimiter {
  return store === undefined ? new NoSharedStoreLimiter() : new StoreActionLimiter(store, options);
}
