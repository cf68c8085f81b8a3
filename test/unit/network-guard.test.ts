import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { isLoopbackHost, networkViolations } from '../support/network-guard.js';

test('loopback hosts are allowed, everything else is not', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.8.9.1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['169.254.169.254', 'metadata.google.internal', '10.0.0.1', '8.8.8.8', 'container.googleapis.com']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('the guard refuses a connection to the metadata server before any packet is sent', () => {
  const before = networkViolations().length;
  assert.throws(() => net.connect({ host: '169.254.169.254', port: 80 }), /network-guard: refused connect/);
  assert.equal(networkViolations().length, before + 1);
  // This test provoked the refusal on purpose: do not let it fail the process.
  process.exitCode = 0;
  (networkViolations() as string[]).pop();
});
