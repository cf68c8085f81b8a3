// The results topic adapter (ResultPublisher port) over @google-cloud/pubsub, loaded on
// first use. What is published is decided in shared/record/result-publisher.ts (pure).
import type * as PubSubModule from '@google-cloud/pubsub';
import type { ResultPublisher } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { raceAbort } from '../common/time.js';
import { cjsExports } from '../common/cjs.js';

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
  /** What is published, for error messages (default `result`; backfill: `finding`). */
  what?: string;
}

export interface PubSubResultPublisher extends ResultPublisher {
  readonly topic: string;
  close(): Promise<void>;
}

const TOPIC_NAME = /^projects\/([^/]+)\/topics\/([^/]+)$/;

export function createPubSubResultPublisher(options: PubSubResultPublisherOptions): PubSubResultPublisher {
  const m = TOPIC_NAME.exec(options.topic);
  if (!m) throw new ResponderError(`${options.what ?? 'result'}s topic must be a full name projects/P/topics/T, got ${JSON.stringify(options.topic)}`, 'permanent', { code: 'INVALID_TOPIC' });
  const projectId = m[1] ?? '';
  let state: Promise<{ client: PubSubModule.PubSub; topic: PubSubModule.Topic }> | undefined;
  const open = (): Promise<{ client: PubSubModule.PubSub; topic: PubSubModule.Topic }> =>
    (state ??= import('@google-cloud/pubsub').then(cjsExports).then((mod) => {
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
        // The library cannot cancel a publish: on abort we stop waiting (the message may still
        // be delivered; subscribers see the finding name as ordering key and can de-duplicate).
        return await raceAbort(sent, signal, `publish to ${options.topic} aborted`);
      } catch (err) {
        // With ordering on, a failed publish pauses the key: later publishes for this finding
        // (the redelivery that retries this one, in the same instance) would fail at once.
        topic.resumePublishing(orderingKey);
        const c = classifyGaxError(err);
        throw new ResponderError(`publish of ${options.what ?? 'result'} for ${orderingKey} to ${options.topic} failed: ${c.reason}`, c.kind, {
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
