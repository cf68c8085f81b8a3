// Validation of the binary path taken from the finding. The path is hostile data: it is only
// ever passed as one argv element (never through a shell) and never used to build a local
// file name or a store key (keys come from keys.ts).
import { posix } from 'node:path';

export const MAX_PATH_LENGTH = 4096;

export type PathCheck =
  | { ok: true; /** normalised absolute path read inside the container */ path: string; requested: string; normalised: boolean }
  | { ok: false; requested: string; reason: string };

/**
 * Accepts an absolute path without NUL, CR or LF, normalises it (`/a/./b//c` -> `/a/b/c`,
 * `/../../etc/x` -> `/etc/x`: `..` cannot climb above `/` inside the container, so that
 * is the file the kernel would open too), and refuses anything that names a directory.
 */
export function validateBinaryPath(requested: string): PathCheck {
  const fail = (reason: string): PathCheck => ({ ok: false, requested, reason });
  if (requested.length === 0) return fail('the finding has an empty binary path');
  if (requested.length > MAX_PATH_LENGTH) return fail(`the binary path is longer than ${MAX_PATH_LENGTH} characters`);
  if (requested.includes('\0')) return fail('the binary path contains a NUL byte');
  if (/[\r\n]/.test(requested)) return fail('the binary path contains a line break');
  if (!requested.startsWith('/')) return fail('the binary path is not absolute');
  const last = requested.slice(requested.lastIndexOf('/') + 1);
  if (last === '' || last === '.' || last === '..') return fail('the binary path names a directory');
  const path = posix.normalize(requested);
  if (path === '/' || path.endsWith('/')) return fail('the binary path names a directory');
  return { ok: true, path, requested, normalised: path !== requested };
}
