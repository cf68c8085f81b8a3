// The deployed entry point (the staged artefact's package.json main): enables the compile
// cache warmed at deploy-build time, THEN loads the function. Static imports are linked before
// any statement runs, so the function is imported dynamically; top-level await makes the
// Functions Framework see `sccResponder` registered when this module's import resolves.
// Imports nothing but node: built-ins before the cache is on.
import { fileURLToPath } from 'node:url';
import { enableShippedCompileCache, logCompileCache } from './compile-cache.js';

// Bundled as dist/bundle/main.mjs: the cache sits at the artefact's root.
logCompileCache(enableShippedCompileCache(fileURLToPath(new URL('../../.compile-cache', import.meta.url))));
await import('./index.js');
