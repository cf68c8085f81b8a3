// A Secret Manager fake serving v1 `AccessSecretVersion` from the protos shipped in
// @google-cloud/secret-manager, so the real client talks real gRPC to it. Secrets are
// `projects/<p>/secrets/<name>`; `versions/latest` answers the last value set; unknown
// secrets answer NOT_FOUND as the service does.
import * as grpc from '@grpc/grpc-js';
import { GrpcError, protosDir, startGrpcFake } from './grpc-fake.js';
import type { FaultPlan } from './faults.js';

export interface FakeSecretManager {
  port: number;
  faults: FaultPlan;
  /** Names of the versions read, in order. */
  reads: string[];
  set(project: string, secret: string, value: string): void;
  clientOptions(): ReturnType<Awaited<ReturnType<typeof startGrpcFake>>['clientOptions']>;
  close(): Promise<void>;
}

const VERSION_NAME = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/(latest|\d+)$/;

export async function startFakeSecretManager(): Promise<FakeSecretManager> {
  const secrets = new Map<string, string>();
  const reads: string[] = [];
  const fake = await startGrpcFake({
    protoFiles: ['google/cloud/secretmanager/v1/service.proto'],
    includeDirs: [protosDir('@google-cloud/secret-manager')],
    services: {
      'google.cloud.secretmanager.v1.SecretManagerService': {
        AccessSecretVersion: (request) => {
          const name = String(request['name'] ?? '');
          reads.push(name);
          const m = VERSION_NAME.exec(name);
          if (!m) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid secret version name ${JSON.stringify(name)}`);
          const value = secrets.get(`${m[1]}/${m[2]}`);
          if (value === undefined) throw new GrpcError(grpc.status.NOT_FOUND, `Secret [projects/${m[1]}/secrets/${m[2]}] not found or has no versions.`);
          return { name: `projects/${m[1]}/secrets/${m[2]}/versions/1`, payload: { data: Buffer.from(value, 'utf8') } };
        },
      },
    },
  });
  return {
    port: fake.port,
    faults: fake.faults,
    reads,
    set: (project, secret, value) => void secrets.set(`${project}/${secret}`, value),
    clientOptions: () => fake.clientOptions(),
    close: () => fake.close(),
  };
}
