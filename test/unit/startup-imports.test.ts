// What the function loads at start-up, before its first message: the handler, the policy and
// the decode/decide fast path. The pipeline's stages, approval mode and every client library
// are imported by the first matching finding (functions/composition), so a non-matching
// message is answered at about a bare Functions Framework's cold start (bench "cold start").
// A static import of any of them from the start-up closure moves its loading into every cold
// start; this test names the edge.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readGraph, staticClosure, type ImportEdge } from '../support/import-graph.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const ENTRY = 'functions/scc-responder/index.ts';
const LATE = [/^shared\/respond\/pipeline\.ts$/, /^shared\/respond\/stages\//, /^shared\/respond\/approval\.ts$/, /^@google-cloud\/(?!functions-framework$)/, /^@kubernetes\//, /^google-gax$/, /^@grpc\//];

function lateAtStartup(edges: readonly ImportEdge[]): string[] {
  return [...staticClosure(edges, ENTRY)].filter((f) => LATE.some((re) => re.test(f))).sort();
}

test('start-up loads none of the pipeline, approval mode or a client library', () => {
  const graph = readGraph(ROOT, ['functions', 'shared']);
  assert.ok(staticClosure(graph, ENTRY).has('shared/respond/handle.ts'), 'the closure is read (the handler is in it)');
  assert.deepEqual(lateAtStartup(graph), []);
});

test('negative control: a static import of the approval module from the handler is caught', () => {
  const graph = readGraph(ROOT, ['functions', 'shared']);
  const planted = [...graph, { from: 'shared/respond/handle.ts', to: 'shared/respond/approval.ts', line: 1, dynamic: false }];
  assert.ok(lateAtStartup(planted).includes('shared/respond/approval.ts'));
  assert.ok(lateAtStartup(planted).some((f) => f.startsWith('shared/respond/stages/')), 'and what it brings with it');
});
