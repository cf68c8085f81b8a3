// The bundle's rewrite of @grpc/proto-loader (scripts/lazy-proto-loader.mjs) computes message
// and enum descriptors on first read instead of at client construction. Same values: the
// rewritten module, loaded from proto-loader's own directory, gives definitions equal to the
// published one's for a real client descriptor.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { test } from 'node:test';
import { lazyProtoLoader } from '../../scripts/lazy-proto-loader.mjs';

const require = createRequire(import.meta.url);
const file = require.resolve('@grpc/proto-loader');
type Loader = { fromJSON(json: unknown, options?: object): Record<string, Record<string, unknown>> };

/** The rewritten proto-loader as a module of its own directory (its requires resolve as published). */
function rewritten(): Loader {
  const m = new Module(file) as Module & { _compile(code: string, filename: string): void; paths: string[] };
  m.filename = file;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(file.replace(/\/[^/]+$/, ''));
  m._compile(lazyProtoLoader(readFileSync(file, 'utf8')), file);
  return m.exports as Loader;
}

const json = require('@google-cloud/container/build/protos/protos.json') as unknown;

test('rewritten proto-loader: the same definitions (types, file descriptors, methods) as the published one', () => {
  const published = (require('@grpc/proto-loader') as Loader).fromJSON(json);
  const lazy = rewritten().fromJSON(json);
  assert.deepEqual(Object.keys(lazy).sort(), Object.keys(published).sort());
  const cluster = 'google.container.v1.Cluster';
  assert.deepEqual(lazy[cluster]?.['type'], published[cluster]?.['type']);
  assert.deepEqual(lazy[cluster]?.['fileDescriptorProtos'], published[cluster]?.['fileDescriptorProtos']);
  const service = lazy['google.container.v1.ClusterManager'] as Record<string, Record<string, unknown>>;
  const method = service['GetCluster'] as Record<string, Record<string, unknown>>;
  const want = (published['google.container.v1.ClusterManager'] as Record<string, Record<string, Record<string, unknown>>>)['GetCluster'];
  assert.equal(method['path'], want?.['path']);
  assert.deepEqual(method['requestType']?.['type'], want?.['requestType']?.['type']);
  for (const [name, def] of Object.entries(published)) {
    if (def['format'] === 'Protocol Buffer 3 EnumDescriptorProto') {
      assert.deepEqual(lazy[name]?.['type'], def['type'], name);
      break;
    }
  }
});

test('the check can fail: an anchor proto-loader no longer has stops the build', () => {
  assert.throws(() => lazyProtoLoader('module.exports = {};'), /proto-loader changed/);
});
