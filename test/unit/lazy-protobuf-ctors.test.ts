// The bundle's rewrite of protobufjs (scripts/lazy-protobuf-ctors.mjs) generates a message
// constructor when first needed instead of for every type when a root is resolved. Same
// behaviour: on a real client descriptor, resolving generates no constructor, and every
// type's constructor (and each coder, generated on first call) then has the prototype defaults of the published protobufjs, and
// messages encode, decode and convert to objects identically.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { lazyProtobufCtors } from '../../scripts/lazy-protobuf-ctors.mjs';

const require = createRequire(import.meta.url);
const pbDir = path.dirname(require.resolve('protobufjs/package.json'));
type Type = { fullName: string; fieldsArray: { name: string }[]; _ctor: unknown; ctor: { prototype: Record<string, unknown> }; fromObject(o: object): unknown; encode(m: unknown): { finish(): Uint8Array }; decode(b: Uint8Array): unknown; toObject(m: unknown, o?: object): unknown };
type Root = { resolveAll(): Root; lookupType(name: string): Type; nestedArray: unknown[] };
type Protobuf = { Root: { fromJSON(json: unknown): Root }; Type: new (...a: never[]) => Type };
type Loader = (m: Module & { _compile(code: string, filename: string): void }, filename: string) => void;

function freshProtobuf(rewrite: boolean): Protobuf {
  for (const key of Object.keys(require.cache)) if (key.startsWith(pbDir + path.sep)) delete require.cache[key];
  const exts = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
  const original = exts['.js'] as Loader;
  const which = (f: string): string | undefined => /\/protobufjs\/(src\/(?:field|type)\.js)$/.exec(f)?.[1];
  exts['.js'] = (m, filename) => {
    const w = rewrite ? which(filename) : undefined;
    return w ? m._compile(lazyProtobufCtors(readFileSync(filename, 'utf8'), w), filename) : original(m, filename);
  };
  try {
    return require(path.join(pbDir, 'index.js')) as Protobuf;
  } finally {
    exts['.js'] = original;
  }
}

/** Every message type under a namespace. */
function types(ns: { nestedArray?: unknown[] }, T: Protobuf['Type'], out: Type[] = []): Type[] {
  for (const n of ns.nestedArray ?? []) {
    if (n instanceof T) out.push(n);
    types(n as { nestedArray?: unknown[] }, T, out);
  }
  return out;
}

const json = require('@google-cloud/container/build/protos/protos.json') as unknown;

test('rewritten protobufjs: resolving generates no constructor; constructors and messages as published', () => {
  const published = freshProtobuf(false);
  const lazy = freshProtobuf(true);
  const pubRoot = published.Root.fromJSON(json).resolveAll();
  const lazyRoot = lazy.Root.fromJSON(json).resolveAll();
  const pubTypes = types(pubRoot, published.Type);
  const lazyTypes = types(lazyRoot, lazy.Type);
  assert.ok(lazyTypes.length > 100, `${lazyTypes.length} types`);
  assert.equal(lazyTypes.filter((t) => t._ctor).length, 0, 'constructors generated while resolving');
  assert.ok(pubTypes.filter((t) => t._ctor).length > 100, 'the published protobufjs generates them (the control)');
  for (const [i, t] of lazyTypes.entries()) {
    const want = pubTypes[i] as Type;
    assert.equal(t.fullName, want.fullName);
    for (const f of want.fieldsArray) assert.deepEqual(t.ctor.prototype[f.name], want.ctor.prototype[f.name], `${t.fullName}.${f.name}`);
  }
  const name = 'google.container.v1.Cluster';
  const sample = { name: 'c', location: 'europe-west1', endpoint: '10.0.0.1', masterAuth: { clusterCaCertificate: 'Q0E=' }, nodePools: [{ name: 'p', initialNodeCount: 3 }], resourceLabels: { a: 'b' } };
  const [pt, lt] = [pubRoot.lookupType(name), lazyRoot.lookupType(name)];
  const bytes = pt.encode(pt.fromObject(sample)).finish();
  assert.deepEqual(lt.encode(lt.fromObject(sample)).finish(), bytes);
  const opts = { defaults: true, enums: String, longs: String, oneofs: true };
  assert.deepEqual(lt.toObject(lt.decode(bytes), opts), pt.toObject(pt.decode(bytes), opts));
  // Coders are generated one by one when first called: verify never was.
  const coders = lt as unknown as Record<string, { name: string }>;
  assert.match(coders['decode']?.name ?? '', /\$decode$/);
  assert.equal(coders['verify']?.name, 'stub');
  assert.equal((lt as unknown as { verify(m: unknown): string | null }).verify(sample), null);
  assert.match(coders['verify']?.name ?? '', /\$verify$/);
});

test('the check can fail: a protobufjs without the anchors stops the build', () => {
  assert.throws(() => lazyProtobufCtors('module.exports = {};', 'src/field.js'), /protobufjs changed/);
  assert.throws(() => lazyProtobufCtors('module.exports = {};', 'src/type.js'), /protobufjs changed/);
});
