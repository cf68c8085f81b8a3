// Bundles the Cloud Function with esbuild: one ESM entry plus lazily loaded chunks
// (--splitting), our code and its small pure dependencies (zod, yaml, pino, ...) inlined.
// The client libraries are bundled too, each in the lazily loaded chunk of the adapter that
// imports it when a finding matches; only the Functions Framework stays external.
// Why: cold start. Resolving and compiling ~100 small modules from dist/ is most of what a
// non-matching message pays on a new instance; one bundle cuts that (see npm run bench).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { KEPT_SERVICES, pruneProtos } from './prune-protos.mjs';
import { lazyProtoLoader } from './lazy-proto-loader.mjs';
import { lazyGaxStaticProtos } from './lazy-gax-protos.mjs';
import { pruneClientNodeApis } from './prune-client-node-apis.mjs';
import { lazyProtobufCtors } from './lazy-protobuf-ctors.mjs';
import { checkZodIndex, leanZodExternal } from './lean-zod.mjs';
import { CLIENT_NODE_METHODS } from '../shared/kube/client-node-methods.ts';

const external = ['@google-cloud/functions-framework'];

// Chunk names change with their content: stale chunks of an earlier build must not ship.
rmSync('dist/bundle', { recursive: true, force: true });

// The client libraries' protobuf descriptors are large JSON files (container's is ~0.8 MB).
// Bundled as JavaScript object literals they cost V8 a full parse and compile on every cold
// instance; as a string handed to JSON.parse they load several times faster (V8's JSON
// parser), with the same value.
//
// The descriptors of the packages in KEPT_SERVICES are also pruned (scripts/prune-protos.mjs),
// and each API version's client gets its own: the v2 SecurityCenterClient's protos.json holds
// v2.SecurityCenter and what it reaches, not v1's too (a finding needs one version's client,
// which builds protobuf roots of all it is given). Clients of versions we do not call get an
// empty descriptor; other requirers (our code) the union of the kept services.
const JSON_AS_PARSE_MIN = 64 * 1024;
const keptPackage = (file) => Object.keys(KEPT_SERVICES).find((p) => file.endsWith(`/node_modules/${p}/build/protos/protos.json`));
const asParse = (value) => ({ contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(value))});`, loader: 'js' });
const jsonAsParse = {
  name: 'json-as-parse',
  setup(b) {
    b.onResolve({ filter: /\/protos\/protos\.json$/ }, (args) => {
      const client = /\/node_modules\/(@google-cloud\/[^/]+)\/build\/src\/(v[0-9a-z]+)\/[^/]+_client\.js$/.exec(args.importer);
      if (!client || !KEPT_SERVICES[client[1]]) return undefined;
      const file = path.resolve(args.resolveDir, args.path);
      const services = KEPT_SERVICES[client[1]].filter((svc) => svc.includes(`.${client[2]}.`));
      if (keptPackage(file) !== client[1]) return undefined;
      return { path: `${file}#${client[2]}`, namespace: 'version-protos', pluginData: { file, services } };
    });
    // A version we never call (v1beta1, ...) gets an empty descriptor: constructing its client
    // fails at once with "no such Service", instead of carrying types for nothing.
    b.onLoad({ filter: /.*/, namespace: 'version-protos' }, (args) => {
      const { file, services } = args.pluginData;
      return { ...asParse(services.length === 0 ? { nested: {} } : pruneProtos(JSON.parse(readFileSync(file, 'utf8')), services)), resolveDir: path.dirname(file) };
    });
    b.onLoad({ filter: /\.json$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (text.length < JSON_AS_PARSE_MIN) return undefined;
      const pkg = keptPackage(args.path);
      return asParse(pkg ? pruneProtos(JSON.parse(text), KEPT_SERVICES[pkg]) : JSON.parse(text));
    });
  },
};

// Each gax package's index.js also requires build/protos/protos.js, static protobufjs classes
// for every message of every API version (security-center's is 10 MB of JavaScript, container's
// 4 MB) only to re-export them as `protos`. The clients never use it (they build their messages
// from protos.json) and neither do we (types only), but V8 would parse it on every cold
// instance. In the bundle it is an object that says so if anything reads it.
const staticProtosStub = {
  name: 'static-protos-stub',
  setup(b) {
    const pkgs = Object.keys(KEPT_SERVICES).map((p) => p.replace('/', '\\/')).join('|');
    b.onLoad({ filter: new RegExp(`/node_modules/(${pkgs})/build/protos/protos\\.js$`) }, (args) => ({
      loader: 'js',
      contents: `const what = ${JSON.stringify(args.path.replace(/.*node_modules\//, ''))};
module.exports = new Proxy({}, { get(_t, key) {
  if (typeof key === 'symbol' || key === '__esModule' || key === 'default' || key === 'then') return undefined;
  throw new Error('the static protobuf classes of ' + what + ' are not in the bundle (scripts/bundle.mjs): read ' + String(key) + ' from the client or protos.json');
} });`,
    }));
  },
};

