// The one check of the binary path a finding names, used both when the Incident is built
// (shared/finding/incident.ts flags it, so the policy turns the snapshot off and the report
// says why) and before evidence is read (shared/evidence). The path is attacker-influenced
// data: it is only ever one argv element and never a local file name or a store key.
import { posix } from 'node:path';

export const MAX_PATH_BYTES = 4096;

export type PathCheck =
  | { ok: true; /** normalised absolute path (`//` and `/./` collapsed) */ path: string; requested: string; normalised: boolean }
  | { ok: false; requested: string; /** e.g. `contains a line break` */ problem: string; /** `the binary path contains a line break` */ reason: string };

function problemOf(requested: string): string | undefined {
  if (requested.length === 0) return 'is empty';
  if (requested.includes('\0')) return 'contains a NUL byte';
  // A line break would forge lines in `ls -l` and `head` output read back from /proc.
  if (/[\r\n]/.test(requested)) return 'contains a line break';
  if (!requested.startsWith('/')) return 'is not absolute';
  if (Buffer.byteLength(requested) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  // `..` could walk out of /proc/<pid>/root on the trusted read path.
  if (requested.split('/').includes('..')) return "contains a '..' segment";
  const last = requested.slice(requested.lastIndexOf('/') + 1);
  if (last === '' || last === '.') return 'names a directory';
  return undefined;
}

/** Accepts an absolute path to a file without NUL, line breaks or `..`, and normalises it. */
export function checkBinaryPath(requested: string): PathCheck {
  const problem = problemOf(requested);
  if (problem !== undefined) return { ok: false, requested, problem, reason: `the binary path ${problem}` };
  const path = posix.normalize(requested);
  return { ok: true, path, requested, normalised: path !== requested };
}

/** Why a binary path must not be used to read a file, or undefined when it is usable. */
export function binaryPathProblem(path: string): string | undefined {
  const c = checkBinaryPath(path);
  return c.ok ? undefined : c.problem;
}
