// Undo (CLI `scc-responder undo FINDING_NAME`): reverts what a response did to the cluster
// and can be reverted. What to revert comes from OUR records only: the stored report's writes
// (sent, with the API server's answer) cross-checked with the effect records beside the
// evidence (prior-effects.ts). Every object is then read live and touched only when it is
// still what we made: a NetworkPolicy with our ownership labels for this finding, our
// `scc-responder/` label or annotation with the value we wrote, on the pod with the UID we
// wrote it to; every write carries a UID precondition. A deleted pod cannot come back: said so.
import { classifyError } from '../common/errors.js';
import { LABEL_FINDING, LABEL_MANAGED_BY, LABEL_QUARANTINE, MANAGED_BY, OWN_LABEL_PREFIX, toLabelValue } from '../contain/labels.js';
import type { ActionOutcome, PlannedWrite } from '../contain/types.js';
import type { ActionType } from '../policy/types.js';
import type { Workloads } from '../ports.js';
import type { EffectRecord } from './prior-effects.js';
import type { TriageReport } from './report.js';

export type UndoItem =
  | { kind: 'networkPolicy'; action: ActionType; namespace: string; name: string; ownLabels: Record<string, string> }
  | { kind: 'podMetadata'; action: ActionType; namespace: string; name: string; uid: string; labels: Record<string, string>; annotations: Record<string, string> }
  | { kind: 'node'; action: ActionType; name: string }
  | { kind: 'deletedPod'; action: ActionType; namespace: string; name: string; uid: string };

export type UndoStatus = 'reverted' | 'nothing-to-do' | 'refused' | 'irreversible' | 'failed';

export interface UndoResult {
  action: ActionType;
  target: string;
  status: UndoStatus;
  detail: string;
}

export interface UndoPlan {
  items: UndoItem[];
  /** Things the records show but undo will not touch, and why. */
  notes: string[];
}

export function itemTarget(i: UndoItem): string {
  switch (i.kind) {
    case 'networkPolicy':
      return `networkpolicy/${i.namespace}/${i.name}`;
    case 'node':
      return `node/${i.name}`;
    default:
      return `pod/${i.namespace}/${i.name}`;
  }
}

function splitTarget(target: string, parts: number): string[] | undefined {
  const s = target.split('/');
  return s.length === parts && s.every((x) => x.length > 0) ? s : undefined;
}

function stringMap(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null) return {};
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Only keys under our prefix are ours to remove; anything else is noted and left alone. */
function ours(map: Record<string, string>, what: string, target: string, notes: string[]): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(map).filter(([k]) => k.startsWith(OWN_LABEL_PREFIX)));
  for (const k of Object.keys(map)) if (!k.startsWith(OWN_LABEL_PREFIX)) notes.push(`${what} ${k} on ${target} is not under ${OWN_LABEL_PREFIX}: left alone`);
  return kept;
}

function itemOf(a: ActionOutcome, w: PlannedWrite, findingId: string, notes: string[]): UndoItem | undefined {
  const body = w.body ?? {};
  switch (w.call) {
    case 'createNetworkPolicy': {
      const t = splitTarget(w.target, 3);
      const selector = stringMap(body['podSelector']);
      if (!t || (w.result !== 'created' && w.result !== 'exists')) return undefined;
      const ownLabels = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_FINDING]: toLabelValue(findingId), ...(selector[LABEL_QUARANTINE] ? { [LABEL_QUARANTINE]: selector[LABEL_QUARANTINE] } : {}) };
      return { kind: 'networkPolicy', action: a.type, namespace: t[1] as string, name: t[2] as string, ownLabels };
    }
    case 'patchPodMetadata': {
      const t = splitTarget(w.target, 2);
      const meta = (body['metadata'] ?? {}) as Record<string, unknown>;
      const uid = typeof meta['uid'] === 'string' ? meta['uid'] : undefined;
      if (!t || !uid || w.result !== 'patched') return undefined;
      const labels = ours(stringMap(meta['labels']), 'label', w.target, notes);
      const annotations = ours(stringMap(meta['annotations']), 'annotation', w.target, notes);
      return { kind: 'podMetadata', action: a.type, namespace: t[0] as string, name: t[1] as string, uid, labels, annotations };
    }
    case 'cordonNode': {
      const t = splitTarget(w.target, 2);
      return t && t[0] === 'node' && w.result === 'patched' ? { kind: 'node', action: a.type, name: t[1] as string } : undefined;
    }
    case 'deletePod': {
      const t = splitTarget(w.target, 2);
      const uid = (body['preconditions'] as { uid?: unknown } | undefined)?.uid;
      return t && w.result === 'deleted' ? { kind: 'deletedPod', action: a.type, namespace: t[0] as string, name: t[1] as string, uid: typeof uid === 'string' ? uid : '?' } : undefined;
    }
  }
}

/** What the records say this responder changed, as undo items. Pure. */
export function planUndo(report: TriageReport, effects: readonly EffectRecord[]): UndoPlan {
  const notes: string[] = [];
  const items: UndoItem[] = [];
  const recorded = new Set(effects.flatMap((r) => r.actions.map((x) => x.type)));
  for (const a of report.actions) {
    if (a.mode !== 'enforce' || a.status !== 'done') continue;
    // The effect records are written best effort: when there are some, they must list the action.
    if (effects.length > 0 && !recorded.has(a.type)) {
      notes.push(`${a.type}: the report says done but no effect record lists it: left alone`);
      continue;
    }
    for (const w of a.writes) {
      if (!w.attempted) continue;
      const item = itemOf(a, w, report.incident.findingId, notes);
      if (item) items.push(item);
    }
  }
  const inReport = new Set(report.actions.filter((a) => a.status === 'done' && a.mode === 'enforce').map((a) => a.type));
  for (const r of effects) {
    for (const x of r.actions) if (!inReport.has(x.type)) notes.push(`${x.type} was done by run ${r.runId} (${x.detail}), whose writes this report does not list: revert it by hand`);
  }
  return { items, notes };
}

