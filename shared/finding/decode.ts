// One entry point for every shape an SCC notification arrives in: a Pub/Sub CloudEvent in
// structured or binary mode, a Pub/Sub push body or bare PubsubMessage, or the bare
// NotificationMessage (a file, the CLI). It never throws: a malformed message is a
// permanent failure the function acks, so the caller needs a classification and a short
// message that says what was wrong and where, never a stack and never the input's content.
import {
  FINDING_NAME_PATTERN,
  type NotificationMessage,
  notificationMessageSchema,
  pubsubMessageSchema,
  PUBSUB_CLOUDEVENT_TYPE,
} from './schema.js';
import type { z } from 'zod';
import { formatIssues, formatPath, kindOf } from './issues.js';
import { markValidated } from './validated.js';

export type EnvelopeKind = 'cloudevent-structured' | 'cloudevent-binary' | 'pubsub-push' | 'pubsub-message' | 'notification';

export interface Envelope {
  kind: EnvelopeKind;
  messageId?: string;
  publishTime?: string;
  subscription?: string;
  /** CloudEvent `type`, when the message came as a CloudEvent. */
  eventType?: string;
}

export type DecodeErrorCode =
  | 'empty'
  | 'too-large'
  | 'not-utf8'
  | 'not-json'
  | 'not-base64'
  | 'bad-shape'
  | 'unsupported-event'
  | 'internal';

export interface DecodeError {
  code: DecodeErrorCode;
  /** `finding.category: required`, `data.message.data: not valid base64 (character 13)`. */
  message: string;
  /** Where, as a dotted path into the input (`data.message.data`) or the notification (`finding.category`). */
  path?: string;
  /** How far we got: which envelope had been recognised when decoding failed. */
  envelope?: EnvelopeKind;
}

export type DecodeResult =
  | { ok: true; message: NotificationMessage; envelope: Envelope }
  | { ok: false; error: DecodeError };

/**
 * The few finding fields read before full validation, for screening. `name` matches the
 * finding-name pattern and `category` is a non-empty string; `state` is a string or absent.
 */
export interface FindingHeader {
  name: string;
  category: string;
  state?: string;
}

/** Return true to validate the notification in full; false to stop at its header. */
export type ScreenPredicate = (header: FindingHeader) => boolean;

/** decodeWithScreen()'s result: a full decode, a classified failure, or a message screened out before validation. */
export type ScreenedDecodeResult = DecodeResult | { ok: true; screened: true; header: FindingHeader; envelope: Envelope };

export interface DecodeContext {
  /** HTTP headers of the request (binary-mode CloudEvents carry `ce-*` headers). Case-insensitive. */
  headers?: Record<string, string | string[] | undefined>;
  /** Cap on the decoded notification in bytes (default 1 MiB). Raw input may be twice that. */
  maxBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** What the inner decoders hand back: a validated message, or the header of one screened out. */
type Decoded = { message: NotificationMessage; header?: undefined } | { message?: undefined; header: FindingHeader };

interface Options {
  maxBytes: number;
  screen?: ScreenPredicate | undefined;
}

class DecodeFailure {
  constructor(readonly error: DecodeError) {}
}

function fail(code: DecodeErrorCode, message: string, path?: string, envelope?: EnvelopeKind): never {
  const error: DecodeError = { code, message };
  if (path !== undefined && path !== '') error.path = path;
  if (envelope !== undefined) error.envelope = envelope;
  throw new DecodeFailure(error);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * JSON.parse's messages quote the input ("Unexpected token 's', "{"a": secret}" is not
 * valid JSON"). Keep only the position so no content reaches a log.
 */
function parseJson(text: string, where: string, envelope?: EnvelopeKind): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const m = err instanceof Error ? /at position (\d+)/.exec(err.message) : null;
    const text = err instanceof Error ? err.message : '';
    const detail = m ? `syntax error at position ${m[1]}` : /end of JSON input/.test(text) ? 'unexpected end of input' : /^Unexpected token/.test(text) ? 'unexpected character' : 'syntax error';
    fail('not-json', `${where === '' ? 'body' : where}: not JSON (${detail})`, where, envelope);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bytesToText(bytes: Uint8Array, where: string, envelope?: EnvelopeKind): string {
  try {
    return utf8.decode(bytes);
  } catch {
    fail('not-utf8', `${where === '' ? 'body' : where}: not valid UTF-8`, where, envelope);
  }
}

// Standard alphabet, padded, no whitespace: exactly what Pub/Sub's JSON mapping produces.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(value: string, where: string, maxBytes: number, envelope: EnvelopeKind): Uint8Array {
  if (value.length === 0) fail('empty', `${where}: empty`, where, envelope);
  const estimated = Math.floor((value.length * 3) / 4);
  if (estimated > maxBytes + 2) {
    fail('too-large', `${where}: decoded message would be about ${estimated} bytes, over the ${maxBytes}-byte limit`, where, envelope);
  }
  // Buffer.from() is lenient (skips junk, tolerates missing padding), so it cannot judge
  // validity by itself. A canonical encoding (what Pub/Sub produces) re-encodes to the
  // same text: that check costs a third of running BASE64 over a 5 KB payload. Anything
  // else (invalid, or valid with non-zero trailing bits) gets the exact regular expression.
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value && !BASE64.test(value)) {
    const bad = value.search(/[^A-Za-z0-9+/=]/);
    const detail =
      bad >= 0 ? `character ${bad + 1} is not in the base64 alphabet` : 'length or padding is wrong';
    fail('not-base64', `${where}: not valid base64 (${detail})`, where, envelope);
  }
  if (bytes.length > maxBytes) {
    fail('too-large', `${where}: decoded message is ${bytes.length} bytes, over the ${maxBytes}-byte limit`, where, envelope);
  }
  return bytes;
}

