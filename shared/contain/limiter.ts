// Blast-radius limit: at most `maxActionsPerHour` enforced destructive actions per policy
// rule, counted in state that every function instance shares. A misfiring rule (or an
// attacker who can trigger findings at will) must not be able to delete a whole fleet.
//
// Where the count lives: the evidence store the function already has, because it is shared
// by every instance and has create-only writes (GCS `ifGenerationMatch: 0`, O_EXCL for the
// local directory). No new service, no new permission beyond objectCreator + list + get.
//
// How it counts, race-free: one action = one slot object (keys: shared/ledger/layout.ts)
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
import type { EvidenceStore } from '../ports.js';
import { putJson } from '../ledger/json.js';
import { claimedSlotOf, META, rateLimitKeys, slotNumber, subjectHash, type RateLimitKeys } from '../ledger/layout.js';

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

export interface StoreLimiterOptions {
  /** Key prefix inside the store (e.g. `evidence/`); empty by default. */
  prefix?: string;
}

export class StoreActionLimiter implements ActionLimiter {
  readonly shared = true;
  private readonly prefix: string;

  constructor(private readonly store: EvidenceStore, options: StoreLimiterOptions = {}) {
    this.prefix = options.prefix ?? ''; // rateLimitKeys() adds the '/'
  }

  private keys(scope: LimitSubjectScope, window: string): RateLimitKeys {
    const { rule, namespace, workload } = scopeOf(scope);
    return rateLimitKeys(this.prefix, rule, window, { ...(namespace === undefined ? {} : { namespace }), ...(workload === undefined ? {} : { workload }) });
  }

  slotKey(rule: LimitSubjectScope, window: string, n: number): string {
    return this.keys(rule, window).slot(n);
  }

  claimKey(rule: LimitSubjectScope, window: string, subject: string): string {
    return this.keys(rule, window).subject(subject);
  }

  /** Slot numbers present in the window (only well-formed slot keys count). */
  private async slots(rule: LimitSubjectScope, window: string, signal?: AbortSignal): Promise<number[]> {
    const keys = await this.store.list(this.keys(rule, window).slotsPrefix, signal);
    return keys.map(slotNumber).filter((n): n is number => n !== undefined);
  }

  private async claimedSlot(rule: LimitSubjectScope, window: string, subject: string, signal?: AbortSignal): Promise<number | undefined> {
    const claim = await this.store.stat(this.claimKey(rule, window, subject), signal);
    return claim === null ? undefined : claimedSlotOf(claim.metadata);
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
      const record = { ...scopeOf(rule), window, slot: n, subject: subjectHash(subject), at };
      const fields = meta(scopeOf(rule).rule, window, n, subject);
      const { created } = await putJson(this.store, this.slotKey(rule, window, n), 'ratelimit-slot', record, fields, signal ? { signal } : {});
      if (!created) continue; // another instance (or delivery) won slot n: try the next one
      // Best effort: a failure here only means a redelivery may take one more slot.
      await putJson(this.store, this.claimKey(rule, window, subject), 'ratelimit-subject', record, fields, signal ? { signal } : {}).catch(() => undefined);
      return { allowed: true, used: n + 1, limit, window, slot: n, reason: reasonAllowed(rule, n + 1, limit, window) };
    }
    return { allowed: false, used: limit, limit, window, reason: reasonDenied(rule, limit, window) };
  }
}

function meta(rule: string, window: string, slot: number, subject: string): Record<string, string> {
  return { [META.rule]: rule, [META.window]: window, [META.slot]: String(slot), [META.subject]: subjectHash(subject) };
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