// Each client package's index requires the client module of every API version it ships
// (security-center: v1, v1beta1, v1p1beta1, v2; container: v1, v1beta1), ~0.1 MB of generated
// JavaScript a cold instance compiles and runs in front of the first call. A version with no
// service in KEPT_SERVICES already gets an empty descriptor (above); its client module is an
// object that says so if anything reads it. After the build, every such version of a bundled
// package must have been replaced: a package whose layout changed fails the build.
const stubbedVersions = new Set();
const versionDir = (pkg) => path.resolve('node_modules', pkg, 'build/src');
const unusedVersions = (pkg) => readdirSync(versionDir(pkg), { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^v[0-9a-z]+$/.test(d.name) && !KEPT_SERVICES[pkg].some((svc) => svc.includes(`.${d.name}.`)))
  .map((d) => `${pkg}/${d.name}`);
const unusedApiVersionsStub = {
  name: 'unused-api-versions-stub',
  setup(b) {
    const pkgs = Object.keys(KEPT_SERVICES).map((p) => p.replace('/', '\\/')).join('|');
    const re = new RegExp(`/node_modules/(${pkgs})/build/src/(v[0-9a-z]+)/index\\.js$`);
    b.onLoad({ filter: re }, (args) => {
      const [, pkg, version] = re.exec(args.path) ?? [];
      if (!pkg || !version || KEPT_SERVICES[pkg].some((svc) => svc.includes(`.${version}.`))) return undefined;
      stubbedVersions.add(`${pkg}/${version}`);
      return {
        loader: 'js',
        contents: `const what = ${JSON.stringify(`the ${version} clients of ${pkg}`)};
module.exports = new Proxy({}, { get(_t, key) {
  if (typeof key === 'symbol' || key === '__esModule' || key === 'default' || key === 'then') return undefined;
  throw new Error(what + ' are not in the bundle (scripts/bundle.mjs keeps the API versions of KEPT_SERVICES): read ' + String(key));
} });`,
      };
    });
  },
};

// An ES module's `import ... from 'node:http'` makes Node build an ES module facade of the
// builtin, which reads every export, getters included: node:http's WebSocket, CloseEvent and
// MessageEvent getters load Node's own copy of undici (~30 ms of CPU) that nothing here uses.
// client-node and node-fetch are ES modules importing http/https; in the bundle those imports
// are require()s (the same module objects, no facade). The build fails if one remains.
const REQUIRED_BUILTINS = /^(?:node:)?(http|https)$/;
const builtinsAsRequire = {
  name: 'http-builtins-as-require',
  setup(b) {
    b.onResolve({ filter: REQUIRED_BUILTINS }, (args) => (args.kind === 'import-statement' ? { path: REQUIRED_BUILTINS.exec(args.path)?.[1], namespace: 'builtin-as-require' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin-as-require' }, (args) => ({ contents: `module.exports = require('node:${args.path}');`, loader: 'js' }));
  },
};

// @google-cloud/security-center (latest 9.3.1) still depends on google-gax 5, every other
// client on google-gax 6: bundled as published, the SCC chunk carries a second gax, auth
// library, gaxios and serializer that a cold instance parses and evaluates in front of the
// confirmation call. Its generated clients use only gax API that 6 keeps (the same calls as
// container's 6-based clients), so the bundle gives them the one google-gax 6.
const oneGax = {
  name: 'one-google-gax',
  setup(b) {
    b.onResolve({ filter: /^google-gax$/ }, async (args) => {
      if (!args.importer.includes('/node_modules/@google-cloud/security-center/')) return undefined;
      return b.resolve('google-gax', { kind: args.kind, resolveDir: process.cwd() });
    });
  },
};

// @kubernetes/client-node imports three things from undici: fetch, Agent and ProxyAgent. The
// package's index requires all of undici when evaluated (mock agents, caches, cookies,
// WebSocket, EventSource, every interceptor): ~0.9 MB of the bundle's largest chunk, parsed
// and run on the path to the first pod read. client-node's imports get a module with just
// those three, from the same files undici's index takes them from (fetch without the index's
// stack-trace decoration). A missing file fails the build.
const UNDICI_FOR_CLIENT_NODE = `'use strict';
const { fetch } = require('./lib/web/fetch/index.js');
module.exports = { fetch: (input, init) => fetch(input, init), Agent: require('./lib/dispatcher/agent.js'), ProxyAgent: require('./lib/dispatcher/proxy-agent.js') };
`;
const narrowUndici = {
  name: 'narrow-undici-for-client-node',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, (args) => {
      if (!args.importer.includes('/node_modules/@kubernetes/client-node/')) return undefined;
      return { path: 'undici-for-client-node', namespace: 'narrow-undici' };
    });
    b.onLoad({ filter: /.*/, namespace: 'narrow-undici' }, () => ({ contents: UNDICI_FOR_CLIENT_NODE, loader: 'js', resolveDir: path.resolve('node_modules/undici') }));
  },
};

// google-gax evaluates its static IAM/Locations/Operations classes only to re-export them: see scripts/lazy-gax-protos.mjs.
const lazyGaxProtos = {
  name: 'lazy-gax-static-protos',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/google-gax\/build\/src\/(index|fallback|longRunningCalls\/longrunning)\.js$/ }, (args) => ({
      contents: lazyGaxStaticProtos(readFileSync(args.path, 'utf8'), args.path),
      loader: 'js',
    }));
  },
};

