// Object keys for evidence, built from finding data an attacker may influence (pod names come
// from the cluster, paths and ids from the finding). Every segment goes through keySegment(),
// the one sanitiser: the result is always a single, harmless path segment, and two different
// inputs never map to the same segment (up to a 64-bit hash collision), so no finding can write
// into another finding's prefix or outside the store's root.
import { createHash } from 'node:crypto';

/** Longest segment we produce: well under the 255-byte file-name limit and GCS's 1024-byte names. */
export const MAX_SEGMENT_LENGTH = 100;

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;
/** Suffix marking an altered segment. A verbatim segment never ends like this (see keySegment). */
const ALTERED_SUFFIX = /-h[0-9a-f]{16}$/;

function shortHash(raw: string): string {
  return createHash('sha256').update(raw, 'utf8').digest('hex').slice(0, 16);
}

/** True when `segment` is already a safe single segment that keySegment() keeps verbatim. */
export function isVerbatimSegment(segment: string): boolean {
  return (
    segment.length > 0 &&
    segment.length <= MAX_SEGMENT_LENGTH &&
    segment !== '.' &&
    segment !== '..' &&
    SAFE_SEGMENT.test(segment) &&
    !ALTERED_SUFFIX.test(segment)
  );
}

/**
 * Turns any string into one safe key segment: [A-Za-z0-9._-], 1..100 characters, never `.`
 * or `..`. Safe names are kept as they are. Anything else (empty, `.`, `..`, `/`, NUL,
 * non-ASCII, too long, or a name that merely looks like an altered one) has its unsafe
 * characters replaced by `_`, is cut to length, and gets `-h<16 hex of SHA-256(raw)>`, so
 * `a/b` and `a_b` stay different objects.
 */
export function keySegment(raw: string): string {
  if (isVerbatimSegment(raw)) return raw;
  const suffix = `-h${shortHash(raw)}`;
  const body = raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_SEGMENT_LENGTH - suffix.length);
  // '', '.' and '..' followed by the suffix are harmless, but a leading '_' reads better.
  return `${body === '' || body === '.' || body === '..' ? `_${body}` : body}${suffix}`;
}

export class UnsafeKeyError extends Error {
  constructor(key: string, why: string) {
    super(`unsafe evidence key ${JSON.stringify(key)}: ${why}`);
    this.name = 'UnsafeKeyError';
  }
}

/**
 * Stores call this on every key they receive (defence in depth: keys should come from
 * layout.ts). A safe key is one or more `/`-separated segments, each of which is one a
 * sanitiser could have produced: no empty, `.` or `..` segment, nothing outside [A-Za-z0-9._-].
 */
export function assertSafeKey(key: string): void {
  if (key.length === 0) throw new UnsafeKeyError(key, 'empty');
  if (key.length > 900) throw new UnsafeKeyError(key, 'longer than 900 characters');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new UnsafeKeyError(key, `segment ${JSON.stringify(segment)}`);
    if (segment.length > MAX_SEGMENT_LENGTH) throw new UnsafeKeyError(key, 'segment too long');
    if (!SAFE_SEGMENT.test(segment)) throw new UnsafeKeyError(key, `segment ${JSON.stringify(segment)} has characters outside [A-Za-z0-9._-]`);
  }
}

/** Like assertSafeKey for list() prefixes, which may end with `/` or be empty. */
export function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  assertSafeKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
