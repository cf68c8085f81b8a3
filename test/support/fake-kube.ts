// The fake Kubernetes API server used by integration tests (contract: /tmp/team/FAKE-KUBE.md).
// Implementation lives in ./fake-kube/; this module is the stable import path.
export { startFakeKube, matchesLabelSelector } from './fake-kube/server.js';
export { carrierOf } from './fake-kube/carrier.js';
export { generatedBytes, generatedStream, sha256OfGenerated } from './fake-kube/generated.js';
export type {
  FakeContainerSpec,
  FakeEphemeralContainer,
  FakeEventSpec,
  FakeFile,
  FakeKube,
  FakeNodeSpec,
  FakeOwnerKind,
  FakeOwnerObject,
  FakeOwnerReference,
  FakePodSecurityLevel,
  FakePodSpec,
  FakeProcess,
  FakeRequest,
  FakeSocket,
  FakeTool,
  FakeWrite,
  StartFakeKubeOptions,
} from './fake-kube/types.js';
