// The bundle's rewrite of google-gax (scripts/lazy-gax-protos.mjs) requires gax's static
// IAM/Locations/Operations protobuf classes on first read instead of when gax is evaluated.
// Rewritten and loaded from gax's own directory, gax does not evaluate them until read,
// then gives the same classes as the published modules.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { lazyGaxStaticProtos } from '../../scripts/lazy-gax-protos.mjs';

const require = createRequire(import.meta.url);
const gaxIndex = require.resolve('google-gax');
const protosDir = path.join(path.dirname(gaxIndex), '../protos');
type Protos = { google: { longrunning: { GetOperationRequest: new (o: object) => { name: string } }; iam: { v1: Record<string, unknown> } } };

const REWRITTEN = /\/google-gax\/build\/src\/(index|fallback|longRunningCalls\/longrunning)\.js$/;
type Loader = (m: Module & { _compile(code: string, filename: string): void }, filename: string) => void;

/** gax as the bundle has it: its three requiring modules rewritten, loaded fresh from gax's own directory. */
function rewrittenGax(): Record<string, unknown> {
  const gaxDir = path.dirname(path.dirname(gaxIndex));
  for (const key of Object.keys(require.cache)) if (key.startsWith(gaxDir)) delete require.cache[key];
  const exts = (Module as unknown as { _extensions: Record<string, Loader> })._extensions;
  const original = exts['.js'] as Loader;
  exts['.js'] = (m, filename) => (REWRITTEN.test(filename) ? m._compile(lazyGaxStaticProtos(readFileSync(filename, 'utf8'), filename), filename) : original(m, filename));
  try {
    return require(gaxIndex) as Record<string, unknown>;
  } finally {
    exts['.js'] = original;
  }
}

test('rewritten gax index: IAM protos evaluated only when read, then the published classes', () => {
  const iamFile = path.join(protosDir, 'iam_service.js');
  delete require.cache[iamFile];
  const gax = rewrittenGax();
  assert.ok(!(iamFile in require.cache), 'iam_service.js was evaluated with gax');
  const iam = gax['IamProtos'] as Protos;
  assert.ok('google' in iam);
  assert.ok(iamFile in require.cache);
  const published = require(iamFile) as Protos;
  assert.equal(iam.google, published.google);
  assert.deepEqual(Object.keys(iam).sort(), Object.keys({ ...published, default: published }).sort());
  const ops = gax['operationsProtos'] as Protos;
  const req = new ops.google.longrunning.GetOperationRequest({ name: 'operations/1' });
  assert.equal(req.name, 'operations/1');
});

test('the check can fail: gax without the static protos requires stops the build', () => {
  assert.throws(() => lazyGaxStaticProtos('module.exports = {};'), /google-gax changed/);
});