function headerMap(headers: DecodeContext['headers']): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(headers ?? {})) {
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === 'string') out.set(k.toLowerCase(), value);
  }
  return out;
}

/** Input -> a parsed JSON value, with the raw-size cap applied before any parsing. */
function toValue(input: unknown, rawCap: number): unknown {
  if (input === undefined || input === null) fail('empty', 'no message body');
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
    if (size > rawCap) fail('too-large', `body is ${size} bytes, over the ${rawCap}-byte limit`);
    const text = typeof input === 'string' ? input : bytesToText(input, '');
    if (text.trim() === '') fail('empty', 'body is empty');
    return parseJson(text, '');
  }
  return input;
}

function decodePayload(data: string, where: string, opts: Options, envelope: EnvelopeKind): Decoded {
  const bytes = decodeBase64(data, where, opts.maxBytes, envelope);
  const text = bytesToText(bytes, where, envelope);
  if (text.trim() === '') fail('empty', `${where}: decoded payload is empty`, where, envelope);
  return screenOrValidate(parseJson(text, where, envelope), envelope, `${where} (decoded)`, opts.screen);
}

/**
 * The header of a parsed notification when its required identity fields are sound, else
 * undefined (the full validation then says precisely what is wrong).
 */
function findingHeader(value: Record<string, unknown>): FindingHeader | undefined {
  const finding = value['finding'];
  if (!isRecord(finding)) return undefined;
  const { name, category, state } = finding;
  if (typeof name !== 'string' || typeof category !== 'string' || category === '') return undefined;
  // The name becomes the audit operation id: hold it to the same pattern validation does.
  if (!FINDING_NAME_PATTERN.test(name)) return undefined;
  const header: FindingHeader = { name, category };
  if (typeof state === 'string') header.state = state;
  return header;
}

/**
 * With a screen: a notification whose header the screen rejects is returned as its header,
 * without validating the rest (the common "category not covered" case costs no schema pass).
 */
function screenOrValidate(value: unknown, envelope: EnvelopeKind, what: string, screen: ScreenPredicate | undefined): Decoded {
  if (screen !== undefined && isRecord(value)) {
    const header = findingHeader(value);
    if (header !== undefined && !screen(header)) return { header };
  }
  return { message: validateNotification(value, envelope, what) };
}

function validateNotification(value: unknown, envelope: EnvelopeKind, what: string): NotificationMessage {
  if (!isRecord(value)) {
    fail('bad-shape', `${what}: expected an SCC NotificationMessage object, got ${kindOf(value)}`, undefined, envelope);
  }
  return markValidated(parseOrFail(notificationMessageSchema, value, [], envelope));
}

