// The results topic: each finding's TriageReport (scrubbed again here, whatever the caller
// did) published as JSON with attributes subscribers can filter on (`attributes.action =
// "deleted"`) and the finding name as ordering key, so the results of one finding (a
// dry-run, then an enforce run after a policy change) arrive in order.
//
// `resultMessage` is pure; the adapter loads `@google-cloud/pubsub` on first publish.
import type * as PubSubModule from '@google-cloud/pubsub';
import type { ResultPublisher } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { defaultScrubber, type Scrubber } from './scrub.js';
import { PRODUCER } from './producer.js';

/** Facts subscribers filter on; every value becomes a string attribute (absent ones are left out). */
export interface ResultFacts {
  findingName: string;
  category?: string;
  severity?: string;
  /** What was done (marks vocabulary): `would-delete`, `deleted`, `none`, ... */
  action?: string;
  /** Cluster name (short), e.g. `payments`. */
  cluster?: string;
  verdict?: string;
  mode?: string;
  rule?: string;
  project?: string;
}

export interface ResultMessage {
  payload: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
}

/** Pub/Sub limits: attribute keys <= 256 bytes, values <= 1024 bytes, ordering key <= 1024 bytes. */
const MAX_ATTRIBUTE_VALUE = 1024;
const MAX_ORDERING_KEY = 1024;
/** Bumped when the payload's shape changes incompatibly, so subscribers can filter on it. */
export const RESULT_SCHEMA = 'scc-responder.triage-report.v1';

function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = Buffer.from(s).subarray(0, max).toString('utf8');
  // A cut inside a multi-byte character leaves U+FFFD: drop it.
  while (out.endsWith('\uFFFD') || Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

export function resultAttributes(facts: ResultFacts, scrub: Scrubber = defaultScrubber): Record<string, string> {
  const attrs: Record<string, string> = { producer: PRODUCER, schema: RESULT_SCHEMA, finding: facts.findingName };
  const optional: [string, string | undefined][] = [
    ['category', facts.category], ['severity', facts.severity], ['action', facts.action], ['cluster', facts.cluster],
    ['verdict', facts.verdict], ['mode', facts.mode], ['rule', facts.rule], ['project', facts.project],
  ];
  for (const [k, v] of optional) if (v !== undefined && v !== '') attrs[k] = v;
  for (const k of Object.keys(attrs)) attrs[k] = truncateBytes(scrub.text(attrs[k] ?? ''), MAX_ATTRIBUTE_VALUE);
  return attrs;
}

/** The message for one report: scrubbed JSON payload, filterable attributes, ordering key = finding name. */
export function resultMessage(report: unknown, facts: ResultFacts, scrub: Scrubber = defaultScrubber): ResultMessage {
  if (Buffer.byteLength(facts.findingName) > MAX_ORDERING_KEY) {
    throw new ResponderError(`finding name too long for a Pub/Sub ordering key (${Buffer.byteLength(facts.findingName)} bytes)`, 'permanent', { code: 'ORDERING_KEY_TOO_LONG' });
  }
  return {
    payload: Buffer.from(JSON.stringify(scrub.value(report))),
    attributes: resultAttributes(facts, scrub),
    orderingKey: facts.findingName,
  };
}

// ---------------------------------------------------------------- adapter

type PubSubClientConfig = NonNullable<ConstructorParameters<typeof PubSubModule.PubSub>[0]>;

export interface PubSubResultPublisherOptions {
  /** Full topic name `projects/P/topics/T`. */
  topic: string;
  /** Extra client options (tests: `{ apiEndpoint: '127.0.0.1:PORT' }` = emulator mode). */
  clientOptions?: PubSubClientConfig;
  /** Per-RPC deadline (the library's default retries for up to 600 s). Default 20 s. */
  timeoutMs?: number;
  /** gax retries for one publish (default 2: a result is cheap to resend, ordering keeps it tidy). */
  maxRetries?: number;
}

export interface PubSubResultPublisher extends ResultPublisher {
  readonly topic: string;
  close(): Promise<void>;
}

const TOPIC_NAME = /^projects\/([^/]+)\/topics\/([^/]+)$/;

export function createPubSubResultPublisher(options: PubSubResultPublisherOptions): PubSubResultPublisher {
  const m = TOPIC_NAME.exec(options.topic);
  if (!m) throw new ResponderError(`results topic must be a full name projects/P/topics/T, got ${JSON.stringify(options.topic)}`, 'permanent', { code: 'INVALID_TOPIC' });
  const projectId = m[1] ?? '';
  let state: Promise<{ client: PubSubModule.PubSub; topic: PubSubModule.Topic }> | undefined;
  const open = (): Promise<{ client: PubSubModule.PubSub; topic: PubSubModule.Topic }> =>
    (state ??= import('@google-cloud/pubsub').then((mod) => {
      // projectId given so the client never asks the environment (metadata server) for one.
      const client = new mod.PubSub({ projectId, ...options.clientOptions });
      const topic = client.topic(options.topic, {
        messageOrdering: true,
        // One finding, one message: send it now rather than wait for a batch that never fills.
        batching: { maxMessages: 1, maxMilliseconds: 0 },
        gaxOpts: { timeout: options.timeoutMs ?? 20_000, maxRetries: options.maxRetries ?? 2 },
      });
      return { client, topic };
    }));

  return {
    topic: options.topic,
    async publish(payload, attributes, orderingKey, signal) {
      signal?.throwIfAborted();
      const { topic } = await open();
      const sent = topic.publishMessage({ data: payload, attributes, orderingKey });
      try {
        if (!signal) return await sent;
        // The library cannot cancel a publish: on abort we stop waiting (the message may still
        // be delivered; subscribers see the finding name as ordering key and can de-duplicate).
        return await new Promise<string>((resolve, reject) => {
          const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new ResponderError(`publish to ${options.topic} aborted`, 'transient', { code: 'ABORTED' }));
          signal.addEventListener('abort', onAbort, { once: true });
          sent.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
        });
      } catch (err) {
        // With ordering on, a failed publish pauses the key: later publishes for this finding
        // (the redelivery that retries this one, in the same instance) would fail at once.
        topic.resumePublishing(orderingKey);
        const c = classifyGaxError(err);
        throw new ResponderError(`publish of result for ${orderingKey} to ${options.topic} failed: ${c.reason}`, c.kind, {
          ...(c.code === undefined ? {} : { code: c.code }),
          cause: err,
        });
      }
    },
    async close() {
      if (!state) return;
      const { client, topic } = await state;
      await topic.flush().catch(() => undefined);
      await client.close();
    },
  };
}
