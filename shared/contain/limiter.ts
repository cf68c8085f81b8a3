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
// Off the path to the action (each read or write of a store is a round trip on GCS): the
// reads a reservation starts with (its subject's claim, the window's slots) may be made
// ahead (prefetch, while the evidence is collected), and the subject claim is written after
// reserve() returns (settle() waits for it). Neither weakens the count: a stale "no claim"
// or a stale slot list only makes the create-only slot decide (a lost create moves on to
// n+1, a missed claim costs one extra slot: over-counting), and only the slot itself, the
// decision, stays in front of the action. A prefetch takes nothing: an action the guards
// refuse never spends a slot.
//
// When the slot is taken (contain/executor.ts runAhead): after every guard has passed,
// the evidence gate included, and no later, but not after the binary's commit. The gate is
// judged on the copy's verdict as soon as the copy is complete and hashed and its commit is
// asked for (evidence/copy-attempt.ts onVerified; respond/stages/snapshot.ts evidenceGate), so
// the slot's create runs beside the commit (on GCS: two round trips at once instead of one
// after the other) and the action waits for both. A held action still uses up no budget for
// every hold the target can cause (a copy that does not count, withheld or destroyed evidence:
// all known from the verdict, before the commit) and every guard refusal. One case only costs
// a slot without an action: our own store failing to commit a copy already verified (or
// another writer's copy winning the create-only race); the action is then held as before, its
// outcome and a WARNING say the slot stays counted, and a redelivery of the finding reuses it
// (its subject claim). Over-counting, the safe direction: fewer actions allowed, never more.
//
// Without a shared store there is nothing to count in: the limiter refuses every slot, so
// enforced actions degrade to dry-run with the reason "no shared store to count actions".
import type { EvidenceStore } from '../ports.js';
import { putJson } from '../ledger/json.js';
import { claimedSlotOf, META, rateLimitKeys, slotNumber, subjectHash, type RateLimitKeys, type RateLimitScope } from '../ledger/layout.js';

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
 * those in one namespace, or on one workload, of one cluster. Each scope has its own slots
 * under the rule (ledger/layout.ts rateLimitKeys):
 *   _ratelimit/<rule>/<window>/...                                          the rule
 *   _ratelimit/<rule>/cluster/<project>/<location>/<cluster>/namespace/<ns>/<window>/...
 *   _ratelimit/<rule>/cluster/<project>/<location>/<cluster>/workload/<ns/Kind/name>/<window>/...
 * Built by budget-scope.ts budgetScopes(), the one derivation (executor and backtest alike).
 */
export type LimitScope = { rule: string } | ({ rule: string } & RateLimitScope);

export type LimitSubjectScope = string | LimitScope;

function scopeOf(s: LimitSubjectScope): LimitScope {
  return typeof s === 'string' ? { rule: s } : s;
}

/** `rule r`, `rule r in namespace shop of cluster p/l/c`, `rule r on workload shop/Deployment/web of cluster p/l/c`. */
export function scopeText(s: LimitSubjectScope): string {
  const scope = scopeOf(s);
  if (!('cluster' in scope)) return `rule ${scope.rule}`;
  const { project, location, name } = scope.cluster;
  const where = `of cluster ${project}/${location}/${name}`;
  return 'workload' in scope ? `rule ${scope.rule} on workload ${scope.workload} ${where}` : `rule ${scope.rule} in namespace ${scope.namespace} ${where}`;
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
  /** Starts the reads reserve() begins with (no write); a later reserve for the same subject uses them once. */
  prefetch?(scope: LimitSubjectScope, subject: string, now: Date, signal?: AbortSignal): void;
  /** Waits for the writes reserve() left running (subject claims); never rejects. */
  settle?(): Promise<void>;
}

interface Prefetched {
  claimed: number | undefined;
  slots: number[];
}

