// Proves the generic gRPC fake works with a real GAPIC client (ClusterManagerClient) and
// that its faults reach the client as the right gRPC status.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ClusterManagerClient } from '@google-cloud/container';
import { GrpcError, protosDir, startGrpcFake, type GrpcFake } from '../support/grpc-fake.js';

let fake: GrpcFake;
before(async () => {
  fake = await startGrpcFake({
    protoFiles: ['google/container/v1/cluster_service.proto'],
    includeDirs: [protosDir('@google-cloud/container')],
    services: {
      'google.container.v1.ClusterManager': {
        GetCluster: (req) => {
          if (req['name'] !== 'projects/p/locations/l/clusters/c') throw new GrpcError(5, 'no such cluster');
          return { name: 'c', endpoint: '127.0.0.1', location: 'l' };
        },
      },
    },
  });
});
after(() => fake.close());

test('a real ClusterManagerClient reaches the fake and gets its answer', async () => {
  const client = new ClusterManagerClient({ ...fake.clientOptions() });
  const [cluster] = await client.getCluster({ name: 'projects/p/locations/l/clusters/c' });
  assert.equal(cluster.endpoint, '127.0.0.1');
  assert.equal(fake.received.at(-1)?.method, 'GetCluster');
  assert.match(fake.received.at(-1)?.metadata['x-goog-request-params'] ?? '', /name=projects%2Fp/);
  await client.close();
});

test('an injected 403 reaches the client as PERMISSION_DENIED', async () => {
  const client = new ClusterManagerClient({ ...fake.clientOptions() });
  fake.faults.inject({ match: 'GetCluster', status: 403 });
  await assert.rejects(client.getCluster({ name: 'projects/p/locations/l/clusters/c' }, { maxRetries: 0 }), (err: { code?: number }) => err.code === 7);
  await assert.rejects(client.getCluster({ name: 'projects/p/locations/l/clusters/x' }, { maxRetries: 0 }), (err: { code?: number }) => err.code === 5);
  await client.close();
});
