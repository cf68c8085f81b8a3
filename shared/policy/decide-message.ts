// The pure front half of the pipeline in one call: raw input -> decoded message ->
// Incident -> Decision. The function handler and the CLI both start here; each failure
// says at which stage it stopped so the caller can ack it with the right audit entry.
import { decodeMessage, type DecodeContext, type DecodeError, type Envelope } from '../finding/decode.js';
import { toIncident, type IncidentError } from '../finding/incident.js';
import type { Incident } from '../finding/types.js';
import { decide } from './decide.js';
import type { Policy } from './schema.js';
import type { Decision } from './types.js';

export type MessageDecision =
  | { stage: 'decode'; ok: false; error: DecodeError }
  | { stage: 'incident'; ok: false; envelope: Envelope; error: IncidentError }
  | { stage: 'decide'; ok: true; envelope: Envelope; incident: Incident; decision: Decision };

/** Never throws (decodeMessage, toIncident and decide are total). */
export function decideMessage(input: unknown, policy: Policy, context: DecodeContext = {}): MessageDecision {
  const decoded = decodeMessage(input, context);
  if (!decoded.ok) return { stage: 'decode', ok: false, error: decoded.error };
  const built = toIncident(decoded.message);
  if (!built.ok) return { stage: 'incident', ok: false, envelope: decoded.envelope, error: built.error };
  return { stage: 'decide', ok: true, envelope: decoded.envelope, incident: built.incident, decision: decide(built.incident, policy) };
}
