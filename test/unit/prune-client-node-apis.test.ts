// The bundle keeps only the listed methods of client-node's generated API classes
// (scripts/prune-client-node-apis.mjs, shared/kube/client-node-methods.ts). On the published
// files: every listed method (and its WithHttpInfo twin) and the constructor are kept, others
// of those groups are dropped, other groups' classes are untouched, and the result parses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { transformSync } from 'esbuild';
import { pruneClientNodeApis } from '../../scripts/prune-client-node-apis.mjs';
import { CLIENT_NODE_METHODS } from '../../shared/kube/client-node-methods.js';

const require = createRequire(import.meta.url);
const gen = path.join(path.dirname(require.resolve('@kubernetes/client-node')), 'gen');
const read = (f: string): string => readFileSync(path.join(gen, f), 'utf8');
/** Parses module text as an ES module (esbuild, as the build does), so a broken rewrite fails. */
const parses = (text: string): void => void transformSync(text, { loader: 'js', format: 'esm' });

test('CoreV1Api request factory: the listed methods stay, the rest go', () => {
  const text = read('apis/CoreV1Api.js');
  const { text: out, kept } = pruneClientNodeApis(text, CLIENT_NODE_METHODS);
  for (const m of CLIENT_NODE_METHODS.CoreV1Api) {
    assert.ok(kept.has(`CoreV1Api.${m}`), m);
    assert.match(out, new RegExp(`\\n    async ${m}\\(`), `${m} (request factory)`);
    assert.match(out, new RegExp(`\\n    async ${m}WithHttpInfo\\(`), `${m}WithHttpInfo (response processor)`);
  }
  assert.match(text, /\n {4}async connectDeleteNamespacedPodProxy\(/);
  assert.doesNotMatch(out, /connectDeleteNamespacedPodProxy\(/);
  // (comments stay in the text: esbuild drops them)
  const members = (t: string): number => t.split('\n    async ').length - 1;
  assert.equal(members(out), 2 * CLIENT_NODE_METHODS.CoreV1Api.length, `${members(out)} of ${members(text)} members kept`);
  parses(out);
});

test('Observable and ObjectParam wrappers: the four groups pruned, the other groups untouched', () => {
  for (const f of ['types/ObservableAPI.js', 'types/ObjectParamAPI.js', 'types/PromiseAPI.js']) {
    const text = read(f);
    const { text: out } = pruneClientNodeApis(text, CLIENT_NODE_METHODS, f);
    for (const [group, methods] of Object.entries(CLIENT_NODE_METHODS)) {
      for (const m of methods) assert.ok(out.includes(`    ${m}WithHttpInfo(`) && out.includes(`    ${m}(`), `${f} ${group}.${m}`);
    }
    assert.ok(out.includes('    constructor('), f);
    // Another group (not listed) keeps every method.
    assert.equal(out.split('createMutatingAdmissionPolicy(').length, text.split('createMutatingAdmissionPolicy(').length, f);
    assert.ok(!/class \w*CoreV1Api[^]*?\n {4}connectGetNamespacedPodProxy\(/.exec(out)?.[0].includes('\n}\n'), `${f}: CoreV1Api.connectGetNamespacedPodProxy dropped`);
    parses(out);
  }
});

test('the check can fail: a listed method client-node does not have stops the build', () => {
  assert.throws(() => pruneClientNodeApis(read('apis/CoreV1Api.js'), { CoreV1Api: ['readNamespacedPod', 'noSuchCall'] }), /CoreV1Api has no method noSuchCall/);
});

test('the check can fail: a rewrite that breaks the syntax is caught by the parse check', () => {
  assert.throws(() => parses('export class A {\n    m() {\n'));
});

test('the check can fail: generated code of an unexpected shape stops the build', () => {
  const odd = 'export class CoreV1ApiRequestFactory {\n    static x = 1;\n}\n';
  assert.throws(() => pruneClientNodeApis(odd, { CoreV1Api: [] }), /unexpected class member line/);
});
