// The GKE and Cloud Logging fakes answer the real clients the way the services do: these
// tests pin what the enrichment tests rely on (cluster fields, audit payload bytes, paging).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ClusterManagerClient } from '@google-cloud/container';
import { Logging } from '@google-cloud/logging';
import { decodeAuditLog } from '../../shared/gcp/audit-log-proto.js';
import { startFakeGke, type FakeGke } from '../support/fake-gke.js';
import { parseFilter, startFakeLogging, type FakeLogging } from '../support/fake-logging.js';

let gke: FakeGke;
let logs: FakeLogging;
before(async () => {
  gke = await startFakeGke([{ project: 'p', location: 'europe-west1', name: 'c1', endpoint: '10.0.0.1', caCertificate: 'Q0E=', labels: { team: 'payments' }, networkPolicy: true, currentMasterVersion: '1.33.1-gke.1' }]);
  logs = await startFakeLogging(
    Array.from({ length: 7 }, (_, i) => ({
      logName: 'projects/p/logs/stdout',
      resource: { type: 'k8s_container', labels: { cluster_name: 'c1', pod_name: i % 2 === 0 ? 'web' : 'other' } },
      timestamp: `2026-01-01T00:00:0${i}Z`,
      textPayload: `line ${i}`,
    })),
  );
  logs.entries.push({ logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity', resource: { type: 'k8s_cluster', labels: { cluster_name: 'c1' } }, timestamp: '2026-01-01T00:00:03Z', audit: { principalEmail: 'eve@example.com', methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: 'core/v1/namespaces/ns/pods/web/exec' } });
});
after(async () => {
  await gke.close();
  await logs.close();
});

test('GetCluster returns endpoint, CA, labels, version and network policy config', async () => {
  const client = new ClusterManagerClient({ ...gke.clientOptions() });
  const [c] = await client.getCluster({ name: 'projects/p/locations/europe-west1/clusters/c1' });
  assert.equal(c.endpoint, '10.0.0.1');
  assert.equal(c.masterAuth?.clusterCaCertificate, 'Q0E=');
  assert.deepEqual(c.resourceLabels, { team: 'payments' });
  assert.equal(c.currentMasterVersion, '1.33.1-gke.1');
  assert.equal(c.networkPolicy?.enabled, true);
  await assert.rejects(client.getCluster({ name: 'projects/p/locations/europe-west1/clusters/nope' }, { maxRetries: 0 }), (err: { code?: number }) => err.code === 5);
  await client.close();
});

test('ListLogEntries filters by resource labels, pages with pageToken, and records filters', async () => {
  const logging = new Logging({ ...logs.clientOptions(), projectId: 'p' });
  const filter = 'resource.type="k8s_container" resource.labels.pod_name="web" timestamp>="2026-01-01T00:00:00Z"';
  const [page1, next] = await logging.getEntries({ filter, pageSize: 3, autoPaginate: false, orderBy: 'timestamp asc', resourceNames: ['projects/p'] });
  assert.deepEqual(page1.map((e) => e.data), ['line 0', 'line 2', 'line 4']);
  assert.ok(next?.pageToken);
  const [page2, none] = await logging.getEntries({ filter, pageSize: 3, pageToken: next.pageToken ?? '', autoPaginate: false, orderBy: 'timestamp asc', resourceNames: ['projects/p'] });
  assert.deepEqual(page2.map((e) => e.data), ['line 6']);
  assert.ok(!none?.pageToken);
  assert.equal(logs.requests.at(-2)?.filter, filter);
  assert.equal(logs.requests.at(-1)?.pageToken, next.pageToken);
});

test('audit entries arrive as an AuditLog Any the codec decodes', async () => {
  const logging = new Logging({ ...logs.clientOptions(), projectId: 'p' });
  const [entries] = await logging.getEntries({ filter: 'resource.type="k8s_cluster" "web" timestamp>="2026-01-01T00:00:00Z"', autoPaginate: false, resourceNames: ['projects/p'] });
  assert.equal(entries.length, 1);
  const any = entries[0]?.metadata.protoPayload as { type_url?: string; value?: Uint8Array };
  assert.equal(any.type_url, 'type.googleapis.com/google.cloud.audit.AuditLog');
  assert.deepEqual(decodeAuditLog(any.value ?? new Uint8Array()), { principalEmail: 'eve@example.com', methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: 'core/v1/namespaces/ns/pods/web/exec' });
});

test('the fake reads the filter clauses it needs', () => {
  const f = parseFilter('logName="projects/p/logs/cloudaudit.googleapis.com%2Factivity" AND resource.labels.cluster_name="c" "pod-1" timestamp >= "2026-01-01T00:00:00Z" AND timestamp <= "2026-01-01T01:00:00Z"');
  assert.deepEqual(f.equals, [['logName', 'projects/p/logs/cloudaudit.googleapis.com%2Factivity'], ['resource.labels.cluster_name', 'c']]);
  assert.deepEqual(f.terms, ['pod-1']);
  assert.equal(f.after, Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(f.before, Date.parse('2026-01-01T01:00:00Z'));
});

test('faults reach the Logging client as gRPC statuses', async () => {
  const logging = new Logging({ ...logs.clientOptions(), projectId: 'p' });
  logs.faults.inject({ match: 'ListLogEntries', status: 429 });
  await assert.rejects(logging.getEntries({ filter: 'timestamp>="2026-01-01T00:00:00Z"', autoPaginate: false, gaxOptions: { maxRetries: 0 } }), (err: { code?: number }) => err.code === 8);
});