const is404 = (err: unknown): boolean => classifyError(err).code === 404;

async function revertPolicy(i: Extract<UndoItem, { kind: 'networkPolicy' }>, w: Workloads, signal?: AbortSignal): Promise<Omit<UndoResult, 'action' | 'target'>> {
  const np = await w.readNetworkPolicy(i.namespace, i.name, signal);
  if (!np) return { status: 'nothing-to-do', detail: 'the NetworkPolicy no longer exists' };
  const foreign = Object.entries(i.ownLabels).filter(([k, v]) => np.labels[k] !== v);
  if (foreign.length > 0) {
    return { status: 'refused', detail: `not ours: label ${foreign.map(([k, v]) => `${k}=${v}`).join(', ')} expected, found ${foreign.map(([k]) => `${k}=${np.labels[k] ?? '(none)'}`).join(', ')}` };
  }
  const r = await w.deleteNetworkPolicy(i.namespace, i.name, { uid: np.uid }, signal);
  return r === 'deleted' ? { status: 'reverted', detail: `deleted NetworkPolicy ${i.namespace}/${i.name} (uid ${np.uid}): the pod is no longer isolated` } : { status: 'nothing-to-do', detail: 'the NetworkPolicy was deleted meanwhile' };
}

async function revertPodMetadata(i: Extract<UndoItem, { kind: 'podMetadata' }>, w: Workloads, signal?: AbortSignal): Promise<Omit<UndoResult, 'action' | 'target'>> {
  const pod = await w.readPod(i.namespace, i.name, signal).catch((err: unknown) => (is404(err) ? null : Promise.reject(err)));
  if (!pod) return { status: 'nothing-to-do', detail: 'the pod no longer exists' };
  if (pod.uid !== i.uid) return { status: 'nothing-to-do', detail: `the pod by that name is another pod now (uid ${pod.uid}, ours was ${i.uid}): ours is gone` };
  const same = (live: Record<string, string>, wrote: Record<string, string>): string[] => Object.keys(wrote).filter((k) => live[k] === wrote[k]);
  const changed = (live: Record<string, string>, wrote: Record<string, string>): string[] => Object.keys(wrote).filter((k) => k in live && live[k] !== wrote[k]);
  const labels = same(pod.labels, i.labels);
  const annotations = same(pod.annotations, i.annotations);
  const kept = [...changed(pod.labels, i.labels), ...changed(pod.annotations, i.annotations)];
  const keptNote = kept.length > 0 ? `; left ${kept.join(', ')} (changed since we wrote it)` : '';
  if (labels.length + annotations.length === 0) return { status: kept.length > 0 ? 'refused' : 'nothing-to-do', detail: `none of our keys is as we wrote it${keptNote}` };
  await w.removePodMetadata(i.namespace, i.name, { uid: i.uid, labels, annotations }, signal);
  return { status: 'reverted', detail: `removed ${[...labels.map((k) => `label ${k}`), ...annotations.map((k) => `annotation ${k}`)].join(', ')}${keptNote}` };
}

async function revertNode(i: Extract<UndoItem, { kind: 'node' }>, w: Workloads, signal?: AbortSignal): Promise<Omit<UndoResult, 'action' | 'target'>> {
  const node = await w.readNode(i.name, signal).catch((err: unknown) => (is404(err) ? null : Promise.reject(err)));
  if (!node) return { status: 'nothing-to-do', detail: 'the node no longer exists' };
  if (!node.unschedulable) return { status: 'nothing-to-do', detail: 'the node is already schedulable' };
  await w.uncordonNode(i.name, signal);
  return { status: 'reverted', detail: `node ${i.name} uncordoned (schedulable again)` };
}

/** Reverts one item against the live cluster, after checking it is still what we made. */
export async function revertItem(i: UndoItem, w: Workloads, signal?: AbortSignal): Promise<UndoResult> {
  const base = { action: i.action, target: itemTarget(i) };
  try {
    switch (i.kind) {
      case 'deletedPod':
        return { ...base, status: 'irreversible', detail: `pod ${i.namespace}/${i.name} (uid ${i.uid}) was deleted: a deleted pod cannot be restored (its controller, if any, has created a replacement)` };
      case 'networkPolicy':
        return { ...base, ...(await revertPolicy(i, w, signal)) };
      case 'podMetadata':
        return { ...base, ...(await revertPodMetadata(i, w, signal)) };
      case 'node':
        return { ...base, ...(await revertNode(i, w, signal)) };
    }
  } catch (err) {
    return { ...base, status: 'failed', detail: classifyError(err).reason };
  }
}

/** Reverts every item in order (the NetworkPolicy before the label it selects on). */
export async function executeUndo(plan: UndoPlan, w: Workloads, signal?: AbortSignal): Promise<UndoResult[]> {
  const out: UndoResult[] = [];
  for (const i of plan.items) out.push(await revertItem(i, w, signal));
  return out;
}