// client-node's generated API classes, reduced to the methods the adapter calls: see scripts/prune-client-node-apis.mjs.
const clientNodeMethods = {
  name: 'prune-client-node-apis',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/@kubernetes\/client-node\/dist\/gen\/(apis\/(CoreV1|AppsV1|BatchV1|NetworkingV1)Api|types\/(Observable|ObjectParam|Promise)API)\.js$/ }, (args) => ({
      contents: pruneClientNodeApis(readFileSync(args.path, 'utf8'), CLIENT_NODE_METHODS, args.path).text,
      loader: 'js',
    }));
  },
};

// protobufjs generates a constructor per message type when a client's root is resolved: see scripts/lazy-protobuf-ctors.mjs.
const lazyCtors = {
  name: 'lazy-protobuf-ctors',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/protobufjs\/src\/(field|type)\.js$/ }, (args) => ({
      contents: lazyProtobufCtors(readFileSync(args.path, 'utf8'), args.path.replace(/.*\/protobufjs\//, ''), args.path),
      loader: 'js',
    }));
  },
};

// proto-loader builds descriptors nobody reads at client construction: see scripts/lazy-proto-loader.mjs.
const lazyDescriptors = {
  name: 'proto-loader-lazy-descriptors',
  setup(b) {
    b.onLoad({ filter: /\/node_modules\/@grpc\/proto-loader\/build\/src\/index\.js$/ }, (args) => ({
      contents: lazyProtoLoader(readFileSync(args.path, 'utf8'), args.path),
      loader: 'js',
    }));
  },
};

// zod as our code imports it, without its locales and JSON Schema conversion: see scripts/lean-zod.mjs.
// Only our code imports zod (no bundled library does); it loads at start-up (config, policy).
const leanZod = {
  name: 'lean-zod',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, (args) => {
      if (args.importer.includes('/node_modules/')) return undefined;
      return { path: path.resolve('node_modules/zod/index.js'), namespace: 'lean-zod' };
    });
    b.onResolve({ filter: /^\.\/v4\/classic\/external\.js$/, namespace: 'lean-zod' }, () => ({ path: path.resolve('node_modules/zod/v4/classic/external.js'), namespace: 'lean-zod' }));
    b.onLoad({ filter: /\/zod\/index\.js$/, namespace: 'lean-zod' }, (args) => ({ contents: checkZodIndex(readFileSync(args.path, 'utf8'), args.path), loader: 'js', resolveDir: path.dirname(args.path) }));
    b.onLoad({ filter: /\/zod\/v4\/classic\/external\.js$/, namespace: 'lean-zod' }, (args) => ({ contents: leanZodExternal(readFileSync(args.path, 'utf8'), args.path), loader: 'js', resolveDir: path.dirname(args.path) }));
  },
};

const result = await build({ metafile: true,
  plugins: [leanZod, builtinsAsRequire, jsonAsParse, staticProtosStub, unusedApiVersionsStub, oneGax, lazyDescriptors, narrowUndici, lazyGaxProtos, clientNodeMethods, lazyCtors],
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
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies inside an ESM bundle expect these.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);",
  },
});

// The unused API versions of every bundled client package were replaced (see unusedApiVersionsStub).
const bundled = Object.keys(KEPT_SERVICES).filter((pkg) => Object.keys(result.metafile.inputs).some((f) => f.includes(`node_modules/${pkg}/`)));
const notStubbed = bundled.flatMap(unusedVersions).filter((v) => !stubbedVersions.has(v));
if (bundled.length === 0 || notStubbed.length > 0) {
  throw new Error(`scripts/bundle.mjs: unused API versions not replaced: ${notStubbed.join(', ') || '(no client package bundled)'}: the package's layout changed, review unusedApiVersionsStub`);
}

// No chunk imports http or https as an ES module (see builtinsAsRequire).
const httpImports = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs') && /\bfrom\s*["'](?:node:)?https?["']|\bimport\s*["'](?:node:)?https?["']/.test(readFileSync(f, 'utf8')));
if (httpImports.length > 0) throw new Error(`scripts/bundle.mjs: ${httpImports.join(', ')} still import node:http/https as an ES module: review builtinsAsRequire`);
