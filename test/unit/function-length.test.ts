// Functions short enough to read at once: none in shared/ or functions/ is longer than about
// 80 lines (issue "One house"). Measured with the TypeScript parser, so a factory's nested
// functions count towards it: split it into named parts or a small class instead.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { functionLengths, longFunctions } from '../support/function-lengths.js';
import { listSources } from '../support/import-graph.js';

const MAX_LINES = 85;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test(`no function in shared/ or functions/ is longer than ${MAX_LINES} lines`, () => {
  const files = listSources(root, ['shared', 'functions']);
  assert.ok(files.length > 100, `the sources were read (${files.length} files)`);
  assert.deepEqual(longFunctions(root, files, MAX_LINES).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`), []);
});

test('negative control: a long function, an arrow and a method are each measured', () => {
  const body = Array.from({ length: 90 }, (_, i) => `  x += ${i};`).join('\n');
  const src = `function longOne() {\n  let x = 0;\n${body}\n  return x;\n}\nconst arrow = () => 1;\nclass C {\n  m() {\n    return 2;\n  }\n}\n`;
  const lengths = functionLengths('sample.ts', src);
  assert.deepEqual(lengths.map((f) => [f.name, f.lines]), [['longOne', 94], ['arrow', 1], ['m', 3]]);
});
