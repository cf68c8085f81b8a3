// The V8 compile cache warmed at deploy-build time (the artefact's `gcp-build` script,
// warm-compile-cache.mjs) and read on a cold start: parsing and compiling the bundle's chunks
// is a large part of the one-time loading on the path to the first DELETE.
//
// Node keys the cache by the file's absolute path and keeps it in a sub-directory named for
// the Node version, architecture, V8 flags (v8.cachedDataVersionTag) and user id. The build
// and the instance both see the app at /workspace, but the Node build, the flags (the
// buildpack adds --max-old-space-size at launch) or the user may differ: then no entry can
// be used, and enabling the cache would only make Node create a directory and write entries
// into the (possibly read-only) source. So the cache is enabled only when the directory for
// this very process exists; otherwise the function runs as without it. Every case leaves one
// DEBUG line and never throws: a cache is an optimisation, never a reason not to start.
import { existsSync, readdirSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { cachedDataVersionTag } from 'node:v8';

/** The sub-directory Node 22 uses for this process's entries (see the header). */
export function compileCacheTag(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return `v${process.versions.node}-${process.arch}-${cachedDataVersionTag().toString(16)}-${uid}`;
}

/** Enables the shipped cache in `dir` when it was built for this process; returns what happened. */
export function enableShippedCompileCache(dir: string): string {
  try {
    if (typeof module.enableCompileCache !== 'function') return 'not used: this Node has no module.enableCompileCache';
    if (!existsSync(dir)) return `not used: ${dir} is missing (the gcp-build step did not run)`;
    const tag = compileCacheTag();
    if (!existsSync(path.join(dir, tag))) {
      const built = readdirSync(dir).filter((name) => name.startsWith('v')).join(', ') || 'none';
      return `not used: built for ${built}, this process needs ${tag} (another Node build, V8 flags or user)`;
    }
    const result = module.enableCompileCache(dir);
    const status = Object.entries(module.constants.compileCacheStatus).find(([, v]) => v === result.status)?.[0] ?? String(result.status);
    return `${status.toLowerCase()}: ${path.join(dir, tag)}${result.message ? ` (${result.message})` : ''}`;
  } catch (err) {
    return `not used: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Writes the one DEBUG line (structured, as the function's other logs). */
export function logCompileCache(outcome: string): void {
  process.stdout.write(`${JSON.stringify({ severity: 'DEBUG', message: `compile cache ${outcome}` })}\n`);
}
