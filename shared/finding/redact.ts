// Redaction applied before anything reaches a log, a report or a published result.
// Process environments are secret by default (SCC copies them into the finding verbatim),
// and so are values under keys that look like credentials. A few well-known token formats
// are also caught inside free text (command-line arguments, error messages).

export const REDACTED = '[REDACTED]';

// Substrings of a key that mark its value as secret. Substring matching catches camelCase
// (`accessToken`, `clientSecret`) at the price of rare false positives, which is the safe side.
const SECRET_KEY =
  /(pass(word|wd|phrase)|secret|token|api[-_]?key|authorization|credential|private[-_]?key|cookie|session[-_]?id|access[-_]?key|signing[-_]?key|x-goog-api-key)/i;

/** Keys whose value is a list of environment variables: every value in it is redacted. */
const ENV_LIST_KEY = /^(envVariables|env_variables|env|environment)$/;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

// Each pattern keeps what identifies the kind of secret and replaces the secret itself.
const VALUE_PATTERNS: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\b(sk|rk|pk)_(live|test)_[A-Za-z0-9_]{6,}/g, REDACTED],
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, REDACTED],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, REDACTED],
  [/\bAIza[0-9A-Za-z_-]{35}/g, REDACTED],
  [/\bya29\.[0-9A-Za-z_-]{10,}/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, REDACTED],
  [/\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
  // `--password=x`, `token=x&`, `API_KEY: x`: the key stays, the value goes.
  [/\b([A-Za-z0-9_-]*(?:pass(?:word|wd)?|pwd?|secret|token|api[-_]?key|access[-_]?key)[A-Za-z0-9_-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'"]+)/gi, `$1$2${REDACTED}`],
  // `https://user:password@host`
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, `$1${REDACTED}@`],
];

// Every VALUE_PATTERNS entry needs at least one of these substrings (compared without case,
// a superset of the case-sensitive ones). Most strings of a record (names, ids, timestamps,
// paths) contain none, and one pass of this test is ~5x cheaper than the eleven replaces:
// redaction was the largest share of the responder's own CPU per finding (bench/critical-path.ts).
// Adding a pattern above means adding its anchor here (test/unit/redact-prefilter.test.ts checks).
const MAY_CONTAIN_SECRET =
  /-----begin|_(?:live|test)_|akia|gh[pousr]_|xox[abprs]-|aiza|ya29\.|eyj|bearer|basic|token|pass|pw|secret|api[-_]?key|access[-_]?key|:\/\//i;

/** Replaces well-known secret formats inside free text. */
export function redactString(text: string): string {
  return MAY_CONTAIN_SECRET.test(text) ? redactStringUnfiltered(text) : text;
}

/** redactString without the pre-test (the reference the tests compare it with). */
export function redactStringUnfiltered(text: string): string {
  let out = text;
  for (const [pattern, replacement] of VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** SCC `envVariables` -> names kept, every value replaced. */
export function redactEnv(vars: readonly { name: string; val?: string }[] | undefined): { name: string; val: typeof REDACTED }[] {
  return (vars ?? []).map((v) => ({ name: v.name, val: REDACTED }));
}

export interface RedactOptions {
  /** Extra keys whose values are secret (in addition to the built-in pattern). */
  extraSecretKeys?: RegExp;
  /** Deeper structures are cut with `[Truncated]` (default 32). */
  maxDepth?: number;
}

function redactEnvList(list: unknown[], seen: WeakSet<object>, depth: number, options: RedactOptions): unknown[] {
  return list.map((item) => {
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(item)) {
        out[k] = k === 'val' || k === 'value' || k === 'valueFrom' ? REDACTED : walk(v, k, seen, depth + 1, options);
      }
      return out;
    }
    // `KEY=value` strings (a process environment as text).
    if (typeof item === 'string') return item.includes('=') ? `${item.slice(0, item.indexOf('='))}=${REDACTED}` : item;
    return walk(item, undefined, seen, depth + 1, options);
  });
}

function walk(value: unknown, key: string | undefined, seen: WeakSet<object>, depth: number, options: RedactOptions): unknown {
  if (key !== undefined && (isSecretKey(key) || options.extraSecretKeys?.test(key))) {
    return value === undefined || value === null || value === '' ? value : REDACTED;
  }
  if (typeof value === 'string') return redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= (options.maxDepth ?? 32)) return '[Truncated]';
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof Error) {
      return { name: value.name, message: redactString(value.message) };
    }
    if (value instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value) out[String(k)] = walk(v, String(k), seen, depth + 1, options);
      return out;
    }
    if (Array.isArray(value)) {
      if (key !== undefined && ENV_LIST_KEY.test(key)) return redactEnvList(value, seen, depth, options);
      return value.map((v) => walk(v, undefined, seen, depth + 1, options));
    }
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // An SCC env entry `{ name, val }` is secret wherever it appears.
    const envPair = typeof obj['name'] === 'string' && 'val' in obj;
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'val' && envPair) out[k] = REDACTED;
      else if (k === 'value' && typeof obj['name'] === 'string' && isSecretKey(obj['name'])) out[k] = REDACTED;
      else if (ENV_LIST_KEY.test(k) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        // `env: { KEY: value }` map form.
        out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED]));
      } else out[k] = walk(v, k, seen, depth + 1, options);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * Returns a redacted deep copy of any value, safe to log: environment variable values,
 * values under secret-looking keys and well-known token formats in strings become
 * `[REDACTED]`; cycles, Buffers, Errors (message only, no stack) and Dates are rendered
 * as plain data. The input is not modified.
 */
