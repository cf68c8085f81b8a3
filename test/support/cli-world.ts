// The world the CLI's end-to-end tests act on: the fake Kubernetes world with the finding's pod
// created before the fixture's event (the pod-identity guard takes it for the finding's pod),
// the SCC gRPC fake the CLI confirms findings with, and a temp directory holding a kubeconfig
// whose context is named as gcloud names it (so the CLI can tell it is the finding's cluster).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLUSTER, DEPLOY_POD, LOCATION, NS, PROJECT, startWorld, type World } from './fake-kube-world.js';
import { startFakeScc, type FakeScc } from './fake-scc.js';

/** The fake world's kubeconfig with its context named `gke_<project>_<location>_<cluster>`, as gcloud writes it. */
export function gcloudNamedKubeconfig(world: World): string {
  return world.kube.kubeconfigYaml().replaceAll(': fake', `: gke_${PROJECT}_${LOCATION}_${CLUSTER}`);
}

export interface CliWorld {
  world: World;
  scc: FakeScc;
  /** A temp directory (removed by close()). */
  dir: string;
  /** `<dir>/kubeconfig`, named as gcloud names it. */
  kubeconfig: string;
  close(): Promise<void>;
}

/** Starts the world; `prefix` names the temp directory. */
export async function startCliWorld(prefix: string): Promise<CliWorld> {
  const world = await startWorld();
  const pod = world.kube.pod(NS, DEPLOY_POD);
  if (pod) pod.creationTimestamp = '2026-11-27T09:00:00Z';
  const scc = await startFakeScc();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, gcloudNamedKubeconfig(world));
  return {
    world,
    scc,
    dir,
    kubeconfig,
    close: async () => {
      await scc.close();
      await world.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
