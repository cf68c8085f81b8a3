// Remembers which NotificationMessage objects came out of schema validation, so toIncident()
// does not validate decodeMessage()'s output a second time (the full zod pass over a
// finding is a large share of the per-message cost). Identity-based: the set holds the
// exact objects the schema produced, and a WeakSet lets them be collected with the message.
// The decoded message is treated as read-only; code that wants to change one builds a new
// object, which is then validated again.
import type { NotificationMessage } from './schema.js';

const validated = new WeakSet<object>();

/** Records that `message` is the output of notificationMessageSchema. */
export function markValidated(message: NotificationMessage): NotificationMessage {
  validated.add(message);
  return message;
}

/** True when `value` is an object the schema produced (not merely one that looks like it). */
export function isValidated(value: unknown): value is NotificationMessage {
  return typeof value === 'object' && value !== null && validated.has(value);
}
