// Shared fixture helpers for the finding/policy/playbook unit tests (not a test file itself).
import { readFileSync } from 'node:fs';

export const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';

export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

/** A fresh deep copy of the v1 notification, to mutate per test. */
export function v1(): NotificationLike {
  return fixture<NotificationLike>('modified-malicious-binary.v1.json');
}

export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');
}

/** Wraps a notification into a structured-mode Pub/Sub CloudEvent. */
export function cloudEvent(notification: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/acme-security/topics/scc-findings',
    id: '1',
    time: '2026-11-27T09:14:07.201Z',
    datacontenttype: 'application/json',
    data: { message: { data: b64(notification), messageId: '1', publishTime: '2026-11-27T09:14:07.201Z' }, subscription: 'projects/p/subscriptions/s' },
    ...overrides,
  };
}

// Loose view of the fixture JSON for mutation in tests.
export interface NotificationLike {
  notificationConfigName?: string;
  finding: Record<string, unknown> & {
    sourceProperties: Record<string, unknown>;
    processes: (Record<string, unknown> & { binary: Record<string, unknown>; args: string[]; envVariables: { name: string; val: string }[] })[];
    containers: Record<string, unknown>[];
    kubernetes: { pods: (Record<string, unknown> & { labels: { name: string; value: string }[]; containers: Record<string, unknown>[] })[]; nodes: { name: string }[]; nodePools: unknown[] };
    indicator?: { uris: string[] };
    mitreAttack: Record<string, unknown>;
  };
  resource: Record<string, unknown>;
}
