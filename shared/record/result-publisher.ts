// The results topic: each finding's result summary (shared/respond/result-summary.ts;
// scrubbed again here, whatever the caller did) published as JSON with attributes subscribers can filter on (`attributes.action =
// "deleted"`) and the finding name as ordering key, so the results of one finding (a
// dry-run, then an enforce run after a policy change) arrive in order.
//
// Pure: the adapter that publishes is shared/gcp/pubsub-publisher.ts.
import { ResponderError } from '../common/errors.js';
import { defaultScrubber, type Scrubber } from './scrub.js';
import { RESPONDER_NAME } from '../common/product.js';

/** Facts subscribers filter on; every value becomes a string attribute (absent ones are left out). */
export interface ResultFacts {
  findingName: string;
  category?: string;
  severity?: string;
  /** What was done (marks vocabulary): `would-delete`, `deleted`, `none`, ... */
  action?: string;
  /** Cluster name (short), e.g. `payments`. */
  cluster?: string;
  verdict?: string;
  mode?: string;
  rule?: string;
  project?: string;
}

export interface ResultMessage {
  payload: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
}

/** Pub/Sub limits: attribute keys <= 256 bytes, values <= 1024 bytes, ordering key <= 1024 bytes. */
const MAX_ATTRIBUTE_VALUE = 1024;
const MAX_ORDERING_KEY = 1024;
/** Bumped when the payload's shape changes incompatibly, so subscribers can filter on it. */
export const RESULT_SCHEMA = 'scc-responder.triage-summary.v1';

function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = Buffer.from(s).subarray(0, max).toString('utf8');
  // A cut inside a multi-byte character leaves U+FFFD: drop it.
  while (out.endsWith('\uFFFD') || Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

export function resultAttributes(facts: ResultFacts, scrub: Scrubber = defaultScrubber): Record<string, string> {
  const attrs: Record<string, string> = { producer: RESPONDER_NAME, schema: RESULT_SCHEMA, finding: facts.findingName };
  const optional: [string, string | undefined][] = [
    ['category', facts.category], ['severity', facts.severity], ['action', facts.action], ['cluster', facts.cluster],
    ['verdict', facts.verdict], ['mode', facts.mode], ['rule', facts.rule], ['project', facts.project],
  ];
  for (const [k, v] of optional) if (v !== undefined && v !== '') attrs[k] = v;
  for (const k of Object.keys(attrs)) attrs[k] = truncateBytes(scrub.text(attrs[k] ?? ''), MAX_ATTRIBUTE_VALUE);
  return attrs;
}

/** The message for one report: scrubbed JSON payload, filterable attributes, ordering key = finding name. */
export function resultMessage(report: unknown, facts: ResultFacts, scrub: Scrubber = defaultScrubber): ResultMessage {
  if (Buffer.byteLength(facts.findingName) > MAX_ORDERING_KEY) {
    throw new ResponderError(`finding name too long for a Pub/Sub ordering key (${Buffer.byteLength(facts.findingName)} bytes)`, 'permanent', { code: 'ORDERING_KEY_TOO_LONG' });
  }
  return {
    payload: Buffer.from(JSON.stringify(scrub.value(report))),
    attributes: resultAttributes(facts, scrub),
    orderingKey: facts.findingName,
  };
}
