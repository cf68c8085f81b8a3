// The spare pool on its own, against a local TLS server: a spare is handed out once, only for
// its key, only after the handshake verified the server; failures are dropped, never thrown.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createSecureContext, createServer, type TLSSocket } from 'node:tls';
import { ExecSpares, spareTarget } from '../../shared/kube/exec-spares.js';
import { fakeTls } from '../support/fake-kube/tls.js';

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await sleep(10);
  }
  assert.fail(`gave up waiting: ${what}`);
}

async function tlsServer(): Promise<{ port: number; open: () => number; close: () => Promise<void> }> {
  const { certPem, keyPem } = await fakeTls();
  const live = new Set<TLSSocket>();
  const server = createServer({ cert: certPem, key: keyPem }, (s) => {
    live.add(s);
    s.on('close', () => live.delete(s));
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    open: () => live.size,
    close: async () => {
      for (const s of live) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const agent = new https.Agent();

test('handed out once, only for its key; the rest closed by close()', async () => {
  const srv = await tlsServer();
  const { caPem } = await fakeTls();
  const ctx = createSecureContext({ ca: caPem });
  try {
    const target = spareTarget(`wss://127.0.0.1:${srv.port}/`, { agent, secureContext: ctx, servername: 'localhost' }, undefined);
    assert.ok(target);
    const other = spareTarget(`wss://127.0.0.1:${srv.port}/`, { agent, secureContext: createSecureContext({ ca: caPem }), servername: 'localhost' }, undefined);
    assert.ok(other && other.key !== target.key, 'another SecureContext (a rotated kubeconfig) is another key');
    const pool = new ExecSpares();
    pool.fill(target, 2);
    await until('2 ready', () => pool.ready === 2);
    assert.equal(pool.take(other.key), undefined);
    const a = pool.take(target.key);
    const b = pool.take(target.key);
    assert.ok(a && b && a !== b);
    assert.equal(pool.take(target.key), undefined, 'never handed out twice');
    a.destroy();
    b.destroy();
    pool.fill(target, 1);
    await until('1 ready', () => pool.ready === 1);
    pool.close();
    assert.equal(pool.size, 0);
    await until('server sees no connection', () => srv.open() === 0);
  } finally {
    await srv.close();
  }
});

test('an unverifiable server (wrong CA) or a refused connection leaves no spare and throws nothing', async () => {
  const srv = await tlsServer();
  const refused = createNetServer();
  refused.listen(0, '127.0.0.1');
  await once(refused, 'listening');
  const closedPort = (refused.address() as AddressInfo).port;
  await new Promise<void>((r) => refused.close(() => r()));
  try {
    // A context without our CA: tls.connect refuses the server, the spare is dropped.
    const untrusted = spareTarget(`wss://127.0.0.1:${srv.port}/`, { agent, secureContext: createSecureContext({}), servername: 'localhost' }, undefined);
    assert.ok(untrusted);
    const gone = spareTarget(`wss://127.0.0.1:${closedPort}/`, { agent, secureContext: createSecureContext({}) }, undefined);
    assert.ok(gone);
    const p1 = new ExecSpares();
    const p2 = new ExecSpares();
    p1.fill(untrusted, 2);
    p2.fill(gone, 2);
    await until('dropped', () => p1.size === 0 && p2.size === 0);
    assert.equal(p1.take(untrusted.key), undefined);
    assert.equal(p2.take(gone.key), undefined);
    await until('server sees no connection', () => srv.open() === 0);
  } finally {
    await srv.close();
  }
});

test('no spares for plain ws, without a shared context, or through a proxy', async () => {
  const ctx = createSecureContext({});
  assert.equal(spareTarget('ws://127.0.0.1:1/', { agent, secureContext: ctx }, undefined), undefined);
  assert.equal(spareTarget('wss://127.0.0.1:1/', { agent }, undefined), undefined);
  assert.equal(spareTarget('wss://127.0.0.1:1/', { agent, secureContext: ctx }, 'http://proxy:3128'), undefined);
  class ProxyAgent extends https.Agent {}
  assert.equal(spareTarget('wss://127.0.0.1:1/', { agent: new ProxyAgent(), secureContext: ctx }, undefined), undefined);
  const t = spareTarget('wss://kube.example:6443/', { agent, secureContext: ctx, rejectUnauthorized: true }, undefined);
  assert.deepEqual(t && { host: t.options.host, port: t.options.port, servername: t.options.servername, rejectUnauthorized: t.options.rejectUnauthorized }, { host: 'kube.example', port: 6443, servername: 'kube.example', rejectUnauthorized: true });
});
