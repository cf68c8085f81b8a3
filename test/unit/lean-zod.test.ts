// The bundle's zod (scripts/lean-zod.mjs): zod's classic entry point without its locales, JSON
// Schema conversion and opt-in compiler. Loaded from zod's own files, it has every other member
// of `z`, validates with zod's modules and gives zod's English messages; the members left out
// say so when used; a zod whose entry point changed shape stops the build.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { checkZodIndex, leanZodExternal } from '../../scripts/lean-zod.mjs';

const require = createRequire(import.meta.url);
const zodDir = path.dirname(require.resolve('zod/package.json'));
const externalFile = path.join(zodDir, 'v4/classic/external.js');
const LEFT_OUT = ['core', 'toJSONSchema', 'fromJSONSchema', 'locales', 'INVALID', 'compile', 'withParser', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError'];

/** The rewritten entry point as a module whose imports are zod's own files (same instances as `import 'zod'`). */
async function leanZod(): Promise<Record<string, unknown>> {
  const dir = pathToFileURL(path.dirname(externalFile)).href;
  const text = leanZodExternal(readFileSync(externalFile, 'utf8'), externalFile).replace(/from "(\.\.?\/[^"]+)"/g, (_m, spec: string) => `from "${new URL(spec, `${dir}/`).href}"`);
  return (await import(`data:text/javascript,${encodeURIComponent(text)}`)) as Record<string, unknown>;
}

test('the lean namespace is zod minus the members left out, each left-out one a placeholder', async () => {
  const lean = await leanZod();
  const published = Object.keys(z).filter((k) => !LEFT_OUT.includes(k)).sort();
  assert.deepEqual(Object.keys(lean).filter((k) => !LEFT_OUT.includes(k)).sort(), published);
  for (const k of published) assert.equal(lean[k], (z as unknown as Record<string, unknown>)[k], `${k} is zod's own`);
  for (const k of LEFT_OUT) {
    assert.ok(k in z, `${k} is a member of zod's namespace (else the list is stale)`);
    assert.notEqual(lean[k], (z as unknown as Record<string, unknown>)[k]);
  }
});

test('schemas built from it validate as zod does, with the English messages', async () => {
  const lean = (await leanZod()) as unknown as typeof z;
  const schema = lean.strictObject({ name: lean.string().min(2), count: lean.int().max(3), when: lean.iso.datetime({ offset: true }) });
  const reference = z.strictObject({ name: z.string().min(2), count: z.int().max(3), when: z.iso.datetime({ offset: true }) });
  for (const input of [{ name: 'ab', count: 1, when: '2026-12-02T03:00:00Z' }, { name: 'a', count: 9, when: 'yesterday', extra: true }, 'not an object']) {
    const got = schema.safeParse(input);
    const want = reference.safeParse(input);
    assert.equal(got.success, want.success);
    assert.deepEqual(got.error?.issues.map((i) => i.message), want.error?.issues.map((i) => i.message));
  }
  assert.equal(schema.safeParse({}).error?.issues[0]?.message, 'Invalid input: expected string, received undefined');
});

test('a member left out says so when used', async () => {
  const lean = await leanZod();
  assert.throws(() => (lean['toJSONSchema'] as (s: unknown) => unknown)(z.string()), /zod\.toJSONSchema is not in the bundle/);
  assert.throws(() => (lean['locales'] as Record<string, unknown>)['de'], /zod\.locales is not in the bundle/);
  assert.equal((lean['core'] as { then?: unknown }).then, undefined, 'not mistaken for a promise');
});

test('the check can fail: a zod whose entry point changed shape stops the build', () => {
  const text = readFileSync(externalFile, 'utf8');
  assert.throws(() => leanZodExternal(text.replace('export * as locales from "../locales/index.js";', '')), /zod changed/);
  assert.throws(() => leanZodExternal(text.replace(', compile,', ',')), /compile no longer re-exported.*zod changed/);
  assert.throws(() => checkZodIndex('export * from "./v4/classic/index.js";'), /zod changed/);
  assert.doesNotThrow(() => checkZodIndex(readFileSync(path.join(zodDir, 'index.js'), 'utf8')));
});
