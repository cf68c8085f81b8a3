// The metadata the responder writes on pods and NetworkPolicies, in one place so the
// quarantine selector, the finding label and the tests cannot drift apart.
import { createHash } from 'node:crypto';

export const LABEL_FINDING = 'scc-responder/finding';
export const ANNOTATION_FINDING = 'scc-responder/finding';
export const LABEL_QUARANTINE = 'scc-responder/quarantine';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'scc-responder';
/** Prefix of every label key the responder itself writes (ignored when matching a replacement pod). */
export const OWN_LABEL_PREFIX = 'scc-responder/';

const LABEL_VALUE_MAX = 63;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isLabelValue(value: string): boolean {
  return value.length <= LABEL_VALUE_MAX && LABEL_VALUE_RE.test(value);
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * A label value carrying `raw` as far as label syntax allows (63 chars of [A-Za-z0-9-_.],
 * alphanumeric at both ends). When characters had to be replaced or cut, a short hash of the
 * original is appended so two different ids never collapse to the same value.
 */
export function toLabelValue(raw: string): string {
  if (isLabelValue(raw)) return raw;
  const hash = shortHash(raw, 8);
  const cleaned = raw
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, LABEL_VALUE_MAX - hash.length - 1)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return cleaned === '' ? hash : `${cleaned}-${hash}`;
}

/**
 * The quarantine value for one finding on one pod instance: unique, so the deny-all policy
 * selects exactly this pod and never sibling pods that share the workload's labels; stable,
 * so a redelivered finding writes the same label and finds its NetworkPolicy already there.
 */
export function quarantineValue(findingName: string, podUid: string): string {
  return `q-${shortHash(`${findingName}\n${podUid}`, 12)}`;
}

/** NetworkPolicy names are DNS subdomain names: the quarantine value is already lower-case hex. */
export function quarantinePolicyName(value: string): string {
  return `scc-quarantine-${value}`;
}
