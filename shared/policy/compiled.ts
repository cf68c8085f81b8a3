// A policy file's data compiled ahead of time, beside the file (`<file>.compiled.json`, written
// by scripts/compile-policies.ts when infra/scripts/stage-function.sh stages the function). A new
// instance then validates that data instead of parsing the YAML: the yaml library's first parse
// costs about 10 ms of a 150 ms cold start, paid by every instance before its first ack. The data
// is used only for the very text it was compiled from (its SHA-256) and only when it validates;
// otherwise the YAML is parsed as before, so an edited file, a stale or damaged sidecar, or an
// invalid policy (reported with line numbers) behaves as if there were no sidecar.
import { createHash } from 'node:crypto';
import { MAX_POLICY_BYTES, policyData, warningsOf, type PolicyResult } from './load.js';
import { policySchema } from './schema.js';

export const COMPILED_POLICY_SUFFIX = '.compiled.json';
const FORMAT = 'scc-responder-compiled-policy/1';

interface CompiledPolicy {
  format: typeof FORMAT;
  /** SHA-256 (hex) of the UTF-8 text it was compiled from. */
  sha256: string;
  /** The text's data before validation (the YAML document as plain values). */
  data: unknown;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The sidecar's content for a policy text; undefined when the text is not a valid policy. */
export function compilePolicy(text: string): string | undefined {
  const data = policyData(text);
  if (data === undefined) return undefined;
  const compiled: CompiledPolicy = { format: FORMAT, sha256: sha256(text), data };
  return `${JSON.stringify(compiled)}\n`;
}

function isCompiledFor(value: unknown, text: string): value is CompiledPolicy {
  const v = value as Partial<CompiledPolicy> | null;
  return typeof v === 'object' && v !== null && v.format === FORMAT && v.sha256 === sha256(text) && 'data' in v;
}

/**
 * The policy from a sidecar's content, when it was compiled from `text` and its data validates;
 * undefined otherwise (the caller parses `text`). Never throws.
 */
export function policyFromCompiled(text: string, compiled: string, sourceName: string): PolicyResult | undefined {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(compiled);
  } catch {
    return undefined;
  }
  if (!isCompiledFor(value, text)) return undefined;
  return policyFromData(value.data, sourceName);
}

/** Validated data (the bundled default's, or a sidecar's); undefined when it does not validate. */
export function policyFromData(data: unknown, sourceName: string): PolicyResult | undefined {
  const parsed = policySchema.safeParse(data);
  if (!parsed.success) return undefined;
  return { ok: true, policy: parsed.data, warnings: warningsOf(parsed.data, sourceName) };
}
