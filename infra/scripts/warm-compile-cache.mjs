// The staged artefact's `gcp-build` step (run by the Node.js buildpack during the deploy
// build, in the app directory the instance runs from): fills <app>/.compile-cache with V8's
// compile cache for every chunk of dist/bundle, which dist/bundle/main.mjs enables on a cold
// start (functions/scc-responder/compile-cache.ts says when it can be used).
//
// It only imports the chunks: their top level defines modules (esbuild wraps the CommonJS
// libraries in functions called on first require) and registers the handler with the
// Functions Framework; nothing is constructed, configured or connected. A failure warns and
// exits 0: the function works without the cache, the deploy must not fail for it.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const app = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(app, 'dist/bundle');
const cache = path.join(app, '.compile-cache');

function warn(message) {
  process.stderr.write(`warm-compile-cache: ${message}; the function will start without a compile cache\n`);
  process.exit(0);
}

if (typeof module.enableCompileCache !== 'function') warn(`Node ${process.version} has no module.enableCompileCache`);
rmSync(cache, { recursive: true, force: true });
mkdirSync(cache);
const result = module.enableCompileCache(cache);
if (result.status !== module.constants.compileCacheStatus.ENABLED) warn(`enableCompileCache: ${result.message ?? result.status}`);
// main.mjs is the entry that enables the cache itself: importing it here would only log.
const chunks = readdirSync(bundle).filter((f) => f.endsWith('.mjs') && f !== 'main.mjs').sort();
try {
  for (const chunk of chunks) await import(pathToFileURL(path.join(bundle, chunk)).href);
} catch (err) {
  rmSync(cache, { recursive: true, force: true });
  warn(`importing the bundle failed: ${err instanceof Error ? err.message : String(err)}`);
}
module.flushCompileCache();
const entries = readdirSync(cache, { recursive: true }).length;
process.stdout.write(`warm-compile-cache: ${chunks.length} chunks compiled into ${path.relative(app, module.getCompileCacheDir())} (${entries} entries)\n`);
// The Functions Framework's registry or a library may hold a handle open: the work is done.
process.exit(0);
