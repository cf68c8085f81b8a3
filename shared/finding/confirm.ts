// The message is attacker-writable (anyone who may publish to the findings topic); SCC's own
// copy of the finding is not. compareWithScc() decides whether SCC confirms the message:
// the finding exists, is ACTIVE, not muted, comes from Container Threat Detection, and names
// the same resource, pod and process. eventTimeProblem() is the freshness check. Pure.
import type { Incident } from './types.js';
import type { SccSource } from '../ports.js';
import { toIncident } from './incident.js';

export const CTD_SOURCE_DISPLAY_NAME = 'Container Threat Detection';
/** Clock skew tolerated between SCC's detectors and this instance. */
export const FUTURE_SKEW_MS = 5 * 60_000;

export type Comparison = { confirmed: true; incident: Incident } | { confirmed: false; reasons: string[] };

export interface CompareInput {
  /** The incident read from the message. */
  message: Incident;
  /** SCC's copy (`{ finding, resource }` in the message's JSON shape), or null when SCC has none. */
  copy: { finding: Record<string, unknown>; resource?: Record<string, unknown> } | null;
  /** The finding's source as SCC describes it (null: unknown source). */
  source: SccSource | null;
  /** Source names accepted as CTD; empty: by display name. */
  acceptedSources: readonly string[];
}

/** `organizations/O/sources/S` of a finding name (any parent kind keeps the source id). */
export function sourceIdOf(findingName: string): string | undefined {
  return /\/sources\/([^/]+)\//.exec(findingName)?.[1];
}

const show = (v: string | undefined): string => (v === undefined ? '(none)' : JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v));

/** Fields an attacker would change to aim the response elsewhere: they must equal SCC's. */
const SAME_FIELDS: readonly [string, (i: Incident) => string | undefined][] = [
  ['category', (i) => i.category],
  ['resource', (i) => i.resourceName],
  ['namespace', (i) => i.namespace],
  ['pod', (i) => i.pod],
  ['container', (i) => i.container],
  ['binary path', (i) => i.binary?.path],
  ['binary sha256', (i) => i.binary?.sha256],
];

export function sourceProblem(findingName: string, parent: string | undefined, source: SccSource | null, accepted: readonly string[]): string | undefined {
  if (!parent) return 'SCC\'s copy names no source (parent)';
  if (sourceIdOf(findingName) !== parent.split('/').at(-1)) return `the finding name's source is not SCC's parent ${show(parent)}`;
  if (accepted.length > 0) return accepted.includes(parent) ? undefined : `source ${show(parent)} is not an accepted Container Threat Detection source`;
  if (!source) return `source ${show(parent)} is unknown to SCC`;
  if (source.displayName !== CTD_SOURCE_DISPLAY_NAME) return `source ${show(parent)} is ${show(source.displayName)}, not ${CTD_SOURCE_DISPLAY_NAME}`;
  return undefined;
}

export function compareWithScc(input: CompareInput): Comparison {
  const { message, copy } = input;
  if (!copy) return { confirmed: false, reasons: [`SCC has no finding named ${show(message.findingName)}`] };
  const parsed = toIncident(copy);
  if (!parsed.ok) return { confirmed: false, reasons: [`SCC's copy of the finding cannot be read: ${parsed.error.message}`] };
  const scc = parsed.incident;
  const reasons: string[] = [];
  if (scc.findingName !== message.findingName) reasons.push(`SCC answered for ${show(scc.findingName)}, not ${show(message.findingName)}`);
  if (scc.state !== 'ACTIVE') reasons.push(`the finding is ${show(scc.state)} in SCC, not ACTIVE`);
  const mute = copy.finding['mute'];
  if (mute === 'MUTED') reasons.push('the finding is muted in SCC');
  const parent = typeof copy.finding['parent'] === 'string' ? copy.finding['parent'] : undefined;
  const src = sourceProblem(message.findingName, parent, input.source, input.acceptedSources);
  if (src) reasons.push(src);
  for (const [field, get] of SAME_FIELDS) {
    const a = get(message);
    const b = get(scc);
    if (a !== b) reasons.push(`${field} differs: message ${show(a)}, SCC ${show(b)}`);
  }
  return reasons.length > 0 ? { confirmed: false, reasons } : { confirmed: true, incident: scc };
}

/** Why an eventTime is not acceptable now (future, or older than the window); undefined when fine. */
export function eventTimeProblem(eventTime: string, now: Date, maxAgeMs: number): string | undefined {
  const t = Date.parse(eventTime);
  if (Number.isNaN(t)) return `eventTime ${show(eventTime)} is not a time`;
  if (t > now.getTime() + FUTURE_SKEW_MS) return `eventTime ${eventTime} is in the future`;
  if (now.getTime() - t > maxAgeMs) return `eventTime ${eventTime} is older than the policy's window (${Math.round(maxAgeMs / 3_600_000)} h)`;
  return undefined;
}
