// A small GKE "world" for enrichment tests: the fixture's cluster in a fake GKE API, its
// Kubernetes API (fake-kube) with a Deployment pod, a StatefulSet pod and a bare pod, the
// node with its instance id, and Cloud Logging entries for the three playbook queries.
// Everything is reached by the real clients over loopback.
import fs from 'node:fs';
import path from 'node:path';
import { ClusterManagerClient } from '@google-cloud/container';
import { Logging } from '@google-cloud/logging';
import type { Incident } from '../../shared/finding/types.js';
import { toIncident } from '../../shared/finding/incident.js';
import { CloudLoggingSearch } from '../../shared/gcp/cloud-logging-search.js';
import { GkeClusterDirectory, type GkeClusterDirectoryOptions } from '../../shared/gcp/gke-cluster-directory.js';
import { FaultPlan } from './faults.js';
import { startFakeGke, type FakeGke } from './fake-gke.js';
import { startFakeKube, type FakeKube } from './fake-kube.js';
import { startFakeLogging, type FakeLogging } from './fake-logging.js';

export const PROJECT = 'acme-payments-prod';
export const LOCATION = 'us-central1';
export const CLUSTER = 'payments';
export const NS = 'payments';
export const NODE = 'gke-payments-default-pool-1a2b3c4d-x7k9';
export const INSTANCE_ID = '4815162342108';
export const DEPLOY_POD = 'checkout-7d9f8b6c5d-q2x8z';
export const STS_POD = 'ledger-0';
export const BARE_POD = 'debug-shell';
export const JOB_POD = 'nightly-29310-abcde';

export interface World {
  kube: FakeKube;
  gke: FakeGke;
  logging: FakeLogging;
  clusterManager: ClusterManagerClient;
  loggingClient: Logging;
  /** The fixture's incident, optionally pointed at another pod. */
  incident(pod?: string): Incident;
  /** A fresh GKE directory (fresh caches) over the shared clients. */
  directory(overrides?: Partial<GkeClusterDirectoryOptions>): GkeClusterDirectory;
  logs(): CloudLoggingSearch;
  tokenCalls: number;
  /** All three fakes' call records in one plan, for overlap assertions. */
  allCalls(): FaultPlan;
  close(): Promise<void>;
}

function fixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', name), 'utf8'));
}

