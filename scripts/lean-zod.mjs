// A rewrite of zod's classic entry point for the bundle (scripts/bundle.mjs).
//
// Our code imports `{ z } from 'zod'`, the namespace of zod/v4/classic/external.js. esbuild
// cannot drop unused members of a namespace that is passed around as a value, so the bundle
// carried all of it into the start-up chunk: every locale (~40 of them, 0.3 MB, never used:
// zod's schemas set the English one themselves on first construction) and the JSON Schema
// conversion both ways (the policy's JSON Schema is written by the CLI, not the function).
// Every cold start parsed that. In the bundle those members are placeholders that say so
// when used; what validates and the messages it gives are zod's own modules, unchanged.
// If zod's entry point changes shape the build fails.

/** The lines of external.js the bundle leaves out, each with the names it exported. */
const LEFT_OUT = [
  { line: 'export * as core from "../core/index.js";', names: ['core'] },
  { line: 'export { toJSONSchema } from "../core/json-schema-processors.js";', names: ['toJSONSchema'] },
  { line: 'export { fromJSONSchema } from "./from-json-schema.js";', names: ['fromJSONSchema'] },
  { line: 'export * as locales from "../locales/index.js";', names: ['locales'] },
];

/** Names left out of the re-export list from ../core/index.js: zod's opt-in schema compiler (47 kB). */
const CORE_LEFT_OUT = ['INVALID', 'compile', 'withParser', 'ZodCompileAsyncError', 'ZodCompileUnsupportedError'];
const CORE_REEXPORT = /^export \{([^}]*)\} from "\.\.\/core\/index\.js";$/m;

/** zod's index.js as published: our code's `z` is the namespace of the classic entry point. */
export const ZOD_INDEX = `import * as z from "./v4/classic/external.js";
export * from "./v4/classic/external.js";`;

/**
 * zod/v4/classic/external.js without the members above; each is a placeholder that throws,
 * naming itself, when called or read. Throws if a line is not there exactly once.
 */
export function leanZodExternal(text, file = 'zod/v4/classic/external.js') {
  let out = text;
  for (const { line } of LEFT_OUT) {
    if (out.split(line).length !== 2) throw new Error(`${file}: expected exactly one \`${line}\`: zod changed, review scripts/lean-zod.mjs`);
    out = out.replace(line, '');
  }
  out = leaveOutOfCoreReexport(out, file);
  const stubs = [...LEFT_OUT.flatMap((l) => l.names), ...CORE_LEFT_OUT].map((n) => `export const ${n} = __leftOut(${JSON.stringify(n)});`);
  return `${out}
${stubs.join('\n')}
function __leftOut(name) {
  const fail = () => {
    throw new Error('zod.' + name + ' is not in the bundle (scripts/lean-zod.mjs): the function does not use it');
  };
  return new Proxy(fail, { get: (_t, key) => (key === 'then' || typeof key === 'symbol' ? undefined : fail()), apply: fail, construct: fail });
}
`;
}

/** The `export { ... } from "../core/index.js"` line without CORE_LEFT_OUT; throws if one is missing. */
function leaveOutOfCoreReexport(text, file) {
  const m = CORE_REEXPORT.exec(text);
  if (!m) throw new Error(`${file}: no \`export { ... } from "../core/index.js"\`: zod changed, review scripts/lean-zod.mjs`);
  const names = m[1].split(',').map((n) => n.trim()).filter((n) => n !== '');
  const missing = CORE_LEFT_OUT.filter((n) => !names.includes(n));
  if (missing.length > 0) throw new Error(`${file}: ${missing.join(', ')} no longer re-exported from ../core/index.js: zod changed, review scripts/lean-zod.mjs`);
  return text.replace(m[0], `export { ${names.filter((n) => !CORE_LEFT_OUT.includes(n)).join(', ')} } from "../core/index.js";`);
}

/** Checks zod's index.js still takes `z` from the classic entry point (else the rewrite would not apply). */
export function checkZodIndex(text, file = 'zod/index.js') {
  if (!text.includes(ZOD_INDEX)) throw new Error(`${file}: \`z\` no longer comes from ./v4/classic/external.js: zod changed, review scripts/lean-zod.mjs`);
  return text;
}
