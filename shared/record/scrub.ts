// The redactor every audit entry, report object and published result passes through.
// It builds on shared/finding/redact.ts (the token formats and secret key names
// live there, once) and adds what a record of a whole run needs on top:
//   1. keys that look secret (`password`, `apiKey`, `STRIPE_API_KEY`, ...) lose their value;
//      booleans survive (`tokenPresent: true` reveals nothing), nested shapes are kept;
//   2. environment lists (`envVariables: [{name, val}]`, `env: {...}`, `A=b` strings) and any
//      SCC env pair `{name, val}` keep names only;
//   3. strings go through redactString() (Stripe, AWS, GitHub, Slack, Google keys, JWTs, PEM
//      keys, bearer/basic credentials, URL passwords, `NAME=value` with a secret-looking NAME);
//   4. argv: the element after a secret-looking flag (`--password hunter2`) is removed;
//   5. exact values the caller knows are secret (the finding's raw environment values) are
//      removed wherever they appear, whatever key they hide under;
//   6. object keys are scrubbed too (a secret used as a map key).
// Pure code: no client library, no I/O.
import { isSecretKey as isSecretKeyBase, redactString, REDACTED, SECRET_FLAG } from '../finding/redact.js';

export { REDACTED };

/** Key names beyond redact.ts's list whose values are never logged. */
const EXTRA_SECRET_KEY = /(^pass$|[-_]pass$|^pwd$|jwt|bearer|signature|^dsn$|client[-_]?secret)/i;
/** Key names that hold a process environment (names kept, values dropped). */
const ENV_KEY = /^(env|environment|envVariables|env_variables|envVars|environmentVariables)$/i;

export function isSecretKey(key: string): boolean {
  return isSecretKeyBase(key) || EXTRA_SECRET_KEY.test(key);
}

export interface ScrubOptions {
  /**
   * Exact values to remove wherever they appear (e.g. the finding's raw environment values).
   * Values shorter than `minSecretLength` are ignored: removing "1" or "true" everywhere
   * would destroy the record without protecting anything.
   */
  knownSecrets?: Iterable<string>;
  minSecretLength?: number;
  /** Depth beyond which objects are replaced by a marker (cycles are always cut). */
  maxDepth?: number;
}

export interface Scrubber {
  /** Returns a scrubbed deep copy (plain JSON-able data: Dates become ISO strings, Buffers a size). */
  value<T>(input: T): T;
  text(input: string): string;
  /** A scrubber that also removes these exact values. */
  with(knownSecrets: Iterable<string>): Scrubber;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What walkObject needs to know about one object key (a pure function of the key and the known secrets). */
interface KeyRule {
  /** The key as written (scrubbed like any text). */
  text: string;
  env: boolean;
  secret: boolean;
}

// Records repeat the same few hundred key names (`name`, `status`, `startedAt`, ...) in every
// report and log entry; classifying each one again cost three regular expression tests per
// key (a third of the report's scrub). Bounded: keys are finding data, so the cache only holds
// short ones and starts over when full.
const KEY_CACHE_MAX = 2048;
const KEY_CACHE_MAX_LENGTH = 128;

/** One redaction pass's rules: the known secrets (longest first) and the depth bound. */
class Redactor {
  private readonly knownRe: RegExp | undefined;
  private readonly keyRules = new Map<string, KeyRule>();
  constructor(
    readonly known: readonly string[],
    private readonly maxDepth: number,
  ) {
    this.knownRe = known.length > 0 ? new RegExp(known.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  private keyRule(k: string): KeyRule {
    const cached = this.keyRules.get(k);
    if (cached !== undefined) return cached;
    const rule = { text: this.text(k), env: ENV_KEY.test(k), secret: isSecretKey(k) };
    if (k.length <= KEY_CACHE_MAX_LENGTH) {
      if (this.keyRules.size >= KEY_CACHE_MAX) this.keyRules.clear();
      this.keyRules.set(k, rule);
    }
    return rule;
  }

  text(input: string): string {
    return redactString(this.knownRe ? input.replace(this.knownRe, REDACTED) : input);
  }

  /** An environment list: `NAME=value` strings keep the name; `{ name, ... }` entries keep only the name. */
  envList(input: unknown, seen: WeakSet<object>, depth: number): unknown {
    if (Array.isArray(input)) return input.map((item) => this.envItem(item, seen, depth));
    if (typeof input === 'object' && input !== null) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(input)) out[this.text(k)] = REDACTED;
      return out;
    }
    return input === undefined || input === null ? input : REDACTED;
  }

  private envItem(item: unknown, seen: WeakSet<object>, depth: number): unknown {
    if (typeof item === 'string') {
      const eq = item.indexOf('=');
      return eq > 0 ? `${item.slice(0, eq)}=${REDACTED}` : REDACTED;
    }
    if (typeof item !== 'object' || item === null) return REDACTED;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      out[k] = k === 'name' && typeof v === 'string' ? this.text(v) : v === REDACTED ? v : k === 'name' ? this.walk(v, seen, depth + 1) : REDACTED;
    }
    return out;
  }