/** `kubeConnectLatencyMs`: what each new connection to the API server costs (StartFakeKubeOptions.connectLatencyMs). */
export async function startWorld(options: { kubeConnectLatencyMs?: number } = {}): Promise<World> {
  const kube = await startFakeKube(options.kubeConnectLatencyMs ? { connectLatencyMs: options.kubeConnectLatencyMs } : {});
  kube.addNode({
    name: NODE,
    labels: { 'cloud.google.com/gke-nodepool': 'default-pool', 'topology.kubernetes.io/zone': 'us-central1-b', 'node.kubernetes.io/instance-type': 'e2-standard-4' },
    annotations: { 'container.googleapis.com/instance_id': INSTANCE_ID },
  });
  kube.addObject('Deployment', { namespace: NS, name: 'checkout', uid: 'dep-checkout', replicas: 3, labels: { app: 'checkout' } });
  kube.addObject('ReplicaSet', {
    namespace: NS, name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', replicas: 3,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: 'dep-checkout', controller: true, blockOwnerDeletion: true }],
  });
  kube.addObject('StatefulSet', { namespace: NS, name: 'ledger', uid: 'sts-ledger', replicas: 1 });
  kube.addObject('CronJob', { namespace: NS, name: 'nightly', uid: 'cj-nightly' });
  kube.addObject('Job', { namespace: NS, name: 'nightly-29310', uid: 'job-nightly', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj-nightly', controller: true }] });
  // The world's pods were started an hour before the world: a finding detected "now" then
  // always comes after them. Created at start-up, a finding in the same second would be
  // refused by the pod-identity guard (creation times have whole-second precision), a race
  // a busy machine lost now and then.
  const created = new Date(Date.now() - 3_600_000).toISOString();
  const container = { name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', imageID: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout@sha256:4b1e', restartCount: 1 };
  kube.addPod({ namespace: NS, name: DEPLOY_POD, uid: 'pod-checkout', creationTimestamp: created, nodeName: NODE, serviceAccountName: 'checkout', labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }], containers: [container] });
  kube.addPod({ namespace: NS, name: STS_POD, uid: 'pod-ledger', creationTimestamp: created, nodeName: NODE, labels: { app: 'ledger' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'ledger', uid: 'sts-ledger', controller: true }], containers: [{ ...container, name: 'ledger' }] });
  kube.addPod({ namespace: NS, name: BARE_POD, uid: 'pod-bare', creationTimestamp: created, nodeName: NODE, containers: [{ ...container, name: 'shell' }] });
  kube.addPod({ namespace: NS, name: JOB_POD, uid: 'pod-job', creationTimestamp: created, nodeName: NODE, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-29310', uid: 'job-nightly', controller: true }], containers: [{ ...container, name: 'job' }] });
  kube.addEvent({ namespace: NS, involvedObject: { kind: 'Pod', name: DEPLOY_POD }, reason: 'Pulled', message: 'Container image already present on machine', lastTimestamp: '2026-11-27T09:00:00Z' });
  kube.addEvent({ namespace: NS, involvedObject: { kind: 'Pod', name: DEPLOY_POD }, reason: 'Started', message: 'Started container checkout', lastTimestamp: '2026-11-27T09:00:01Z' });

  const gke = await startFakeGke([
    {
      project: PROJECT, location: LOCATION, name: CLUSTER,
      endpoint: kube.url.replace(/^https:\/\//, ''), caCertificate: kube.caData,
      labels: { team: 'payments', owner: 'jane_doe', env: 'prod', 'cost-center': 'cc-42' },
      networkPolicy: false, dataplaneV2: true, currentMasterVersion: '1.33.4-gke.1245000',
    },
  ]);

  const podRes = { project_id: PROJECT, location: LOCATION, cluster_name: CLUSTER, namespace_name: NS, pod_name: DEPLOY_POD, container_name: 'checkout' };
  const clusterRes = { project_id: PROJECT, location: LOCATION, cluster_name: CLUSTER };
  const audit = `projects/${PROJECT}/logs/cloudaudit.googleapis.com%2Factivity`;
  const logging = await startFakeLogging([
    { logName: `projects/${PROJECT}/logs/stdout`, resource: { type: 'k8s_container', labels: podRes }, timestamp: '2026-11-27T09:10:00Z', textPayload: 'GET /health 200' },
    { logName: `projects/${PROJECT}/logs/stdout`, resource: { type: 'k8s_container', labels: podRes }, timestamp: '2026-11-27T09:14:01Z', jsonPayload: { message: 'downloading http://203.0.113.50/x.sh', level: 'warn' }, severity: 'WARNING' },
    { logName: `projects/${PROJECT}/logs/stdout`, resource: { type: 'k8s_container', labels: { ...podRes, pod_name: 'other-pod' } }, timestamp: '2026-11-27T09:12:00Z', textPayload: 'not ours' },
    // Outside the ±window: must not come back.
    { logName: `projects/${PROJECT}/logs/stdout`, resource: { type: 'k8s_container', labels: podRes }, timestamp: '2026-11-26T01:00:00Z', textPayload: 'yesterday' },
    { logName: audit, resource: { type: 'k8s_cluster', labels: clusterRes }, timestamp: '2026-11-27T09:13:30Z', audit: { principalEmail: 'eve@example.com', methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: `core/v1/namespaces/${NS}/pods/${DEPLOY_POD}/exec`, serviceName: 'k8s.io' } },
    { logName: audit, resource: { type: 'k8s_cluster', labels: clusterRes }, timestamp: '2026-11-27T09:13:40Z', audit: { principalEmail: 'eve@example.com', methodName: 'io.k8s.core.v1.pods.exec.create', resourceName: `core/v1/namespaces/${NS}/pods/${DEPLOY_POD}/exec`, serviceName: 'k8s.io' } },
    { logName: audit, resource: { type: 'k8s_cluster', labels: clusterRes }, timestamp: '2026-11-27T09:13:50Z', audit: { principalEmail: 'ci-deployer@acme-payments-prod.iam.gserviceaccount.com', methodName: 'io.k8s.core.v1.pods.patch', resourceName: `core/v1/namespaces/${NS}/pods/${DEPLOY_POD}`, serviceName: 'k8s.io' } },
    { logName: `projects/${PROJECT}/logs/serialconsole.googleapis.com%2Fserial_port_1_output`, resource: { type: 'gce_instance', labels: { instance_id: INSTANCE_ID, zone: 'us-central1-b' } }, timestamp: '2026-11-27T09:14:03Z', textPayload: 'kernel: audit: type=1400 apparmor="DENIED"' },
    { logName: `projects/${PROJECT}/logs/serialconsole.googleapis.com%2Fserial_port_1_output`, resource: { type: 'gce_instance', labels: { instance_id: '999', zone: 'us-central1-b' } }, timestamp: '2026-11-27T09:14:03Z', textPayload: 'another node' },
  ]);

  const clusterManager = new ClusterManagerClient({ ...gke.clientOptions() });
  const loggingClient = new Logging({ ...logging.clientOptions(), projectId: PROJECT });
  const base = toIncident(fixture('modified-malicious-binary.v1.json'));
  if (!base.ok) throw new Error(`fixture did not decode: ${base.error.message}`);
  const world: World = {
    kube,
    gke,
    logging,
    clusterManager,
    loggingClient,
    tokenCalls: 0,
    incident: (pod) => ({ ...base.incident, ...(pod ? { pod } : {}) }),
    directory: (overrides = {}) =>
      new GkeClusterDirectory({
        clusterManager,
        gaxOptions: { maxRetries: 0 },
        tokenSource: async () => {
          world.tokenCalls += 1;
          return { token: kube.token, expiresAt: Date.now() + 60 * 60_000 };
        },
        ...overrides,
      }),
    logs: () => new CloudLoggingSearch(loggingClient, { gaxOptions: { maxRetries: 0 } }),
    allCalls: () => {
      const plan = new FaultPlan();
      plan.calls.push(...kube.faults.calls, ...gke.faults.calls, ...logging.faults.calls);
      return plan;
    },
    close: async () => {
      await clusterManager.close();
      await loggingClient.loggingService.close?.();
      await Promise.all([kube.close(), gke.close(), logging.close()]);
    },
  };
  return world;
}
