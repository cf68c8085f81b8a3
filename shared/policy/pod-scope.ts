// The part of a rule that is about the pod (namespace, labels, image), judged again on the
// pod as read just before acting. decide() judged the finding's copy of these values, which
// the message carries and an attacker with publish rights can write; a label added after the
// detection (an exemption) is only on the live pod. A mismatch refuses the action.
import { globMatch } from './glob.js';
import type { PolicyRule } from './schema.js';

export interface PodMatchers {
  namespaces?: readonly string[];
  podLabels?: Readonly<Record<string, string>>;
  images?: readonly string[];
}

/** The rule's pod matchers, carried in the plan: every `match` field must hold, no `exclude` field may. */
export interface PodScope {
  match?: PodMatchers;
  exclude?: PodMatchers;
}

/** The live pod's values the scope is judged on. */
export interface LivePod {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Per judged container (the finding's, else every one): its image and imageID. */
  containerImages: readonly (readonly string[])[];
}

function pick(m: PodMatchers | undefined): PodMatchers | undefined {
  if (m === undefined) return undefined;
  const out: PodMatchers = {
    ...(m.namespaces ? { namespaces: m.namespaces } : {}),
    ...(m.podLabels ? { podLabels: m.podLabels } : {}),
    ...(m.images ? { images: m.images } : {}),
  };
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The rule's pod matchers, or undefined when it has none. */
export function podScopeOf(rule: Pick<PolicyRule, 'match' | 'exclude'>): PodScope | undefined {
  const match = pick(rule.match);
  const exclude = pick(rule.exclude);
  if (match === undefined && exclude === undefined) return undefined;
  return { ...(match ? { match } : {}), ...(exclude ? { exclude } : {}) };
}

const show = (v: string): string => JSON.stringify(v);

/** Why the live pod fails `match` (first reason), or undefined when every given field holds. */
function matchFailure(m: PodMatchers, pod: LivePod): string | undefined {
  if (m.namespaces && !m.namespaces.some((p) => globMatch(p, pod.namespace))) return `namespace ${show(pod.namespace)} matches none of match.namespaces`;
  for (const [key, pattern] of Object.entries(m.podLabels ?? {})) {
    const v = Object.hasOwn(pod.labels, key) ? pod.labels[key] : undefined;
    if (v === undefined || !globMatch(pattern, v)) return `label ${key} (${v === undefined ? 'absent' : show(v)}) does not match match.podLabels ${show(pattern)}`;
  }
  const images = m.images;
  if (images) {
    if (pod.containerImages.length === 0) return 'no container image to judge against match.images';
    // Every judged container must be in scope (when the finding names none, all of them).
    const outside = pod.containerImages.find((values) => !values.some((v) => images.some((p) => globMatch(p, v))));
    if (outside !== undefined) return `image ${show(outside[0] ?? '(none)')} matches none of match.images`;
  }
  return undefined;
}

/** The first exclusion that holds on the live pod, or undefined. */
function exclusion(x: PodMatchers, pod: LivePod): string | undefined {
  const ns = x.namespaces?.find((p) => globMatch(p, pod.namespace));
  if (ns !== undefined) return `namespace ${show(pod.namespace)} matches exclude.namespaces ${show(ns)}`;
  for (const [key, pattern] of Object.entries(x.podLabels ?? {})) {
    const v = Object.hasOwn(pod.labels, key) ? pod.labels[key] : undefined;
    if (v !== undefined && globMatch(pattern, v)) return `label ${key}=${show(v)} matches exclude.podLabels ${show(pattern)}`;
  }
  for (const values of pod.containerImages) {
    for (const v of values) {
      const hit = x.images?.find((p) => globMatch(p, v));
      if (hit !== undefined) return `image ${show(v)} matches exclude.images ${show(hit)}`;
    }
  }
  return undefined;
}

/** undefined when the live pod is still in the rule's scope, else why not. */
export function livePodOutOfScope(scope: PodScope, pod: LivePod): string | undefined {
  const failed = scope.match === undefined ? undefined : matchFailure(scope.match, pod);
  if (failed !== undefined) return failed;
  return scope.exclude === undefined ? undefined : exclusion(scope.exclude, pod);
}
