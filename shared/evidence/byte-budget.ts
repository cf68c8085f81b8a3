// The hourly evidence byte budget of one cluster, counted in the evidence store itself (shared
// by every instance, like the blast-radius limiter): one create-only marker per stored copy,
// its size in the key's last segment, under `budget/<project>/<cluster>/<UTC hour>/`. Summing
// a listing is enough: markers are tiny and an hour holds few. The budget keeps junk (floods,
// decoys, a storm of findings) from filling a retention-locked bucket.
import { Readable } from 'node:stream';
import { keySegment } from '../ledger/keys.js';
import type { EvidenceStore } from '../ports.js';

export interface BudgetScope {
  project: string;
  cluster: string;
}

function hourPrefix(scope: BudgetScope, at: Date): string {
  const hour = at.toISOString().slice(0, 13).replace(/[-T:]/g, ''); // yyyymmddhh
  return `budget/${keySegment(scope.project)}/${keySegment(scope.cluster)}/${hour}/`;
}

export class EvidenceByteBudget {
  constructor(
    private readonly store: EvidenceStore,
    readonly limitBytes: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Bytes left this hour (<= 0 when used up). */
  async remaining(scope: BudgetScope, signal?: AbortSignal): Promise<number> {
    const keys = await this.store.list(hourPrefix(scope, this.now()), signal);
    let used = 0;
    for (const k of keys) {
      const m = /-(\d+)$/.exec(k);
      if (m) used += Number(m[1]);
    }
    return this.limitBytes - used;
  }

  /** Counts a stored copy of `bytes` against this hour. */
  async record(scope: BudgetScope, findingId: string, bytes: number, signal?: AbortSignal): Promise<void> {
    const key = `${hourPrefix(scope, this.now())}${keySegment(findingId)}-${bytes}`;
    await this.store.create(key, Readable.from([Buffer.alloc(0)]), { 'scc-kind': 'evidence-budget' }, signal);
  }
}
