// A Pub/Sub Publisher fake (google.pubsub.v1.Publisher from the proto in @google-cloud/pubsub)
// for the real PubSub client in emulator mode (`apiEndpoint: '127.0.0.1:PORT'`). Records
// every published message with its attributes and ordering key; topics must exist
// (NOT_FOUND otherwise, like the service).
//
// Google's Pub/Sub emulator (test/support/pubsub-emulator.ts) serves what the service does
// (test/integration/record-publisher.test.ts, test/e2e/pubsub-emulator.test.ts). This fake
// stays for what the emulator cannot do: answer a chosen status (UNAVAILABLE,
// RESOURCE_EXHAUSTED, PERMISSION_DENIED: it has no IAM) or hang a call on demand (the
// fault-matrix and results-topic fault tests), and for in-process suites (stack.ts) that
// read published messages synchronously and cannot afford the emulator's 10-20 s start.
import * as grpc from '@grpc/grpc-js';
import { GrpcError, protosDir, startGrpcFake } from './grpc-fake.js';
import type { FaultPlan } from './faults.js';

export interface PublishedMessage {
  topic: string;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
  messageId: string;
}

export interface FakePubSub {
  port: number;
  /** `127.0.0.1:PORT`: the value for PubSub's `apiEndpoint` (switches it to emulator mode). */
  endpoint: string;
  faults: FaultPlan;
  messages: PublishedMessage[];
  /** Number of Publish RPCs (a batch of several messages is one call). */
  publishCalls: number;
  addTopic(name: string): void;
  close(): Promise<void>;
}

const TOPIC = /^projects\/[^/]+\/topics\/[^/]+$/;

export async function startFakePubSub(options: { topics?: string[] } = {}): Promise<FakePubSub> {
  const topics = new Set(options.topics ?? []);
  const messages: PublishedMessage[] = [];
  let nextId = 1;
  const state = { publishCalls: 0 };

  const fake = await startGrpcFake({
    protoFiles: ['google/pubsub/v1/pubsub.proto'],
    includeDirs: [protosDir('@google-cloud/pubsub')],
    services: {
      'google.pubsub.v1.Publisher': {
        Publish: (req) => {
          state.publishCalls += 1;
          const topic = String(req['topic'] ?? '');
          if (!TOPIC.test(topic)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid topic name ${JSON.stringify(topic)}`);
          if (!topics.has(topic)) throw new GrpcError(grpc.status.NOT_FOUND, `Topic not found: ${topic}`);
          const batch = (req['messages'] ?? []) as { data?: Buffer; attributes?: Record<string, string>; orderingKey?: string }[];
          if (batch.length === 0) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'no messages');
          const ids: string[] = [];
          for (const m of batch) {
            const messageId = String(nextId++);
            ids.push(messageId);
            messages.push({ topic, data: Buffer.from(m.data ?? Buffer.alloc(0)), attributes: { ...(m.attributes ?? {}) }, orderingKey: m.orderingKey ?? '', messageId });
          }
          return { messageIds: ids };
        },
        GetTopic: (req) => {
          const name = String(req['topic'] ?? '');
          if (!topics.has(name)) throw new GrpcError(grpc.status.NOT_FOUND, `Topic not found: ${name}`);
          return { name };
        },
        CreateTopic: (req) => {
          const name = String(req['name'] ?? '');
          if (!TOPIC.test(name)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid topic name ${JSON.stringify(name)}`);
          if (topics.has(name)) throw new GrpcError(grpc.status.ALREADY_EXISTS, `Topic already exists: ${name}`);
          topics.add(name);
          return { name };
        },
      },
    },
  });

  return {
    port: fake.port,
    endpoint: `127.0.0.1:${fake.port}`,
    faults: fake.faults,
    messages,
    get publishCalls() {
      return state.publishCalls;
    },
    addTopic: (name) => void topics.add(name),
    close: () => fake.close(),
  };
}