/** The schema's value, or a `bad-shape` rejection naming the first issue's path (under `prefix`). */
function parseOrFail<S extends z.ZodType>(schema: S, value: unknown, prefix: string[], envelope: EnvelopeKind): z.output<S> {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? formatPath([...prefix, ...first.path]) : undefined;
    fail('bad-shape', formatIssues(parsed.error.issues, prefix), where, envelope);
  }
  return parsed.data;
}

/** Decodes one envelope's body found at `prefix` (for paths in errors). */
type BodyDecoder = (body: unknown, prefix: string[], envelope: EnvelopeKind, opts: Options) => { decoded: Decoded; meta: Omit<Envelope, 'kind'> };

/** Validates a PubsubMessage (`{ data, attributes, messageId, ... }`) and decodes its data. */
const decodePubsubMessage: BodyDecoder = (body, prefix, envelope, opts) => {
  if (!isRecord(body)) {
    fail('bad-shape', `${formatPath(prefix) || 'body'}: expected a Pub/Sub message object, got ${kindOf(body)}`, formatPath(prefix), envelope);
  }
  const m = parseOrFail(pubsubMessageSchema, body, prefix, envelope);
  const decoded = decodePayload(m.data, formatPath([...prefix, 'data']), opts, envelope);
  const meta: Omit<Envelope, 'kind'> = {};
  const messageId = str(m.messageId) ?? str(m.message_id);
  const publishTime = str(m.publishTime) ?? str(m.publish_time);
  if (messageId) meta.messageId = messageId;
  if (publishTime) meta.publishTime = publishTime;
  return { decoded, meta };
};

/** The `{ message, subscription }` body shared by binary CloudEvents, structured `data` and push. */
const decodeMessagePublished: BodyDecoder = (body, prefix, envelope, opts) => {
  if (!isRecord(body)) {
    fail('bad-shape', `${formatPath(prefix) || 'body'}: expected an object with message.data, got ${kindOf(body)}`, formatPath(prefix), envelope);
  }
  if (body['message'] === undefined) {
    const where = formatPath([...prefix, 'message']);
    fail('bad-shape', `${where}: required`, where, envelope);
  }
  // The envelope is checked in full before its payload is decoded (outside in), so an
  // envelope error is reported the same whether or not the payload is later screened out.
  const subscription = body['subscription'];
  if (subscription !== undefined && typeof subscription !== 'string') {
    const where = formatPath([...prefix, 'subscription']);
    fail('bad-shape', `${where}: expected string, got ${kindOf(subscription)}`, where, envelope);
  }
  const { decoded, meta } = decodePubsubMessage(body['message'], [...prefix, 'message'], envelope, opts);
  if (str(subscription)) meta.subscription = subscription as string;
  return { decoded, meta };
};

function checkEventType(type: unknown, where: string, envelope: EnvelopeKind): string {
  if (type === undefined) fail('bad-shape', `${where}: required`, where, envelope);
  if (type !== PUBSUB_CLOUDEVENT_TYPE) {
    const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 100)) : kindOf(type);
    fail('unsupported-event', `${where}: expected ${PUBSUB_CLOUDEVENT_TYPE}, got ${shown}`, where, envelope);
  }
  return type;
}

/** A decoder's outcome: the validated message or the screened-out header, with the envelope. */
function result(decoded: Decoded, envelope: Envelope): ScreenedDecodeResult {
  return decoded.message !== undefined
    ? { ok: true, message: decoded.message, envelope }
    : { ok: true, screened: true, header: decoded.header, envelope };
}

function decodeStructured(obj: Record<string, unknown>, opts: Options): ScreenedDecodeResult {
  const kind: EnvelopeKind = 'cloudevent-structured';
  const eventType = checkEventType(obj['type'], 'type', kind);
  let data: unknown = obj['data'];
  let prefix = ['data'];
  if (data === undefined && typeof obj['data_base64'] === 'string') {
    // Structured mode may carry binary data as data_base64 instead of inline JSON.
    const bytes = decodeBase64(obj['data_base64'], 'data_base64', opts.maxBytes * 2, kind);
    data = parseJson(bytesToText(bytes, 'data_base64', kind), 'data_base64', kind);
    prefix = ['data_base64'];
  } else if (typeof data === 'string') {
    data = parseJson(data, 'data', kind);
  }
  if (data === undefined) fail('bad-shape', 'data: required', 'data', kind);
  const { decoded, meta } = decodeMessagePublished(data, prefix, kind, opts);
  const envelope: Envelope = { kind, eventType, ...meta };
  if (!envelope.messageId && str(obj['id'])) envelope.messageId = obj['id'] as string;
  if (!envelope.publishTime && str(obj['time'])) envelope.publishTime = obj['time'] as string;
  return result(decoded, envelope);
}

