// The exec WebSocket's TLS context is built once per KubeConfig and (ca, cert, key), and a
// connection made with it still verifies the server against that CA.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect, createServer, rootCertificates, type SecureContext } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { sharedSecureContext } from '../../shared/kube/exec-socket.js';
import { fakeTls } from '../support/fake-kube/tls.js';

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('the same CA on the same KubeConfig gives the same context; another CA or KubeConfig a new one', async () => {
  const { caPem } = await fakeTls();
  const kc = kubeConfig();
  const first = sharedSecureContext(kc, { ca: caPem });
  assert.ok(first !== undefined);
  assert.equal(sharedSecureContext(kc, { ca: caPem }), first);
  const other = sharedSecureContext(kc, { ca: rootCertificates[0] as string });
  assert.ok(other !== undefined && other !== first, 'a rotated CA builds a new context');
  assert.notEqual(sharedSecureContext(kc, { ca: caPem }), other);
  assert.notEqual(sharedSecureContext(kubeConfig(), { ca: caPem }), first, 'contexts are per KubeConfig');
});

test('no CA, cert or key, or options it does not cover (pfx, ciphers): tls.connect builds its own, as before', async () => {
  const { caPem } = await fakeTls();
  const kc = kubeConfig();
  assert.equal(sharedSecureContext(kc, {}), undefined);
  assert.equal(sharedSecureContext(kc, { ca: caPem, pfx: Buffer.from('x') }), undefined);
  assert.equal(sharedSecureContext(kc, { ca: caPem, ciphers: 'TLS_AES_128_GCM_SHA256' }), undefined);
});

async function handshake(ctx: SecureContext): Promise<'ok' | string> {
  const { certPem, keyPem } = await fakeTls();
  const server = createServer({ cert: certPem, key: keyPem }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: ctx, rejectUnauthorized: true });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('ok');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    server.close();
  }
}

test('a connection with the shared context verifies the server against its CA (negative control: another CA is refused)', async () => {
  const { caPem } = await fakeTls();
  const kc = kubeConfig();
  const good = sharedSecureContext(kc, { ca: caPem });
  assert.ok(good !== undefined);
  assert.equal(await handshake(good), 'ok');
  const wrong = sharedSecureContext(kubeConfig(), { ca: rootCertificates[0] as string });
  assert.ok(wrong !== undefined);
  assert.notEqual(await handshake(wrong), 'ok');
});
