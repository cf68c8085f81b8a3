// The pure front half of the pipeline in one call: raw input -> decoded message ->
// Incident -> Decision. The function handler and the CLI both start here; each failure
// says at which stage it stopped so the caller can ack it with the right audit entry.
import { decodeMessage, decodeWithScreen, type DecodeContext, type DecodeError, type Envelope, type FindingHeader } from '../finding/decode.js';
import { toIncident, type IncidentError } from '../finding/incident.js';
import type { Incident } from '../finding/types.js';
import { categoryNotCovered, coversCategory, decide } from './decide.js';
import type { Policy } from './schema.js';
import type { Decision, NoMatch } from './types.js';

export type MessageDecision =
  | { stage: 'decode'; ok: false; error: DecodeError }
  | { stage: 'incident'; ok: false; envelope: Envelope; error: IncidentError }
  | { stage: 'decide'; ok: true; envelope: Envelope; incident: Incident; decision: Decision };

/**
 * A message screened out before validation: its finding has a sound name and a category no
 * rule covers. `decision` is exactly the NoMatch decide() gives such a finding
 * (`category-not-covered`, same reason text); there is no Incident (none was built).
 */
export interface ScreenedDecision {
  stage: 'screen';
  ok: true;
  envelope: Envelope;
  finding: FindingHeader;
  decision: NoMatch & { code: 'category-not-covered' };
}

export type ScreenedMessageDecision = MessageDecision | ScreenedDecision;

/** Never throws (decodeMessage, toIncident and decide are total). */
export function decideMessage(input: unknown, policy: Policy, context: DecodeContext = {}): MessageDecision {
  const decoded = decodeMessage(input, context);
  if (!decoded.ok) return { stage: 'decode', ok: false, error: decoded.error };
  const built = toIncident(decoded.message);
  if (!built.ok) return { stage: 'incident', ok: false, envelope: decoded.envelope, error: built.error };
  return { stage: 'decide', ok: true, envelope: decoded.envelope, incident: built.incident, decision: decide(built.incident, policy) };
}

/**
 * decideMessage() with the filter's fast path, for the function handler: a well-formed
 * envelope whose finding has a sound name and a category the policy does not cover is
 * answered `stage: 'screen'` without validating the rest of the finding or building an
 * Incident (several times cheaper; most notifications SCC sends are such).
 * Everything else goes through decideMessage()'s stages unchanged.
 *
 * The one difference from decideMessage(): a finding of an uncovered category that is
 * malformed elsewhere (say, a bad eventTime) is ignored here instead of rejected. It is
 * not ours either way and is acked either way; only the audit entry differs.
 * Never throws.
 */
export function screenMessage(input: unknown, policy: Policy, context: DecodeContext = {}): ScreenedMessageDecision {
  const decoded = decodeWithScreen(input, (header) => coversCategory(policy, header.category), context);
  if (!decoded.ok) return { stage: 'decode', ok: false, error: decoded.error };
  if ('screened' in decoded) {
    const decision = categoryNotCovered(decoded.header.category, policy) as ScreenedDecision['decision'];
    return { stage: 'screen', ok: true, envelope: decoded.envelope, finding: decoded.header, decision };
  }
  const built = toIncident(decoded.message);
  if (!built.ok) return { stage: 'incident', ok: false, envelope: decoded.envelope, error: built.error };
  return { stage: 'decide', ok: true, envelope: decoded.envelope, incident: built.incident, decision: decide(built.incident, policy) };
}
