// Bundles the Cloud Function with esbuild: one ESM entry plus lazily loaded chunks
// (--splitting), our code and its small pure dependencies (zod, yaml, pino, ...) inlined.
// Client libraries stay external: they are only imported when a finding matches, from
// node_modules, as published (their protos are read from their own directories).
// Why: cold start. Resolving and compiling ~100 small modules from dist/ is most of what a
// non-matching message pays on a new instance; one bundle cuts that (see npm run bench).
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const external = ['@google-cloud/functions-framework'];

// Chunk names change with their content: stale chunks of an earlier build must not ship.
rmSync('dist/bundle', { recursive: true, force: true });

// The client libraries' protobuf descriptors are large JSON files (container's is ~7 MB).
// Bundled as JavaScript object literals they cost V8 a full parse and compile on every cold
// instance; as a string handed to JSON.parse they load several times faster (V8's JSON
// parser), with the same value.
const jsonAsParse = {
  name: 'json-as-parse',
  setup(b) {
    b.onLoad({ filter: /\.json$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (text.length < 64 * 1024) return undefined;
      return { contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(text)))});`, loader: 'js' };
    });
  },
};

await build({
  plugins: [jsonAsParse],
  entryPoints: { index: 'functions/scc-responder/index.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  outExtension: { '.js': '.mjs' },
  external,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies inside an ESM bundle expect these.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
  },
});
