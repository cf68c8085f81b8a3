// The fake Kubernetes API server in its own process, so the snapshot benchmark measures only
// the responder's memory. Prints one JSON line (url, CA, token, kubeconfig, the target file)
// on stdout, then serves until stdin closes (the parent exited) or SIGTERM.
import { startFakeKube } from '../test/support/fake-kube.js';

const size = Number(process.env['BENCH_FILE_BYTES'] ?? 256 * 1024 * 1024);
const seed = 77;
const target = { namespace: 'bench', pod: 'victim-7d9f8b6c5d-q2x8z', container: 'app', path: '/usr/bin/evil' };

const kube = await startFakeKube();
kube.addPod({
  namespace: target.namespace,
  name: target.pod,
  uid: 'bench-pod-uid',
  nodeName: 'bench-node',
  containers: [{ name: target.container, image: 'bench/app:1', imageID: 'bench/app@sha256:be4c', files: { [target.path]: { generated: { size, seed } } } }],
});

process.stdout.write(`${JSON.stringify({ url: kube.url, caData: kube.caData, token: kube.token, kubeconfig: kube.kubeconfigYaml(), ...target, size, seed })}\n`);

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  void kube.close().finally(() => process.exit(0));
};
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
