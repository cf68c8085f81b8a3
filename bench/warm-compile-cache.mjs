// Bench helper (BENCH_COLD_STAGED=1 in bench/cold-path.ts): fills <app>/.compile-cache with V8's
// compile cache for every chunk of <app>/dist/bundle, as a deploy-build step (the buildpack's
// `gcp-build`, run in /workspace where the instance runs the app) could; a process started with
// NODE_COMPILE_CACHE=<app>/.compile-cache then reads it. Node keys the entries by absolute path
// and keeps them in a sub-directory named for the Node build, V8 flags and user id.
//
// It only imports the chunks: their top level defines modules (esbuild wraps the CommonJS
// libraries in functions called on first require) and registers the handler with the
// Functions Framework; nothing is constructed, configured or connected.
// Usage: node bench/warm-compile-cache.mjs <staged app dir>
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const app = path.resolve(process.argv[2] ?? '.');
const bundle = path.join(app, 'dist/bundle');
const cache = path.join(app, '.compile-cache');

rmSync(cache, { recursive: true, force: true });
mkdirSync(cache);
const result = module.enableCompileCache(cache);
if (result.status !== module.constants.compileCacheStatus.ENABLED) throw new Error(`enableCompileCache: ${result.message ?? result.status}`);
const chunks = readdirSync(bundle).filter((f) => f.endsWith('.mjs')).sort();
for (const chunk of chunks) await import(pathToFileURL(path.join(bundle, chunk)).href);
module.flushCompileCache();
const entries = readdirSync(cache, { recursive: true }).length;
process.stdout.write(`warm-compile-cache: ${chunks.length} chunks compiled into ${path.relative(app, module.getCompileCacheDir() ?? cache)} (${entries} entries)\n`);
// The Functions Framework's registry or a library may hold a handle open: the work is done.
process.exit(0);
