// The whole outside world of one deployment, on loopback: the GKE "world" (fake GKE API,
// fake Kubernetes API with the fixture's pods, fake Cloud Logging) plus fake SCC, fake
// Pub/Sub and fake Cloud Storage. `env()` gives the function's configuration pointing at
// them, so tests exercise the real composition root and the real client libraries.
import { startFakeGcs, type FakeGcs } from './fake-gcs.js';
import { evidenceBucketRoles } from '../../shared/gcp-permissions.js';
import { DEPLOY_POD, NODE, NS, startWorld, type World } from './fake-kube-world.js';
import { startFakePubSub, type FakePubSub } from './fake-pubsub.js';
import { startFakeScc, type FakeScc } from './fake-scc.js';

export const BUCKET = 'acme-scc-evidence';
export const RESULTS_TOPIC = 'projects/acme-security/topics/scc-responder-results';
/** sha256("test"): the fixture's binary hash, so a copy of "test" matches the finding. */
export const FIXTURE_BINARY = Buffer.from('test');

export interface Stack {
  world: World;
  scc: FakeScc;
  pubsub: FakePubSub;
  gcs: FakeGcs;
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Makes SCC (the fake) know this notification's finding, as SCC would after detecting it: the function acts only on findings SCC confirms. */
  known<T>(notification: T): T;
  /** Puts the checkout pod back (an earlier finding deleted it), created an hour ago, with the fixture's binary. */
  restoreCheckoutPod(): void;
  close(): Promise<void>;
}

export async function startStack(options: { kubeConnectLatencyMs?: number } = {}): Promise<Stack> {
  const world = await startWorld(options);
  // The modified binary inside the checkout container (and in the other test pods).
  for (const name of [DEPLOY_POD, 'ledger-0', 'debug-shell']) {
    const pod = world.kube.pod(NS, name);
    for (const c of pod?.containers ?? []) c.files = { ...c.files, '/usr/bin/curl': { content: FIXTURE_BINARY } };
  }
  const [scc, pubsub, gcs] = await Promise.all([startFakeScc(), startFakePubSub({ topics: [RESULTS_TOPIC] }), startFakeGcs({ buckets: [BUCKET], iam: { roles: evidenceBucketRoles() } })]);
  return {
    world,
    scc,
    pubsub,
    gcs,
    known: (notification) => {
      scc.addFinding(notification);
      return notification;
    },
    restoreCheckoutPod: () => {
      if (world.kube.pod(NS, DEPLOY_POD)) return;
      world.kube.addPod({
        namespace: NS, name: DEPLOY_POD, uid: `pod-checkout-${Math.random().toString(16).slice(2, 8)}`,
        creationTimestamp: new Date(Date.now() - 3_600_000).toISOString(), nodeName: NODE,
        labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }],
        containers: [{ name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', files: { '/usr/bin/curl': { content: FIXTURE_BINARY } } }],
      });
    },
    env: (extra = {}) => ({
      GOOGLE_CLOUD_PROJECT: 'acme-payments-prod',
      LOG_LEVEL: 'info',
      SCC_RESPONDER_CLUSTER_ACCESS: 'gke',
      SCC_RESPONDER_ENDPOINT_GKE: `127.0.0.1:${world.gke.port}`,
      SCC_RESPONDER_KUBE_TOKEN: world.kube.token,
      SCC_RESPONDER_LOGS: 'true',
      SCC_RESPONDER_ENDPOINT_LOGGING: `127.0.0.1:${world.logging.port}`,
      SCC_RESPONDER_MARKS: 'true',
      SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}`,
      SCC_RESPONDER_RESULTS_TOPIC: RESULTS_TOPIC,
      SCC_RESPONDER_ENDPOINT_PUBSUB: pubsub.endpoint.replace(/^https?:\/\//, ''),
      SCC_RESPONDER_EVIDENCE: `gs://${BUCKET}/ctd`,
      SCC_RESPONDER_ENDPOINT_STORAGE: gcs.url.replace(/^https?:\/\//, ''),
      ...extra,
    }),
    close: async () => {
      await Promise.all([world.close(), scc.close(), pubsub.close(), gcs.close()]);
    },
  };
}
