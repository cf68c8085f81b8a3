import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseEvidenceLocation } from '../../shared/config.js';

test('function defaults: GKE access, marks and logs on, no evidence store, dry-run bundled policy', () => {
  const c = loadConfig({}, 'function', '1.0.0');
  assert.equal(c.clusterAccess, 'gke');
  assert.equal(c.marks, true);
  assert.equal(c.logs, true);
  assert.deepEqual(c.evidence, { kind: 'none' });
  assert.equal(c.policyFile, undefined);
});

test('CLI defaults: kubeconfig, local .evidence directory, no marks, no Cloud Logging', () => {
  const c = loadConfig({}, 'cli', '1.0.0');
  assert.equal(c.clusterAccess, 'kubeconfig');
  assert.deepEqual(c.evidence, { kind: 'local', dir: '.evidence' });
  assert.equal(c.marks, false);
  assert.equal(c.logs, false);
});

test('evidence locations: gs:// bucket and prefix, file:// and plain directories', () => {
  assert.deepEqual(parseEvidenceLocation('gs://acme-evidence/ctd/', 'function'), { kind: 'gcs', bucket: 'acme-evidence', prefix: 'ctd' });
  assert.deepEqual(parseEvidenceLocation('gs://acme-evidence', 'function'), { kind: 'gcs', bucket: 'acme-evidence', prefix: '' });
  assert.deepEqual(parseEvidenceLocation('file:///var/ev', 'cli'), { kind: 'local', dir: '/var/ev' });
  assert.deepEqual(parseEvidenceLocation('none', 'cli'), { kind: 'none' });
  assert.throws(() => parseEvidenceLocation('gs://A_B', 'cli'), ConfigError);
});

test('insecure endpoint overrides are refused unless they are loopback', () => {
  assert.equal(loadConfig({ SCC_RESPONDER_ENDPOINT_GKE: '127.0.0.1:9000' }, 'function', 'v').endpoints.gke, '127.0.0.1:9000');
  assert.throws(() => loadConfig({ SCC_RESPONDER_ENDPOINT_GKE: 'container.googleapis.com:443' }, 'function', 'v'), /loopback/);
  assert.throws(() => loadConfig({ SCC_RESPONDER_ENDPOINT_SCC: '10.0.0.5:443' }, 'function', 'v'), /loopback/);
});

test('a static Kubernetes token needs a loopback GKE endpoint', () => {
  assert.throws(() => loadConfig({ SCC_RESPONDER_KUBE_TOKEN: 't' }, 'function', 'v'), /only accepted/);
});

test('every problem is reported at once, with the variable name', () => {
  assert.throws(
    () => loadConfig({ SCC_RESPONDER_MARKS: 'maybe', SCC_RESPONDER_RESULTS_TOPIC: 'results', LOG_LEVEL: 'loud' }, 'function', 'v'),
    (err: Error) => /SCC_RESPONDER_MARKS/.test(err.message) && /SCC_RESPONDER_RESULTS_TOPIC/.test(err.message) && /LOG_LEVEL/.test(err.message),
  );
});
