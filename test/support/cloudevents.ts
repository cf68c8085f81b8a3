// Builds Pub/Sub CloudEvents (structured and binary mode) around a notification, the way
// Eventarc delivers them, and posts them to a Functions Framework server.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

export interface FreshFinding {
  notification: Record<string, unknown>;
  findingName: string;
  findingId: string;
}

/**
 * A fresh copy of a fixture with a unique finding id (`<prefix><random>`), detected now: after
 * the test pods were created (the pod-identity guard refuses a pod created after the finding's
 * event, which would be a replacement), and no test sees another's stored records.
 */
export function freshFinding(prefix: string, name = 'modified-malicious-binary.v1.json'): FreshFinding {
  const n = structuredClone(fixture(name)) as { finding: { name: string; canonicalName?: string; eventTime: string } };
  const findingId = `${prefix}${Math.random().toString(16).slice(2, 14)}`;
  n.finding.eventTime = new Date().toISOString();
  n.finding.name = n.finding.name.replace(/[^/]+$/, findingId);
  if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, findingId);
  return { notification: n as unknown as Record<string, unknown>, findingName: n.finding.name, findingId };
}

let counter = 0;

export function pubsubData(notification: unknown, messageId = `m-${Date.now()}-${counter++}`): Record<string, unknown> {
  const publishTime = new Date().toISOString();
  return {
    message: {
      data: Buffer.from(typeof notification === 'string' ? notification : JSON.stringify(notification)).toString('base64'),
      attributes: {},
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
    },
    subscription: 'projects/acme-security/subscriptions/eventarc-scc-responder',
  };
}

export function structuredEvent(notification: unknown, id = `ce-${counter++}`): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/acme-security/topics/scc-findings',
    id,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: pubsubData(notification, id),
  };
}

export async function postStructured(url: string, event: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event) });
}

export async function postBinary(url: string, notification: unknown, id = `ce-${counter++}`): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-source': '//pubsub.googleapis.com/projects/acme-security/topics/scc-findings',
      'ce-id': id,
      'ce-time': new Date().toISOString(),
    },
    body: JSON.stringify(pubsubData(notification, id)),
  });
}

/** Starts a (Functions Framework test) server on a free loopback port; returns its URL. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}
