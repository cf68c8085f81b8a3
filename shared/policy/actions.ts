// The action catalog: every containment action's type, parameters, destructiveness, order
// and report/mark words, written once. The policy schema (schema.ts), the marks vocabulary
// (record/marks.ts), the pipeline's early/late split and the executor all read this table;
// the behaviour (guards, writes, report line) lives in shared/contain/actions/<type>.ts.
// It sits on the policy floor because the policy file's schema is built from it.
//
// Adding an action: one entry here + one behaviour file registered in contain/registry.ts
// (the compiler insists on the registration: registry.ts is typed by ActionType).
import { z } from '../common/zod.js';

/** The words one action's outcome is told in (marks, report summary). */
export interface ActionWords {
  /** Past tense when it took effect: `deleted`. */
  done: string;
  /** What dry-run (or a degraded enforce) says: `would-delete`. */
  would: string;
  /** Stem for refusals and failures: `delete` -> `delete-refused`, `delete-failed`. */
  noun: string;
  /** When there was nothing left to do (the pod is gone, the node already cordoned). */
  skipped: string;
}

export interface ActionEntry<S extends z.ZodObject = z.ZodObject> {
  /** What the action writes to. */
  target: 'pod' | 'node';
  /**
   * Changes what runs (not only metadata): gated by evidence when the rule requires it,
   * counted by the blast-radius limit, and marks the finding `contained` when done.
   * Non-destructive actions run early, as soon as the pod is read (no evidence needed).
   */
  destructive: boolean;
  /**
   * Execution order, lower first: record on the pod (cheap, leaves a trace even if later
   * steps fail), isolate, stop scheduling on the node (so a deleted pod's replacement lands
   * elsewhere), irreversible delete last.
   */
  order: number;
  /** One line for the policy's JSON Schema. */
  description: string;
  /** The action's parameters in the policy file (without `type`). Strict: a misspelt key is an error. */
  params: S;
  words: ActionWords;
}

const noParams = z.strictObject({});

export const ACTION_CATALOG = {
  labelPod: {
    target: 'pod',
    destructive: false,
    order: 10,
    description: 'Label the pod with the finding id (scc-responder/finding=<id>).',
    params: noParams,
    words: { done: 'labelled', would: 'would-label', noun: 'label', skipped: 'pod-gone' },
  },
  annotatePod: {
    target: 'pod',
    destructive: false,
    order: 11,
    description: 'Annotate the pod with the finding name.',
    params: noParams,
    words: { done: 'annotated', would: 'would-annotate', noun: 'annotate', skipped: 'pod-gone' },
  },
  quarantinePod: {
    target: 'pod',
    destructive: true,
    order: 20,
    description: 'Label the pod uniquely and apply a deny-all NetworkPolicy selecting that label; the pod stays for live forensics.',
    params: noParams,
    words: { done: 'quarantined', would: 'would-quarantine', noun: 'quarantine', skipped: 'pod-gone' },
  },
  cordonNode: {
    target: 'node',
    destructive: true,
    order: 30,
    description: "Mark the pod's node unschedulable.",
    params: noParams,
    words: { done: 'cordoned', would: 'would-cordon', noun: 'cordon', skipped: 'already-cordoned' },
  },
  deletePod: {
    target: 'pod',
    destructive: true,
    order: 40,
    description: 'Delete the pod (UID precondition) so that its controller replaces it with a clean one.',
    params: z.strictObject({
      gracePeriodSeconds: z.int().min(0).max(3600).optional().meta({
        description: "Seconds the pod gets to stop. Omitted: the pod's own terminationGracePeriodSeconds. 0: killed at once.",
      }),
      requireController: z.boolean().default(true).meta({
        description: 'Delete only pods whose controller replaces them (ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController). A bare pod is not deleted unless this is false.',
      }),
    }),
    words: { done: 'deleted', would: 'would-delete', noun: 'delete', skipped: 'pod-gone' },
  },
} as const satisfies Record<string, ActionEntry>;

export type ActionType = keyof typeof ACTION_CATALOG;

/** An action's parameters after the schema's defaults (e.g. deletePod's requireController). */
export type ActionParams<T extends ActionType> = z.output<(typeof ACTION_CATALOG)[T]['params']>;

/** Every action type, in execution order. */
export const ACTION_TYPES: readonly ActionType[] = (Object.keys(ACTION_CATALOG) as ActionType[]).sort(
  (a, b) => ACTION_CATALOG[a].order - ACTION_CATALOG[b].order,
);

export function isActionType(type: string): type is ActionType {
  return Object.hasOwn(ACTION_CATALOG, type);
}

/** The catalog entry of `type`, or undefined for a name that is not an action. */
export function actionEntry(type: string): ActionEntry | undefined {
  return isActionType(type) ? ACTION_CATALOG[type] : undefined;
}

/** Actions that disrupt the workload: gated by evidence and counted by the blast-radius limit. */
export const DESTRUCTIVE_ACTIONS: readonly ActionType[] = ACTION_TYPES.filter((t) => ACTION_CATALOG[t].destructive);

/**
 * Actions that only record the finding on the pod (label, annotate): no evidence needed,
 * nothing destroyed, so the pipeline runs them as soon as the pod is read. False for names
 * that are not actions (they run late, where the executor refuses them).
 */
export function isMetadataOnly(type: string): boolean {
  const entry = actionEntry(type);
  return entry !== undefined && !entry.destructive;
}

/** Checks raw parameters against the catalog; the reason reads like the policy loader's. */
export function parseActionParams<T extends ActionType>(type: T, raw: Record<string, unknown>): { ok: true; params: ActionParams<T> } | { ok: false; reason: string } {
  const schema: (typeof ACTION_CATALOG)[T]['params'] = ACTION_CATALOG[type].params;
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, params: r.data as ActionParams<T> };
  const reason = r.error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
  return { ok: false, reason: `${type}: ${reason}` };
}

/** A policy action item with its parameters typed by the catalog. */
export type PolicyAction = { [T in ActionType]: { type: T } & ActionParams<T> }[ActionType];

/** The policy file's `actions[]` item: `{ type, ...params }`, one strict object per catalog entry. */
export function policyActionSchemas(): z.ZodObject[] {
  return ACTION_TYPES.map((type) => {
    const entry: ActionEntry = ACTION_CATALOG[type];
    return z.strictObject({ type: z.literal(type), ...entry.params.shape }).meta({ description: entry.description });
  });
}