function decodeValue(value: unknown, headers: Map<string, string>, opts: Options): ScreenedDecodeResult {
  if (!isRecord(value)) {
    fail('bad-shape', `expected a JSON object (CloudEvent, Pub/Sub message or SCC notification), got ${kindOf(value)}`);
  }
  if ('specversion' in value) return decodeStructured(value, opts);
  if (headers.has('ce-specversion')) {
    const kind: EnvelopeKind = 'cloudevent-binary';
    const eventType = checkEventType(headers.get('ce-type'), 'ce-type', kind);
    const { decoded, meta } = decodeMessagePublished(value, [], kind, opts);
    const envelope: Envelope = { kind, eventType, ...meta };
    if (!envelope.messageId && headers.get('ce-id')) envelope.messageId = headers.get('ce-id');
    if (!envelope.publishTime && headers.get('ce-time')) envelope.publishTime = headers.get('ce-time');
    return result(decoded, envelope);
  }
  if ('finding' in value) {
    return result(screenOrValidate(value, 'notification', 'body', opts.screen), { kind: 'notification' });
  }
  if ('message' in value) {
    const { decoded, meta } = decodeMessagePublished(value, [], 'pubsub-push', opts);
    return result(decoded, { kind: 'pubsub-push', ...meta });
  }
  if ('data' in value) {
    const { decoded, meta } = decodePubsubMessage(value, [], 'pubsub-message', opts);
    return result(decoded, { kind: 'pubsub-message', ...meta });
  }
  const keys = Object.keys(value).slice(0, 8).map((k) => k.slice(0, 40));
  fail(
    'bad-shape',
    `expected a CloudEvent (specversion), a Pub/Sub message (message.data or data) or an SCC notification (finding); ` +
      `got an object with ${keys.length === 0 ? 'no keys' : `keys ${keys.join(', ')}`}`,
  );
}

function run(input: unknown, context: DecodeContext, screen: ScreenPredicate | undefined): ScreenedDecodeResult {
  const maxBytes = context.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  try {
    const value = toValue(input, maxBytes * 2);
    return decodeValue(value, headerMap(context.headers), { maxBytes, screen });
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, error: err.error };
    const name = err instanceof Error ? err.name : kindOf(err);
    return { ok: false, error: { code: 'internal', message: `decoder failed unexpectedly (${name})` } };
  }
}

/**
 * Decodes any accepted shape to a validated NotificationMessage. Never throws.
 * Hostile content (NUL bytes, `$(...)` in a path) is kept as data here; toIncident() flags
 * it and nothing downstream interpolates it into a shell.
 */
export function decodeMessage(input: unknown, context: DecodeContext = {}): DecodeResult {
  // Without a screen every success carries a message.
  return run(input, context, undefined) as DecodeResult;
}

/**
 * decodeMessage() with a screen between parsing and validation: the envelope is decoded
 * and checked in full, the notification is parsed, and when its finding has a sound header
 * (a finding name matching the pattern, a non-empty category) that `keep` rejects, the
 * result is that header (`screened: true`) and the rest of the finding is never validated.
 * This is the filter's hot path: SCC sends many categories a policy does not cover.
 * A message without a sound header, or one `keep` accepts, is decoded exactly as by
 * decodeMessage(). Never throws.
 */
export function decodeWithScreen(input: unknown, keep: ScreenPredicate, context: DecodeContext = {}): ScreenedDecodeResult {
  // A throwing predicate is a bug in the caller, but the decoder's promise is to never throw.
  const guarded: ScreenPredicate = (header) => {
    try {
      return keep(header);
    } catch {
      return true;
    }
  };
  return run(input, context, guarded);
}
