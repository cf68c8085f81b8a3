// Every schema is built by the `z` of shared/common/zod.ts, with its setting (jitless) in force:
// a module importing the value `z` from 'zod' directly would build its schemas before, or
// without, it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from '../../shared/common/zod.js';
import { listSources } from '../support/import-graph.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SETUP = 'shared/common/zod.ts';
const VALUE_IMPORT = /^import\s+(?!type\b)[^;]*from\s+'zod(?:\/[^']*)?';/m;

/** Modules (other than the setup) importing a value from 'zod' (type-only imports build nothing). */
function directZodImporters(sources: ReadonlyMap<string, string>): string[] {
  return [...sources].filter(([f, text]) => f !== SETUP && VALUE_IMPORT.test(text)).map(([f]) => f);
}

function readSources(): Map<string, string> {
  return new Map(listSources(ROOT, ['functions', 'shared']).map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
}

test('zod runs jitless for our schemas', () => {
  assert.equal(z.config().jitless, true);
});

test("no module but shared/common/zod.ts imports zod's value directly", () => {
  const sources = readSources();
  assert.ok(sources.has('shared/policy/schema.ts') && sources.has(SETUP), 'the sources are read');
  assert.deepEqual(directZodImporters(sources), []);
});

test('negative control: a direct import is caught, a type-only one is not', () => {
  const sources = readSources();
  sources.set('shared/planted.ts', "// x\nimport { z } from 'zod';\n");
  sources.set('shared/types-only.ts', "import type { z } from 'zod';\n");
  assert.deepEqual(directZodImporters(sources), ['shared/planted.ts']);
});
