// shared/common/turn.ts: work deferred with afterCritical runs after the callbacks on the
// critical answer (and the promise chains they start), and after the event loop has polled,
// so a peer in this process has read what those callbacks wrote. Asserted on event order.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { afterCritical, afterPoll, nextTurn } from '../../shared/common/turn.js';

/** A loopback peer that notes each read; the client is connected before the test starts. */
async function peer(order: string[]): Promise<{ client: Socket; close: () => Promise<void> }> {
  const server = createServer((s) => s.on('data', () => order.push('peer read')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  await new Promise((resolve) => setTimeout(resolve, 20)); // the server side accepted it too
  return { client, close: async () => { client.destroy(); server.close(); await once(server, 'close'); } };
}

test("afterCritical: the deferred consumer runs after the answer's own callbacks, their promise chains, and the peer's read of what they wrote", async () => {
  const order: string[] = [];
  const { client, close } = await peer(order);
  try {
    let answer: (v: string) => void = () => undefined;
    const critical = new Promise<string>((resolve) => (answer = resolve));
    const deferred = afterCritical(critical).then((v) => order.push(`deferred ${v}`));
    // Registered after the deferred consumer: still runs first, through a chain of hops.
    void critical.then(async (v) => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      client.write(v);
      order.push('critical sent');
    });
    answer('pod');
    await deferred;
    assert.deepEqual(order, ['critical sent', 'peer read', 'deferred pod']);
  } finally {
    await close();
  }
});

test('negative control: a consumer of the answer itself (no afterCritical) runs before the critical request is written', async () => {
  const order: string[] = [];
  const { client, close } = await peer(order);
  try {
    const critical = Promise.resolve('pod');
    const direct = critical.then((v) => order.push(`direct ${v}`));
    const sent = critical.then(async (v) => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      client.write(v);
      order.push('critical sent');
    });
    await Promise.all([direct, sent]);
    assert.deepEqual(order.slice(0, 2), ['direct pod', 'critical sent']);
  } finally {
    await close();
  }
});

test('afterCritical keeps a rejection (deferred as well)', async () => {
  const order: string[] = [];
  const failed = Promise.reject(new Error('404 pod gone'));
  void failed.catch(() => order.push('critical saw the error'));
  await assert.rejects(afterCritical(failed).finally(() => order.push('deferred saw it')), /404 pod gone/);
  assert.deepEqual(order, ['critical saw the error', 'deferred saw it']);
});

test('nextTurn resolves after pending promise chains; afterPoll after a setImmediate queued before it', async () => {
  const order: string[] = [];
  void (async () => {
    for (let i = 0; i < 50; i++) await Promise.resolve();
    order.push('chain done');
  })();
  const turn = nextTurn().then(() => order.push('nextTurn'));
  const poll = afterPoll().then(() => order.push('afterPoll'));
  setImmediate(() => order.push('immediate queued after both'));
  await Promise.all([turn, poll]);
  assert.deepEqual(order, ['chain done', 'nextTurn', 'immediate queued after both', 'afterPoll']);
});