export function redact<T>(value: T, options: RedactOptions = {}): T {
  return walk(value, undefined, new WeakSet<object>(), 0, options) as T;
}

// ---------------------------------------------------------------- process arguments

/** A flag whose value (`--flag VALUE` or `--flag=VALUE`) is a secret. */
export const SECRET_FLAG = /^-{1,2}[A-Za-z0-9_.-]*(passw(or)?d|passphrase|pass|pwd|pw|secret|token|auth|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credential|cookie|key)[A-Za-z0-9_.-]*$/i;
/** `user:password` flags (curl -u, --user, --proxy-user): the part after the first colon is secret. */
const USER_FLAG = /^(-u|-U|--user|--proxy-user)$/;
/** Single-dash options that start with `p` but are not `-p<password>` (find, ps, ...). */
const NOT_ATTACHED_PASSWORD = /^-(print0?|printf|perm|prune|path|pid|pidfile|proto|ppid|pgrp)$/;

/** URL in an argument: the userinfo password and every query value go (the path stays for the report). */
function redactUrls(arg: string): string {
  return arg
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@?#]+:)[^@\s/?#]*@/gi, `$1${REDACTED}@`)
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*\?)([^\s#]*)/gi, (_m, base: string, query: string) => base + query.replace(/([^&;=]*)=([^&;]*)/g, `$1=${REDACTED}`));
}

function userValue(v: string): string {
  const i = v.indexOf(':');
  return i < 0 ? v : `${v.slice(0, i)}:${REDACTED}`;
}

function redactArg(arg: string, prev: string | undefined): string {
  if (prev !== undefined && !prev.includes('=')) {
    if (SECRET_FLAG.test(prev)) return REDACTED;
    if (USER_FLAG.test(prev)) return userValue(arg);
  }
  const eq = arg.indexOf('=');
  if (arg.startsWith('-') && eq > 0) {
    const flag = arg.slice(0, eq);
    if (SECRET_FLAG.test(flag)) return `${flag}=${REDACTED}`;
    if (USER_FLAG.test(flag)) return `${flag}=${userValue(arg.slice(eq + 1))}`;
  }
  // Attached short values: `-pSECRET` (mysql), `-uadmin:pw` (curl).
  if (/^-p.+/.test(arg) && !NOT_ATTACHED_PASSWORD.test(arg)) return `-p${REDACTED}`;
  if (/^-u.+:/.test(arg)) return `-u${userValue(arg.slice(2))}`;
  return redactString(redactUrls(arg));
}

/**
 * A process's argv, safe to show: values after (or attached to) secret-looking flags, the
 * password of `user:password` flags, URL passwords and query values, and every secret
 * format redactString() knows. The program and plain arguments stay (the playbook needs them).
 */
export function redactArgs(args: readonly string[]): string[] {
  return args.map((a, i) => redactArg(a, i > 0 ? args[i - 1] : undefined));
}