  walk(input: unknown, seen: WeakSet<object>, depth: number): unknown {
    switch (typeof input) {
      case 'string':
        return this.text(input);
      case 'number':
      case 'boolean':
      case 'undefined':
        return input;
      case 'bigint':
        return input.toString();
      case 'function':
      case 'symbol':
        return undefined;
      default:
        break;
    }
    if (input === null) return null;
    const obj = input as object;
    if (seen.has(obj)) return '[Circular]';
    if (depth > this.maxDepth) return '[Truncated: too deep]';
    if (input instanceof Date) return Number.isNaN(input.getTime()) ? null : input.toISOString();
    if (Buffer.isBuffer(input) || input instanceof Uint8Array) return `[${input.byteLength} bytes]`;
    seen.add(obj);
    try {
      return this.walkObject(obj, seen, depth);
    } finally {
      seen.delete(obj);
    }
  }

  private walkObject(input: object, seen: WeakSet<object>, depth: number): unknown {
    if (input instanceof Error) {
      const out: Record<string, unknown> = { name: input.name, message: this.text(input.message) };
      const code = (input as { code?: unknown }).code;
      if (typeof code === 'string' || typeof code === 'number') out['code'] = code;
      return out;
    }
    if (Array.isArray(input)) {
      // argv such as ['--password', 'hunter2']: the value follows a secret-looking flag.
      return input.map((v: unknown, i) => {
        const prev: unknown = i > 0 ? input[i - 1] : undefined;
        if (typeof v === 'string' && typeof prev === 'string' && SECRET_FLAG.test(prev)) return REDACTED;
        return this.walk(v, seen, depth + 1);
      });
    }
    if (input instanceof Map) return this.walk(Object.fromEntries(input), seen, depth);
    if (input instanceof Set) return this.walk([...input], seen, depth);
    const out: Record<string, unknown> = {};
    const obj = input as Record<string, unknown>;
    // An SCC env entry `{ name, val }` is secret wherever it appears; `{ name, value }` when the name looks secret.
    const envPair = typeof obj['name'] === 'string' && ('val' in obj || ('value' in obj && isSecretKey(obj['name'])));
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const rule = this.keyRule(k);
      const key = rule.text;
      if (rule.env) out[key] = this.envList(v, seen, depth);
      else if (rule.secret) out[key] = redactLeaves(v);
      else if (envPair && (k === 'val' || k === 'value')) out[key] = v === null ? v : REDACTED;
      else out[key] = this.walk(v, seen, depth + 1);
    }
    return out;
  }
}

export function createScrubber(options: ScrubOptions = {}): Scrubber {
  const minLen = options.minSecretLength ?? 6;
  const known = [...new Set([...(options.knownSecrets ?? [])].filter((s) => typeof s === 'string' && s.length >= minLen))]
    // Longest first so a secret that contains another is removed whole.
    .sort((a, b) => b.length - a.length);
  const r = new Redactor(known, options.maxDepth ?? 24);
  return {
    value: <T>(input: T): T => r.walk(input, new WeakSet(), 0) as T,
    text: (input: string): string => r.text(input),
    with: (more) => createScrubber({ ...options, knownSecrets: [...known, ...more] }),
  };
}

/**
 * Under a secret-looking key, keep the shape (useful for debugging: was a token present?)
 * but no value. Booleans stay (`tokenPresent: true` reveals nothing); depth is bounded.
 */
function redactLeaves(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined || typeof v === 'boolean') return v;
  if (depth > 8) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redactLeaves(x, depth + 1));
  if (typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v as Record<string, unknown>)) out[k] = redactLeaves(inner, depth + 1);
    return out;
  }
  return REDACTED;
}

/** Variables that name places and versions, never credentials. */
const BENIGN_ENV = /^(HOSTNAME|HOME|PATH|PWD|OLDPWD|USER|SHELL|LANG|LC_\w+|TERM|TZ|SHLVL|HOST|PORT|.*_VERSION|KUBERNETES_\w+|\w+_SERVICE_(HOST|PORT)\w*|\w+_PORT(_\w+)?)$/;

/**
 * Picks, from a process environment as SCC reports it (`[{name, val}]`), the values worth
 * scrubbing by exact match: those under secret-looking names and those that look like
 * tokens (long, mixed letters and digits, no spaces or path separators). Plain values such
 * as HOSTNAME (the pod name) or PATH are left alone, because scrubbing them everywhere would
 * erase the pod name from the very record that is about it.
 */
export function secretsFromEnv(env: Iterable<{ name?: string | null; val?: string | null; value?: string | null }>): string[] {
  const out: string[] = [];
  for (const item of env) {
    const val = item.val ?? item.value;
    if (typeof val !== 'string' || val.length === 0) continue;
    const name = item.name ?? '';
    if (isSecretKey(name)) {
      out.push(val);
      continue;
    }
    if (BENIGN_ENV.test(name)) continue;
    // Mixed case and digits (base64-ish) or long hex: generated credentials look like this,
    // pod names (lower case, digits, dashes) do not.
    const tokenLike =
      (val.length >= 16 && /^[A-Za-z0-9_\-+=.~/]+$/.test(val) && /[a-z]/.test(val) && /[A-Z]/.test(val) && /[0-9]/.test(val)) ||
      /^[A-Fa-f0-9]{32,}$/.test(val);
    if (tokenLike) out.push(val);
  }
  return out;
}

/** The scrubber with only the built-in rules (no known values). */
export const defaultScrubber: Scrubber = createScrubber();
