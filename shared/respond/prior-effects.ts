// Effects of earlier attempts at the same finding. A response that deleted the pod and then
// failed transiently (say the SCC mark write got a 503) is redelivered; the retry finds the
// pod already gone and would otherwise report "pod-gone" and mark the finding "triaged",
// hiding the deletion. Each attempt that changed the cluster leaves a create-only record of
// what it did beside the evidence, and later attempts merge those records into their marks
// and report, so the final word on the finding says what happened across all attempts.
import type { ActionOutcome } from '../contain/types.js';
import { putJson, readRecord } from '../ledger/json.js';
import { keysIn, META } from '../ledger/layout.js';
import type { ActionType } from '../policy/types.js';
import type { EvidenceStore } from '../ports.js';

export interface EffectRecord {
  runId: string;
  at: string;
  actions: { type: ActionType; detail: string }[];
}

/** Stores what this attempt did to the cluster (only effects that took place). */
export async function storeEffects(store: EvidenceStore, folder: string, runId: string, outcomes: readonly ActionOutcome[], now: Date, signal?: AbortSignal): Promise<boolean> {
  const done = outcomes.filter((o) => o.status === 'done' && o.mode === 'enforce');
  if (done.length === 0) return false;
  const record: EffectRecord = { runId, at: now.toISOString(), actions: done.map((o) => ({ type: o.type, detail: o.detail })) };
  await putJson(store, keysIn(folder).effects(runId), 'effects', record, { [META.run]: runId }, signal ? { signal } : {});
  return true;
}

function isEffectRecord(v: unknown): v is EffectRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['runId'] === 'string' && Array.isArray(r['actions']);
}

/** Effects recorded by earlier attempts (unreadable records are ignored, not fatal). */
export async function loadPriorEffects(store: EvidenceStore, folder: string, signal?: AbortSignal): Promise<EffectRecord[]> {
  const base = keysIn(folder).effectsPrefix;
  const keys = (await store.list(base, signal)).filter((k) => k.startsWith(base) && k.endsWith('.json'));
  const out: EffectRecord[] = [];
  // A record cut short by a crash says nothing reliable: skipped.
  for (const key of keys) {
    const record = await readRecord(store, key, isEffectRecord, signal);
    if (record !== null) out.push(record);
  }
  return out;
}

/**
 * Statuses for the marks: an action this attempt found nothing left to do for (skipped,
 * e.g. pod gone) or that an earlier attempt already did counts as done when a prior record
 * says it was done.
 */
export function mergeStatuses(outcomes: readonly ActionOutcome[], prior: readonly EffectRecord[]): { type: ActionType; status: ActionOutcome['status'] }[] {
  const donePreviously = new Set(prior.flatMap((r) => r.actions.map((a) => a.type)));
  return outcomes.map((o) => ({
    type: o.type,
    status: o.status !== 'done' && o.status !== 'failed' && donePreviously.has(o.type) ? 'done' : o.status,
  }));
}