/** Prefetched reads kept at most (a refused action never uses its own). */
const MAX_PREFETCHED = 64;

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
  private readonly prefetched = new Map<string, Promise<Prefetched>>();
  /** Subject claims being written, by claim key (a reservation for the same subject waits for it). */
  private readonly claims = new Map<string, Promise<void>>();

  constructor(private readonly store: EvidenceStore, options: StoreLimiterOptions = {}) {
    this.prefix = options.prefix ?? ''; // rateLimitKeys() adds the '/'
  }

  private keys(scope: LimitSubjectScope, window: string): RateLimitKeys {
    const s = scopeOf(scope);
    return rateLimitKeys(this.prefix, s.rule, window, 'cluster' in s ? s : undefined);
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

  prefetch(rule: LimitSubjectScope, subject: string, now: Date, signal?: AbortSignal): void {
    const window = hourWindow(now);
    const key = this.claimKey(rule, window, subject);
    if (this.prefetched.has(key)) return;
    if (this.prefetched.size >= MAX_PREFETCHED) this.prefetched.delete(this.prefetched.keys().next().value ?? '');
    const reads = Promise.all([this.claimedSlot(rule, window, subject, signal), this.slots(rule, window, signal)]).then(([claimed, slots]) => ({ claimed, slots }));
    reads.catch(() => this.prefetched.delete(key)); // reserve() then reads again
    this.prefetched.set(key, reads);
  }

  /** The claim and the slots: prefetched (once) when available and readable, else read now. */
  private async reads(rule: LimitSubjectScope, window: string, subject: string, signal?: AbortSignal): Promise<Prefetched> {
    const key = this.claimKey(rule, window, subject);
    await this.claims.get(key); // our own claim for this subject, still being written
    const ahead = this.prefetched.get(key);
    this.prefetched.delete(key);
    const got = ahead === undefined ? undefined : await ahead.catch(() => undefined);
    if (got !== undefined) return got;
    const claimed = await this.claimedSlot(rule, window, subject, signal);
    return { claimed, slots: claimed === undefined ? await this.slots(rule, window, signal) : [] };
  }

  async reserve(rule: LimitSubjectScope, limit: number, subject: string, now: Date, signal?: AbortSignal): Promise<LimitVerdict> {
    const window = hourWindow(now);
    const { claimed, slots: seen } = await this.reads(rule, window, subject, signal);
    if (claimed !== undefined) {
      const used = (await this.slots(rule, window, signal)).length;
      return { allowed: true, used, limit, window, reused: true, ...(claimed >= 0 ? { slot: claimed } : {}), reason: reasonReused(rule, used, limit, window) };
    }
    const at = now.toISOString();
    for (let n = seen.length; n < limit; n += 1) {
      const record = { ...scopeOf(rule), window, slot: n, subject: subjectHash(subject), at };
      const fields = meta(scopeOf(rule).rule, window, n, subject);
      const { created } = await putJson(this.store, this.slotKey(rule, window, n), 'ratelimit-slot', record, fields, signal ? { signal } : {});
      if (!created) continue; // another instance (or delivery) won slot n: try the next one
      // Best effort, and after the action: a failure (or a crash first) only means a redelivery may take one more slot.
      this.claim(this.claimKey(rule, window, subject), putJson(this.store, this.claimKey(rule, window, subject), 'ratelimit-subject', record, fields, signal ? { signal } : {}));
      return { allowed: true, used: n + 1, limit, window, slot: n, reason: reasonAllowed(rule, n + 1, limit, window) };
    }
    return { allowed: false, used: limit, limit, window, reason: reasonDenied(rule, limit, window) };
  }

  private claim(key: string, write: Promise<unknown>): void {
    const done = write.then(
      () => undefined,
      () => undefined,
    );
    this.claims.set(key, done);
    void done.then(() => {
      if (this.claims.get(key) === done) this.claims.delete(key);
    });
  }

  async settle(): Promise<void> {
    await Promise.all(this.claims.values());
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
