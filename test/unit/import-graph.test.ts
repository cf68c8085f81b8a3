import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importsOf, readGraph, type ImportEdge } from '../support/import-graph.js';

// The house of DESIGN.md "Layering", lowest floor first. A file may import from its own floor
// or any floor below, never from above. Stages may use each other (evidence's types in contain).
const FLOORS: readonly (readonly string[])[] = [
  ['shared/common/'],
  ['shared/finding/', 'shared/policy/', 'shared/ports.ts', 'shared/config.ts', 'shared/gcp-permissions.ts'],
  ['shared/kube/', 'shared/gcp/', 'shared/ledger/'],
  ['shared/enrich/', 'shared/evidence/', 'shared/contain/', 'shared/record/', 'shared/notify/'],
  ['shared/respond/'],
  ['functions/'],
];
// Packages that construct a client of Google Cloud or Kubernetes (or their transports).
const CLIENT = /^(@google-cloud\/(?!functions-framework$)|@kubernetes\/client-node$|google-auth-library$|google-gax$|@grpc\/)/;
const ADAPTER_FOLDERS = ['shared/kube/', 'shared/gcp/', 'functions/'];

function floorOf(file: string): number {
  return FLOORS.findIndex((floor) => floor.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

export function violations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const where = `${e.from}:${e.line} -> ${e.to}`;
    if (CLIENT.test(e.to) && !ADAPTER_FOLDERS.some((f) => e.from.startsWith(f))) out.push(`client library outside the adapter folders: ${where}`);
    if (!e.to.startsWith('shared/') && !e.to.startsWith('functions/')) continue;
    const from = floorOf(e.from);
    const to = floorOf(e.to);
    if (from === -1 || to === -1) out.push(`file on no floor: ${where}`);
    else if (to > from) out.push(`upward import (floor ${from} -> ${to}): ${where}`);
  }
  return out;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('no import climbs up the house, and only kube/, gcp/ and functions/ load a client library', () => {
  const edges = readGraph(root, ['shared', 'functions']);
  assert.ok(edges.length > 200, `the graph was read (${edges.length} edges)`);
  assert.deepEqual(violations(edges), []);
});

test('negative control: an upward import, a client outside the adapters and a file on no floor are each caught', () => {
  const edges = [
    ...importsOf('shared/evidence/x.ts', "import { respond } from '../respond/pipeline.js';", root),
    ...importsOf('shared/common/y.ts', "const s = await import('../policy/load.js');", root),
    ...importsOf('shared/record/z.ts', "export { Storage } from '@google-cloud/storage';", root),
    ...importsOf('shared/stray.ts', "import { VERSION } from './common/product.js';", root),
  ];
  const found = violations(edges);
  assert.equal(found.length, 4, found.join('\n'));
  assert.match(found[0] ?? '', /upward import \(floor 3 -> 4\): shared\/evidence\/x\.ts:1 -> shared\/respond\/pipeline\.ts/);
  assert.match(found[1] ?? '', /upward import \(floor 0 -> 1\)/);
  assert.match(found[2] ?? '', /client library outside the adapter folders: shared\/record\/z\.ts/);
  assert.match(found[3] ?? '', /file on no floor: shared\/stray\.ts/);
});

test('type-only imports load nothing and are left out', () => {
  assert.deepEqual(importsOf('shared/record/a.ts', "import type { V1Pod } from '@kubernetes/client-node';\nexport type { X } from '../respond/report.js';", root), []);
});
