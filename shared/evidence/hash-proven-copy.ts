// The collector's first guess at the binary, read at once beside its first /proc reads:
// `cat /proc/1/root<path>`, the file under the root of the namespace's first process (the
// target container's own first process: the collector shares its pid namespace). Without it
// the copy waits a round for the exe links to name the process that ran the file.
//
// Why a guess may be kept: only a copy whose bytes have the SHA-256 the finding carries for
// the whole file is kept, and such a copy is the binary SCC saw, whatever process or path it was
// read through (a match is authentic: hashing.ts). So the guess needs the finding's whole-file
// hash, and it reads at most the size the finding gives: a larger file cannot match, and the
// guess never takes more of the snapshot's exec byte total than the real copy needs.
// Anything else drops it unstored (the store never finalises it) and the search's copy runs as
// before: another root (in a pod that shares one pid namespace, pid 1 is the pause process), a
// file replaced or deleted since it ran, a file the kernel will not let the collector read.
import type { BinaryInfo } from '../finding/types.js';
import { runCopy, type CopyDeps, type CopyResult, type CopySink } from './copy-attempt.js';
import type { ExecAttempt } from './types.js';

/** The guess's copy, started; `result` never rejects. */
export interface HashProvenCopy {
  source: string;
  result: Promise<CopyResult>;
  /** Resolves true once the copy is stored (or another writer's is there), false otherwise. */
  kept: Promise<boolean>;
}

/** Whether the finding's hash can prove a copy: a SHA-256 of the whole file (not partially hashed). */
function provable(binary: BinaryInfo | undefined): binary is BinaryInfo & { sha256: string } {
  return binary?.sha256 !== undefined && binary.partiallyHashed !== true;
}

/** Starts the guess when the finding's hash can prove it; undefined otherwise. */
export function startHashProvenCopy(deps: CopyDeps, container: string, path: string, sink: (source: string) => CopySink): HashProvenCopy | undefined {
  if (!provable(deps.binary)) return undefined;
  const source = `/proc/1/root${path}`;
  const maxBytes = deps.binary?.size === undefined ? deps.maxBytes : Math.min(deps.maxBytes, deps.binary.size);
  const keep: CopySink['keep'] = (hash) =>
    hash.verdict === 'matches' && hash.compared === 'whole-file' ? undefined : `read at once from ${source} (the first process's root); not kept, its bytes are not the finding's binary: ${hash.explanation}`;
  const result = runCopy({ ...deps, maxBytes }, { method: 'debug-container', container, command: ['cat', '--', source], source, sink: { ...sink(source), keep } });
  return { source, result, kept: result.then((r) => r.kind === 'stored' || r.kind === 'exists') };
}

/** The guess's copy when kept; otherwise its attempt is recorded and undefined returned. */
export async function keptHashProvenCopy(guess: HashProvenCopy, attempts: ExecAttempt[]): Promise<Extract<CopyResult, { kind: 'stored' | 'exists' }> | undefined> {
  const r = await guess.result;
  if (r.kind === 'stored' || r.kind === 'exists') {
    attempts.push({ ...r.attempt, reason: `read at once from ${guess.source} (the first process's root), kept: its SHA-256 is the finding's${r.attempt.reason ? `; ${r.attempt.reason}` : ''}` });
    return r;
  }
  const reason = r.kind === 'failed' && r.failure !== 'aborted' ? `read at once from ${guess.source} (the first process's root); not kept: ${r.reason}` : r.attempt.reason;
  attempts.push({ ...r.attempt, outcome: 'aborted', ...(reason === undefined ? {} : { reason }) });
  return undefined;
}
