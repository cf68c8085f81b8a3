// The hourly evidence byte budget of one cluster, counted in the evidence store itself (shared
// by every instance, like the blast-radius limiter): one create-only marker per stored copy,
// its size in the key's last segment, under `budget/<project>/<cluster>/<UTC hour>/` (keys:
// shared/ledger/layout.ts). Summing
// a listing is enough: markers are tiny and an hour holds few. The budget keeps junk (floods,
// decoys, a storm of findings) from filling a retention-locked bucket.
import { putBytes } from '../ledger/json.js';
import { budgetHourPrefix, budgetMarkerBytes, budgetMarkerKey } from '../ledger/layout.js';
import type { EvidenceStore } from '../ports.js';

export interface BudgetScope {
  project: string;
  cluster: string;
}

export class EvidenceByteBudget {
  constructor(
    private readonly store: EvidenceStore,
    readonly limitBytes: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Bytes left this hour (<= 0 when used up). */
  async remaining(scope: BudgetScope, signal?: AbortSignal): Promise<number> {
    const keys = await this.store.list(budgetHourPrefix(scope.project, scope.cluster, this.now()), signal);
    let used = 0;
    for (const k of keys) used += budgetMarkerBytes(k) ?? 0;
    return this.limitBytes - used;
  }

  /** Counts a stored copy of `bytes` against this hour. */
  async record(scope: BudgetScope, findingId: string, bytes: number, signal?: AbortSignal): Promise<void> {
    const key = budgetMarkerKey(scope.project, scope.cluster, this.now(), findingId, bytes);
    await putBytes(this.store, key, 'evidence-budget', Buffer.alloc(0), {}, signal ? { signal } : {});
  }
}
