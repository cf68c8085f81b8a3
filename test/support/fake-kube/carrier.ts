// Which connection carried a request, from the fake API server's connection log: what the
// connection-reuse tests ask of it.
import type { FakeConnectionEvent } from './types.js';

/**
 * The first request `key` (`METHOD /path`) logged after `mark`: the connection (`conn`) that
 * carried it, and whether an earlier request after `mark` had already used that connection.
 * Undefined when no such request was logged.
 */
export function carrierOf(log: readonly FakeConnectionEvent[], mark: number, key: string): { conn: number; reused: boolean } | undefined {
  const after = log.filter((e) => e.seq > mark);
  const at = after.findIndex((e) => e.kind === 'request' && e.key === key);
  const event = after[at];
  if (event === undefined) return undefined;
  return { conn: event.conn, reused: after.slice(0, at).some((e) => e.kind === 'request' && e.conn === event.conn) };
}
