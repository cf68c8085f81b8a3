// The infrastructure against the code, with no cloud and no Terraform binary: infra/*.tf
// parsed by @cdktn/hcl2json (real HCL parser, offline WebAssembly), infra/k8s/*.yaml and
// cloudbuild.yaml parsed by `yaml`. Each check is a pure function (scripts/check-infra.ts);
// the drift tests feed it mutated copies and require the drift to be reported.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, constants, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { createAuditLog } from '../../shared/record/audit-log.js';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KUBE_API_CALLS, type KubeApiCall } from '../../shared/kube/api-calls.js';
import { GCP_PERMISSIONS, INFRA_PLUMBING_GRANTS, PUBLISH_DENY, grantKey } from '../../shared/gcp-permissions.js';
import { checkPublishDeny, checkSourceFilter } from '../../scripts/check-publishers.js';
import {
  admissionDenies,
  checkFirstApply,
  checkGrants,
  checkInfra,
  checkProtectedNamespacesPolicy,
  namespaceCandidates,
  checkRbac,
  checkWiring,
  expectedTriples,
  findGrants,
  loadTf,
  mergeTf,
  terraformPolicyCategories,
  matchesLogFilter,
  metricFilter,
  extractLabel,
  stdoutToLogEntry,
  type LogEntryView,
  type InfraExpectations,
  type RbacExpectation,
  type TfConfig,
} from '../../scripts/check-infra.js';
import { loadPolicy, policyCategories, protectedNamespaceMatch } from '../../shared/policy/index.js';
import { MODIFIED_MALICIOUS_BINARY_EXECUTED } from '../../shared/finding/categories.js';
import { expectationsFromRepo, runtimeFor, auditLabelKeys, ENTRY_POINT } from '../../scripts/infra-expectations.js';
import { PLACEHOLDER_SUBJECT, RBAC_FILES, protectedNamespacesCel, renderRbac, rulesFor } from '../../scripts/gen-rbac.js';
import { BUILT_IN_PROTECTED_NAMESPACES } from '../../shared/policy/schema.js';

const root = join(import.meta.dirname, '..', '..');

let config: TfConfig;
let loadProblems: string[];
let want: InfraExpectations;
let rbac: RbacExpectation[];

before(async () => {
  const loaded = await loadTf(join(root, 'infra'));
  config = loaded.config;
  loadProblems = loaded.problems;
  const expectations = await expectationsFromRepo(root);
  want = expectations.infra;
  rbac = expectations.rbac;
});

/** A deep copy to mutate. */
const copy = (): TfConfig => structuredClone(config);

function body(c: TfConfig, address: string): Record<string, unknown> {
  const [type, name] = address.split('.') as [string, string];
  const b = c.resource[type]?.[name];
  assert.ok(b, `fixture: ${address} exists`);
  return b;
}

/** The first body of a nested block (hcl2json keeps blocks as one-element arrays). */
function block(parent: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = parent[name];
  const b = Array.isArray(v) ? v[0] : v;
  assert.ok(b && typeof b === 'object', `fixture: block ${name} exists`);
  return b as Record<string, unknown>;
}

function assertReported(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got:\n  ${problems.join('\n  ') || '(none)'}`,
  );
}

describe('infra/*.tf as committed', () => {
  test('parses into one configuration without duplicate names', () => {
    assert.deepEqual(loadProblems, []);
    assert.ok(Object.keys(config.resource).length > 10);
  });

  test('wiring, references and IAM grants match the code (no problems)', () => {
    assert.deepEqual(checkInfra(config, want), []);
  });

  test('the function runtime is nodejs + the major of package.json engines.node', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; main: string };
    assert.equal(runtimeFor(pkg.engines.node), want.runtime);
    assert.equal(block(body(config, 'google_cloudfunctions2_function.responder'), 'build_config')['runtime'], runtimeFor(pkg.engines.node));
    assert.equal(runtimeFor('>=22.19'), 'nodejs22');
    assert.equal(runtimeFor('^24.1.0'), 'nodejs24');
    assert.throws(() => runtimeFor(''), /engines.node/);
    // The function source's main is what the stage script checks and the runtime loads.
    assert.equal(pkg.main, 'dist/bundle/index.mjs');
  });

  test("the function's service account gets exactly the roles of shared/gcp-permissions.ts", () => {
    const { grants, problems } = findGrants(config);
    assert.deepEqual(problems, []);
    const fn = grants.filter((g) => g.member === 'function').map(grantKey).sort();
    assert.deepEqual(fn, GCP_PERMISSIONS.map(grantKey).sort());
    // No Kubernetes verbs through IAM: only clusterViewer among container roles.
    assert.deepEqual(
      grants.filter((g) => g.role.startsWith('roles/container.')).map((g) => g.role),
      ['roles/container.clusterViewer'],
    );
  });

  test('event-delivery plumbing is granted to the platform identities only, exactly as declared', () => {
    const { grants } = findGrants(config);
    const others = grants.filter((g) => g.member !== 'function');
    assert.equal(others.length, INFRA_PLUMBING_GRANTS.length);
    for (const g of others) assert.ok(!g.member.startsWith('unknown'), `${g.address}: member ${g.member}`);
    // The trigger identity can invoke the function and do nothing else.
    assert.deepEqual(
      others.filter((g) => g.member === 'trigger-service-account').map((g) => g.role),
      ['roles/run.invoker'],
    );
  });

  test('every declared role says which adapter needs it and why', () => {
    for (const g of GCP_PERMISSIONS) {
      assert.match(g.role, /^roles\/[a-zA-Z.]+$/);
      assert.ok(g.why.length > 30, `${g.role}: why`);
      if (g.scope === 'bucket' || g.scope === 'topic') assert.ok('resource' in g && g.resource, `${g.role}: bucket/topic grants name their resource`);
    }
    assert.equal(new Set(GCP_PERMISSIONS.map(grantKey)).size, GCP_PERMISSIONS.length, 'no duplicates');
  });

  test("the notification filter reads its categories from the shipped policy exactly as the code does", async () => {
    // For every shipped policy, what main.tf's local.policy_categories evaluates to (TS mirror
    // of the HCL, which checkWiring pins) equals the code's policyCategories().
    assert.ok(want.policyFiles.length > 0);
    for (const file of want.policyFiles) {
      const yamlText = await readFile(join(root, file), 'utf8');
      const loaded = loadPolicy(yamlText, file);
      assert.ok(loaded.ok, `${file} loads`);
      assert.deepEqual(terraformPolicyCategories(yamlText), policyCategories(loaded.policy), file);
    }
    // The default deployment forwards the finding this project exists for.
    const defaultPolicy = config.variable['policy_file']?.['default'];
    assert.equal(typeof defaultPolicy, 'string');
    assert.ok(terraformPolicyCategories(await readFile(join(root, String(defaultPolicy)), 'utf8')).includes(MODIFIED_MALICIOUS_BINARY_EXECUTED));
    assert.equal(config.variable['handled_mark_key']?.['default'], want.handledMark.key);
    assert.throws(() => terraformPolicyCategories('rules:\n  - name: x\n    match: {}\n'), /match\.categories/);
    assert.throws(() => terraformPolicyCategories('version: 1\n'), /no rules/);
  });

  test('metrics only extract labels the audit log writes', () => {
    assert.ok(want.auditLabelKeys.includes('verdict'));
    assert.ok(want.auditLabelKeys.includes('action'));
    assert.ok(!want.auditLabelKeys.includes('failure'), 'failure is a step field, not a label');
    assert.deepEqual(auditLabelKeys(['verdict', 'nonsense']), ['verdict']);
  });

  test('helper scripts exist, are executable and are valid bash', async () => {
    for (const rel of ['infra/scripts/route-dead-letters.sh', 'infra/scripts/stage-function.sh']) {
      const path = join(root, rel);
      await access(path, constants.X_OK);
      const r = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${rel}: ${r.stderr}`);
    }
  });

  test('route-dead-letters.sh refuses a malformed trigger name before calling gcloud', () => {
    const r = spawnSync('bash', [join(root, 'infra/scripts/route-dead-letters.sh')], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', TRIGGER: 'not/a/trigger', DEAD_LETTER_TOPIC: 'projects/p/topics/t', MAX_ATTEMPTS: '10', PUBSUB_AGENT: 'a@b' },
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /TRIGGER must be projects\/P\/locations\/R\/triggers\/T/);
    const missing = spawnSync('bash', [join(root, 'infra/scripts/route-dead-letters.sh')], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /TRIGGER/);
  });
});

describe('log-based metrics against real audit entries', () => {
  /** Audit entries as the function writes them to stdout, seen the way Cloud Logging stores them. */
  async function entries(write: (log: ReturnType<typeof createAuditLog>) => void): Promise<LogEntryView[]> {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createAuditLog({ destination, serviceVersion: 'test', projectId: 'p' });
    write(log);
    await log.flush();
    return lines.flatMap((l) => l.split('\n')).filter((l) => l.trim() !== '').map((l) => stdoutToLogEntry(JSON.parse(l) as Record<string, unknown>));
  }
  const finding = 'organizations/1/sources/2/findings/abc';
  const step = (status: 'ok' | 'failed', failure?: 'transient' | 'permanent') => ({
    name: 'contain.deletePod',
    status,
    ...(failure ? { failure } : {}),
    reason: 'r',
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
  });

  test('findings_handled counts summaries; pods_contained only effective containment; steps_failed failed steps', async () => {
    const [failedStep, okStep, enforced] = await entries((log) => {
      const f = log.forFinding(finding, { cluster: 'prod-1', namespace: 'payments' });
      f.step(step('failed', 'permanent'));
      f.step(step('ok'));
      f.summary({ verdict: 'handled', action: 'deleted', outcome: 'completed', rule: 'prod', mode: 'enforce' });
    });
    const [dryRun] = await entries((log) => log.forFinding(finding, { cluster: 'prod-1' }).summary({ verdict: 'dry-run', action: 'would-delete', mode: 'dry-run' }));
    assert.ok(failedStep && okStep && enforced && dryRun);

    const handled = metricFilter(config, 'findings_handled');
    assert.equal(matchesLogFilter(handled, enforced), true);
    assert.equal(matchesLogFilter(handled, dryRun), true);
    assert.equal(matchesLogFilter(handled, failedStep), false);

    const contained = metricFilter(config, 'pods_contained');
    assert.equal(matchesLogFilter(contained, enforced), true);
    assert.equal(matchesLogFilter(contained, dryRun), false, 'would-delete is not a contained pod');

    const failed = metricFilter(config, 'steps_failed');
    assert.equal(matchesLogFilter(failed, failedStep), true);
    assert.equal(matchesLogFilter(failed, okStep), false);
    assert.equal(matchesLogFilter(failed, enforced), false);

    // The labels each metric extracts are there on the entries it counts.
    const extractors = (m: string) => body(config, `google_logging_metric.${m}`)['label_extractors'] as Record<string, string>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(extractors('findings_handled')).map(([k, e]) => [k, extractLabel(e, enforced)])),
      { verdict: 'handled', action: 'deleted', mode: 'enforce', rule: 'prod', cluster: 'prod-1' },
    );
    assert.deepEqual(
      Object.fromEntries(Object.entries(extractors('pods_contained')).map(([k, e]) => [k, extractLabel(e, enforced)])),
      { action: 'deleted', cluster: 'prod-1', namespace: 'payments' },
    );
    assert.deepEqual(
      Object.fromEntries(Object.entries(extractors('steps_failed')).map(([k, e]) => [k, extractLabel(e, failedStep)])),
      { step: 'contain.deletePod', failure: 'permanent', cluster: 'prod-1' },
    );
  });

  test('another producer is not counted, and an unknown filter term is refused, not guessed', async () => {
    const [summary] = await entries((log) => log.forFinding(finding).summary({ verdict: 'handled', action: 'deleted' }));
    assert.ok(summary);
    const other: LogEntryView = { ...summary, operation: { ...summary.operation, producer: 'someone-else' } };
    assert.equal(matchesLogFilter(metricFilter(config, 'findings_handled'), other), false);
    assert.throws(() => matchesLogFilter('severity>=ERROR', summary), /unsupported term/);
  });
});

describe('stage-function.sh (the package step)', () => {
  /** Runs the script from a scratch copy of the repository layout (never touching dist/ here). */
  async function scratchRepo(withMain: boolean): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'scc-stage-'));
    await mkdir(join(dir, 'infra', 'scripts'), { recursive: true });
    await copyFile(join(root, 'infra/scripts/stage-function.sh'), join(dir, 'infra/scripts/stage-function.sh'));
    await copyFile(join(root, 'package.json'), join(dir, 'package.json'));
    await copyFile(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    for (const d of ['dist/bundle', 'dist/functions/scc-responder', 'dist/test/unit', 'policies']) await mkdir(join(dir, d), { recursive: true });
    if (withMain) await writeFile(join(dir, 'dist/bundle/index.mjs'), 'export {};\n');
    await writeFile(join(dir, 'dist/bundle/chunk-ABC.mjs'), 'export {};\n');
    await writeFile(join(dir, 'dist/functions/scc-responder/index.js'), 'tsc output: not shipped\n');
    await writeFile(join(dir, 'dist/test/unit/x.test.js'), 'not shipped\n');
    await copyFile(join(root, 'policies/default.yaml'), join(dir, 'policies/default.yaml'));
    await writeFile(join(dir, 'policies/broken.yaml'), 'rules: []\n');
    // The policies' compile step runs the repository's script with its dependencies.
    await mkdir(join(dir, 'scripts'));
    await copyFile(join(root, 'scripts/compile-policies.ts'), join(dir, 'scripts/compile-policies.ts'));
    for (const d of ['shared', 'node_modules']) await symlink(join(root, d), join(dir, d));
    return dir;
  }
  // npm must not inherit the test runner's NODE_OPTIONS (tsx + network guard, relative paths).
  const env = (home: string): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, npm_config_cache: join(home, '.npm') });

  test('stages compiled code, package files and policies; drops dev scripts; fixed timestamps', async () => {
    const dir = await scratchRepo(true);
    try {
      const r = spawnSync('bash', [join(dir, 'infra/scripts/stage-function.sh')], { encoding: 'utf8', env: env(dir) });
      assert.equal(r.status, 0, r.stderr);
      const out = join(dir, 'dist/function-source');
      const files = (await readdir(out, { recursive: true })).map(String).sort();
      assert.deepEqual(
        files.filter((f) => /\.(m?js|json|yaml)$/.test(f)),
        ['dist/bundle/chunk-ABC.mjs', 'dist/bundle/index.mjs', 'package-lock.json', 'package.json', 'policies/broken.yaml', 'policies/default.yaml', 'policies/default.yaml.compiled.json'],
      );
      assert.match(r.stderr, /policies\/broken\.yaml is not a valid policy: no sidecar/, 'an invalid policy is named, and staged as is');
      const pkg = JSON.parse(await readFile(join(out, 'package.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(pkg['scripts'], undefined, 'no build script for the buildpack to run');
      assert.equal(pkg['main'], 'dist/bundle/index.mjs');
      assert.equal((await stat(join(out, 'package.json'))).mtime.toISOString(), '1980-01-02T00:00:00.000Z');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses to package without a build', async () => {
    const dir = await scratchRepo(false);
    try {
      const r = spawnSync('bash', [join(dir, 'infra/scripts/stage-function.sh')], { encoding: 'utf8', env: env(dir) });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /run npm run build first/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('drift is reported', () => {
  test('a role removed from the function', () => {
    const c = copy();
    delete c.resource['google_organization_iam_member']?.['responder_marks_writer'];
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /declared but not granted: roles\/securitycenter\.findingSecurityMarksWriter@organization/);
    assertReported(checkInfra(c, want), /findingSecurityMarksWriter/);
  });

  test('a role added that the code does not declare', () => {
    const c = copy();
    c.resource['google_project_iam_member'] ??= {};
    c.resource['google_project_iam_member']['extra'] = {
      project: '${var.project_id}',
      role: 'roles/container.developer',
      member: 'serviceAccount:${google_service_account.responder.email}',
    };
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /granted but not declared: roles\/container\.developer@project/);
  });

  test('a role granted at a wider scope than declared', () => {
    const c = copy();
    const results = body(c, 'google_pubsub_topic_iam_member.responder_results_publisher');
    delete c.resource['google_pubsub_topic_iam_member']?.['responder_results_publisher'];
    c.resource['google_project_iam_member'] ??= {};
    c.resource['google_project_iam_member']['publisher'] = { project: '${var.project_id}', role: results['role'], member: results['member'] };
    const problems = checkGrants(c, want.gcpPermissions, want.plumbing);
    assertReported(problems, /declared but not granted: roles\/pubsub\.publisher@topic:results-topic/);
    assertReported(problems, /granted but not declared: roles\/pubsub\.publisher@project/);
  });

  test('a bucket grant moved to another bucket', () => {
    const c = copy();
    body(c, 'google_storage_bucket_iam_member.responder_evidence_creator')['bucket'] = '${google_storage_bucket.source.name}';
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /granted but not declared: roles\/storage\.objectCreator@bucket:source-bucket/);
  });

  test('an authoritative IAM binding', () => {
    const c = copy();
    c.resource['google_project_iam_binding'] = { b: { project: 'p', role: 'roles/logging.viewer', members: ['serviceAccount:${google_service_account.responder.email}'] } };
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /authoritative IAM/);
  });

  test('plumbing granted to the function instead of the trigger identity', () => {
    const c = copy();
    body(c, 'google_cloud_run_v2_service_iam_member.trigger_invoker')['member'] = 'serviceAccount:${google_service_account.responder.email}';
    const problems = checkGrants(c, want.gcpPermissions, want.plumbing);
    assertReported(problems, /granted but not declared: roles\/run\.invoker@run-service/);
    assertReported(problems, /plumbing.*declared but not granted: roles\/run\.invoker@run-service->trigger-service-account/);
  });

  test('the optional CMEK grant made unconditional', () => {
    const c = copy();
    delete body(c, 'google_kms_crypto_key_iam_member.evidence_cmek')['count'];
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /only with var\.evidence_kms_key_name/);
  });

  test('the trigger pointed at another topic', () => {
    const c = copy();
    block(body(c, 'google_cloudfunctions2_function.responder'), 'event_trigger')['pubsub_topic'] = '${google_pubsub_topic.results.id}';
    assertReported(checkWiring(c, want), /event_trigger\.pubsub_topic must be google_pubsub_topic\.findings\.id/);
  });

  test('a reference renamed (function service account)', () => {
    const c = copy();
    block(body(c, 'google_cloudfunctions2_function.responder'), 'service_config')['service_account_email'] = '${google_service_account.runner.email}';
    assertReported(checkWiring(c, want), /service_config\.service_account_email/);
  });

  test('retry disabled on the trigger', () => {
    const c = copy();
    block(body(c, 'google_cloudfunctions2_function.responder'), 'event_trigger')['retry_policy'] = 'RETRY_POLICY_DO_NOT_RETRY';
    assertReported(checkWiring(c, want), /retry_policy must be RETRY_POLICY_RETRY/);
  });

  test('public ingress', () => {
    const c = copy();
    block(body(c, 'google_cloudfunctions2_function.responder'), 'service_config')['ingress_settings'] = 'ALLOW_ALL';
    assertReported(checkWiring(c, want), /ALLOW_INTERNAL_ONLY/);
  });

  test('the runtime no longer matching engines', () => {
    const c = copy();
    block(body(c, 'google_cloudfunctions2_function.responder'), 'build_config')['runtime'] = 'nodejs20';
    assertReported(checkWiring(c, want), /runtime "nodejs20" != nodejs22/);
  });

  test('evidence env pointing at the wrong bucket', () => {
    const c = copy();
    const env = block(body(c, 'google_cloudfunctions2_function.responder'), 'service_config')['environment_variables'] as Record<string, unknown>;
    env['SCC_RESPONDER_EVIDENCE'] = 'gs://${google_storage_bucket.source.name}';
    assertReported(checkWiring(c, want), /SCC_RESPONDER_EVIDENCE/);
  });

  test('the notification config pointed at another topic, or a filter that forgets the handled marks', () => {
    const c = copy();
    body(c, 'google_scc_v2_organization_notification_config.findings')['pubsub_topic'] = '${google_pubsub_topic.results.id}';
    assertReported(checkWiring(c, want), /notification_config\.findings: pubsub_topic must be google_pubsub_topic\.findings\.id/);
    const d = copy();
    d.locals['notification_filter'] = '${join(" AND ", ["(${local.category_clause})", "state = \\"ACTIVE\\"", "resource_name : \\"//container.googleapis.com/\\""])}';
    assertReported(checkWiring(d, want), /must exclude findings marked handled/);
  });

  test('categories no longer read from the shipped policy', () => {
    const c = copy();
    c.locals['policy_categories'] = '${var.categories}';
    assertReported(checkWiring(c, want), /local\.policy_categories: must be/);
    const d = copy();
    const archive = d.data['archive_file']?.['source'];
    assert.ok(archive);
    archive['source_dir'] = '${path.module}/../src';
    assertReported(checkWiring(d, want), /data\.archive_file\.source: must zip local\.source_dir/);
  });

  test('the default policy_file not shipped', () => {
    const c = copy();
    const v = c.variable['policy_file'];
    assert.ok(v);
    v['default'] = 'policies/missing.yaml';
    assertReported(checkWiring(c, want), /policy_file: default "policies\/missing\.yaml" is not a policy shipped/);
  });

  test('handled mark states out of step with shared/record/marks.ts', () => {
    const c = copy();
    const v = c.variable['handled_mark_values'];
    assert.ok(v);
    v['default'] = ['handled'];
    assertReported(checkWiring(c, want), /handled_mark_values/);
  });

  test('dead letters no longer wired', () => {
    const c = copy();
    body(c, 'google_pubsub_subscription.dead_letters')['topic'] = '${google_pubsub_topic.findings.id}';
    assertReported(checkWiring(c, want), /dead_letters: must subscribe to google_pubsub_topic\.dead_letters/);
    const d = copy();
    delete d.resource['terraform_data']?.['dead_letter_route'];
    assertReported(checkWiring(d, want), /missing resource terraform_data\.dead_letter_route/);
  });

  test('a public or unprotected evidence bucket', () => {
    const c = copy();
    body(c, 'google_storage_bucket.evidence')['public_access_prevention'] = 'inherited';
    body(c, 'google_storage_bucket.evidence')['uniform_bucket_level_access'] = false;
    const problems = checkWiring(c, want);
    assertReported(problems, /public_access_prevention/);
    assertReported(problems, /uniform_bucket_level_access/);
  });

  test('a metric extracting a label the audit log never writes', () => {
    const c = copy();
    (body(c, 'google_logging_metric.findings_handled')['label_extractors'] as Record<string, string>)['team'] = 'EXTRACT(labels.team)';
    assertReported(checkWiring(c, want), /labels\.team, which the audit log never writes/);
  });

  test('first apply: an alert on a just-created user metric, a hand-built storage agent, a service account before the IAM API, no build identity', () => {
    assert.deepEqual(checkFirstApply(config), []);
    const c = copy();
    body(c, 'google_monitoring_alert_policy.failures')['conditions'] = [
      { display_name: 'x', condition_threshold: [{ filter: 'metric.type = "logging.googleapis.com/user/${google_logging_metric.steps_failed.name}"' }] },
    ];
    assertReported(checkFirstApply(c), /failures: a condition on a user log-based metric fails the first apply/);
    assertReported(checkWiring(c, want), /must be a log-match condition/);
    const d = copy();
    d.locals['storage_service_agent'] = 'service-${data.google_project.this.number}@gs-project-accounts.iam.gserviceaccount.com';
    assertReported(checkFirstApply(d), /storage_service_agent: must come from data\.google_storage_project_service_account/);
    const e = copy();
    delete body(e, 'google_service_account.trigger')['depends_on'];
    assertReported(checkFirstApply(e), /google_service_account\.trigger: must depend on google_project_service\.apis/);
    const f = copy();
    const apis = body(f, 'google_project_service.apis');
    apis['for_each'] = String(apis['for_each']).replace('"iam.googleapis.com",', '');
    assert.notEqual(apis['for_each'], body(config, 'google_project_service.apis')['for_each'], 'fixture: iam API listed');
    assertReported(checkFirstApply(f), /must enable iam\.googleapis\.com/);
    const g = copy();
    block(body(g, 'google_cloudfunctions2_function.responder'), 'build_config')['service_account'] = '${var.build_service_account}';
    assertReported(checkFirstApply(g), /build_config\.service_account must be var\.build_service_account or google_service_account\.build/);
  });

  test('the build grants made unconditional, or given to the function', () => {
    const c = copy();
    delete body(c, 'google_project_iam_member.build_builder')['count'];
    assertReported(checkGrants(c, want.gcpPermissions, want.plumbing), /build_builder: must be granted only with var\.build_service_account/);
    const d = copy();
    body(d, 'google_storage_bucket_iam_member.build_source_reader')['member'] = 'serviceAccount:${google_service_account.responder.email}';
    assertReported(checkGrants(d, want.gcpPermissions, want.plumbing), /granted but not declared: roles\/storage\.objectViewer@bucket:source-bucket/);
  });

  test('a resource removed', () => {
    const c = copy();
    delete c.resource['google_pubsub_topic']?.['dead_letters'];
    assertReported(checkWiring(c, want), /missing resource google_pubsub_topic\.dead_letters/);
  });

  test('duplicate names across files', () => {
    const json = { resource: { google_pubsub_topic: { findings: [{ name: 'a' }] } } };
    const { problems } = mergeTf([
      { file: 'a.tf', json },
      { file: 'b.tf', json },
    ]);
    assertReported(problems, /b\.tf: duplicate resource google_pubsub_topic\.findings/);
  });
});

describe('Kubernetes RBAC (infra/k8s)', () => {
  test('the committed manifests are exactly what scripts/gen-rbac.ts renders from KUBE_API_CALLS', async () => {
    const rendered = renderRbac();
    assert.equal(await readFile(join(root, RBAC_FILES.base), 'utf8'), rendered.base, 'run: npx tsx scripts/gen-rbac.ts');
    assert.equal(await readFile(join(root, RBAC_FILES.protectedNamespaces), 'utf8'), rendered.protectedNamespaces, 'run: npx tsx scripts/gen-rbac.ts');
  });

  test('parsed independently, the roles grant exactly the verbs the code calls', () => {
    assert.equal(rbac.length, 1);
    for (const r of rbac) assert.deepEqual(checkRbac(r), [], r.file);
    // The trusted evidence collector (default for enforce rules) needs patch on pods/ephemeralcontainers.
    const base = rbac.find((r) => r.file === RBAC_FILES.base);
    assert.ok(base, 'the base role');
    assert.ok(base.triples.has('|pods/ephemeralcontainers|patch'), 'the collector is granted');
    assert.ok(base.triples.has('|pods|watch'), "the collector's wait watches its pod");
    assert.ok(base.triples.has('|pods/exec|get') && base.triples.has('|pods/exec|create'), 'WebSocket exec needs get and create');
  });

  test('an extra verb, a missing verb, a wildcard, a wrong subject are reported', () => {
    const base = rbac.find((r) => r.file === RBAC_FILES.base);
    assert.ok(base);
    const extra = base.text.replace('verbs: ["delete", "get", "list", "patch", "watch"]', 'verbs: ["delete", "get", "list", "patch", "update", "watch"]');
    assert.notEqual(extra, base.text, 'fixture: pods rule found');
    assertReported(checkRbac({ ...base, text: extra }), /grants \|pods\|update, which no KUBE_API_CALLS entry calls/);
    // The collector's watch (opened beside its PATCH) is a call like any other: dropping the verb is reported.
    const noWatch = base.text.replace('verbs: ["delete", "get", "list", "patch", "watch"]', 'verbs: ["delete", "get", "list", "patch"]');
    assert.notEqual(noWatch, base.text, 'fixture: pods rule found');
    assertReported(checkRbac({ ...base, text: noWatch }), /the code calls \|pods\|watch/);
    const missing = base.text.replace('verbs: ["create", "get"]', 'verbs: ["get"]');
    assertReported(checkRbac({ ...base, text: missing }), /the code calls \|pods\/exec\|create/);
    const wildcard = base.text.replace('resources: ["events"]', 'resources: ["*"]');
    assertReported(checkRbac({ ...base, text: wildcard }), /wildcard/);
    const subject = base.text.replace(`name: ${PLACEHOLDER_SUBJECT}`, 'name: someone@example.com');
    assertReported(checkRbac({ ...base, text: subject }), /subject must be User/);
  });

  test('a new call in the table changes the rendered role (the manifest follows the code)', () => {
    const table: Record<string, readonly KubeApiCall[]> = {
      ...KUBE_API_CALLS,
      readSecret: [{ group: '', resource: 'secrets', verbs: ['get'], why: 'test' }],
    };
    const rendered = renderRbac(table);
    assert.match(rendered.base, /resources: \["secrets"\]/);
    const base = rbac.find((r) => r.file === RBAC_FILES.base);
    assert.ok(base);
    // The committed manifest checked against the grown table: the new call is missing.
    assertReported(checkRbac({ ...base, triples: expectedTriples(table, (c) => c.feature === undefined) }), /the code calls \|secrets\|get/);
    assert.deepEqual(checkRbac({ ...base, text: rendered.base, triples: expectedTriples(table, (c) => c.feature === undefined) }), []);
  });

  test('the admission policy denies the responder writes in exactly the built-in protected namespaces (CEL evaluated)', async () => {
    const policyText = await readFile(join(root, RBAC_FILES.protectedNamespaces), 'utf8');
    const isProtected = (ns: string) => protectedNamespaceMatch(ns, { protectedNamespaces: [...BUILT_IN_PROTECTED_NAMESPACES] }) !== undefined;
    assert.deepEqual(await checkProtectedNamespacesPolicy(policyText, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT), []);
    // Spot checks, in the code's own words.
    assert.equal(await admissionDenies(policyText, { namespace: 'kube-system', username: PLACEHOLDER_SUBJECT, operation: 'DELETE' }), true);
    assert.equal(await admissionDenies(policyText, { namespace: 'gke-managed-cim', username: PLACEHOLDER_SUBJECT, operation: 'UPDATE' }), true);
    assert.equal(await admissionDenies(policyText, { namespace: 'payments', username: PLACEHOLDER_SUBJECT, operation: 'DELETE' }), false);
    assert.ok(namespaceCandidates(BUILT_IN_PROTECTED_NAMESPACES).length > 2 * BUILT_IN_PROTECTED_NAMESPACES.length);
  });

  test('negative controls: a namespace missing from, or added to, the admission policy is reported', async () => {
    const policyText = await readFile(join(root, RBAC_FILES.protectedNamespaces), 'utf8');
    const isProtected = (ns: string) => protectedNamespaceMatch(ns, { protectedNamespaces: [...BUILT_IN_PROTECTED_NAMESPACES] }) !== undefined;
    const missing = policyText.replace("'kube-system', ", '');
    assert.notEqual(missing, policyText, 'fixture: kube-system listed');
    const m = await checkProtectedNamespacesPolicy(missing, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT);
    assertReported(m, /namespace kube-system is allowed, but the code protects it/);
    const extra = policyText.replace("'kube-system', ", "'kube-system', 'default', ");
    assertReported(await checkProtectedNamespacesPolicy(extra, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT), /lists .*"default"/);
    const glob = policyText.replace("request.namespace.matches('^gke-managed-[a-z0-9-]*$')", () => "request.namespace.matches('^gke-managed-x$')");
    assert.notEqual(glob, policyText, 'fixture: glob rendered');
    assertReported(await checkProtectedNamespacesPolicy(glob, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT), /namespace gke-managed-abc-1 is allowed/);
    const anyone = policyText.replace(/expression: "request\.userInfo\.username == [^"]*"/, 'expression: "true"');
    assertReported(await checkProtectedNamespacesPolicy(anyone, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT), /denies users other than the responder/);
    const audit = policyText.replace('validationActions: ["Deny"]', 'validationActions: ["Audit"]');
    assertReported(await checkProtectedNamespacesPolicy(audit, BUILT_IN_PROTECTED_NAMESPACES, isProtected, PLACEHOLDER_SUBJECT), /kube-system is allowed/);
    assert.throws(() => protectedNamespacesCel(['team/a']), /not a namespace name or glob/);
  });

  test('rules merge verbs per resource and resources per verb set', () => {
    const rules = rulesFor(
      {
        a: [{ group: 'apps', resource: 'deployments', verbs: ['get'], why: '' }],
        b: [{ group: 'apps', resource: 'replicasets', verbs: ['get'], why: '' }],
        c: [{ group: '', resource: 'pods', verbs: ['get'], why: '' }],
        d: [{ group: '', resource: 'pods', verbs: ['delete'], why: '' }],
      },
      () => true,
    );
    assert.deepEqual(
      rules.map((r) => [r.apiGroups, r.resources, r.verbs, r.calls]),
      [
        [[''], ['pods'], ['delete', 'get'], ['c', 'd']],
        [['apps'], ['deployments', 'replicasets'], ['get'], ['a', 'b']],
      ],
    );
  });
});

describe('cloudbuild.yaml', () => {
  let build: { steps: { id: string; name: string; entrypoint?: string; args?: string[]; waitFor?: string[]; allowFailure?: boolean; allowExitCodes?: number[] }[]; options: Record<string, unknown>; substitutions: Record<string, string> };

  before(async () => {
    build = parseYaml(await readFile(join(root, 'cloudbuild.yaml'), 'utf8')) as typeof build;
  });

  test('install, lint, test, build, package, deploy in that order, failing fast', () => {
    const ids = build.steps.map((s) => s.id);
    const order = ['install', 'lint', 'test', 'build', 'package', 'deploy'];
    const positions = order.map((id) => ids.indexOf(id));
    assert.ok(positions.every((p) => p >= 0), `steps: ${ids.join(', ')}`);
    assert.deepEqual([...positions].sort((a, b) => a - b), positions, 'in order');
    for (const s of build.steps) {
      assert.equal(s.waitFor, undefined, `${s.id}: no parallel steps`);
      assert.equal(s.allowFailure, undefined, `${s.id}: must fail the build`);
      assert.equal(s.allowExitCodes, undefined, `${s.id}: must fail the build`);
      const script = (s.args ?? []).join('\n');
      if (s.entrypoint === 'bash') assert.match(script, /set -euo pipefail/, `${s.id}: strict shell`);
    }
    assert.equal(build.steps.find((s) => s.id === 'install')?.args?.[0], 'ci');
    // The terraform validation test needs a terraform binary in the node:22 step.
    const ids2 = build.steps.map((s) => s.id);
    assert.ok(ids2.indexOf('terraform-binary') >= 0 && ids2.indexOf('terraform-binary') < ids2.indexOf('test'), 'terraform binary copied before test');
    assert.ok((build.steps.find((s) => s.id === 'test') as { env?: string[] } | undefined)?.env?.includes('TERRAFORM=/workspace/.tools/terraform'));
  });

  test('Node 22 images, Cloud Logging only, project and region substitutions', () => {
    for (const s of build.steps.filter((x) => ['install', 'lint', 'test', 'build', 'package'].includes(x.id))) assert.match(s.name, /^node:22/);
    assert.equal(build.options['logging'], 'CLOUD_LOGGING_ONLY');
    for (const k of ['_PROJECT', '_REGION', '_ORG_ID', '_TF_STATE_BUCKET', '_POLICY_FILE']) assert.ok(k in build.substitutions, k);
    assert.ok(want.policyFiles.includes(build.substitutions['_POLICY_FILE'] ?? ''), `_POLICY_FILE ${build.substitutions['_POLICY_FILE']} is shipped in policies/`);
  });

  test('package stages what Terraform deploys; deploy is terraform apply of infra/', () => {
    const pkg = (build.steps.find((s) => s.id === 'package')?.args ?? []).join('\n');
    assert.match(pkg, /infra\/scripts\/stage-function\.sh \/workspace\/dist\/function-source/);
    assert.match(pkg, /test -f "\/workspace\/dist\/function-source\/\$\{_POLICY_FILE\}\.compiled\.json"/, 'the deployed policy has its compiled data beside it');
    const deploy = (build.steps.find((s) => s.id === 'deploy')?.args ?? []).join('\n');
    assert.match(deploy, /-chdir=infra apply/);
    assert.match(deploy, /source_dir=\/workspace\/dist\/function-source/);
    assert.match(deploy, /organization_id=/);
  });
});

describe('function entry point', () => {
  test(`the deployed entry point (${ENTRY_POINT}) is registered by the function source`, async (t) => {
    const source = join(root, 'functions', 'scc-responder', 'index.ts');
    const exists = await stat(source).then(() => true, () => false);
    if (!exists) {
      t.skip('functions/scc-responder/index.ts not written yet');
      return;
    }
    assert.match(await readFile(source, 'utf8'), new RegExp(`['"]${ENTRY_POINT}['"]`));
  });
});

describe('who may publish findings (issue 14: narrow publishers)', () => {
  const denyRule = (c: TfConfig): Record<string, unknown> => block(block(body(c, 'google_iam_deny_policy.findings_publishers'), 'rules'), 'deny_rule');

  test('a deny policy on the project lets exactly SCC, the responder and Pub/Sub publish', () => {
    assert.deepEqual(checkPublishDeny(config, PUBLISH_DENY), []);
    const rule = denyRule(config);
    assert.deepEqual(rule['denied_permissions'], ['pubsub.googleapis.com/topics.publish']);
    assert.deepEqual(rule['denied_principals'], ['principalSet://goog/public:all']);
    assert.equal((rule['exception_principals'] as unknown[]).length, 3);
  });

  test('drift: no deny policy, an extra exception, a missing SCC exception, a condition, another parent', () => {
    const none = copy();
    delete none.resource['google_iam_deny_policy'];
    assertReported(checkInfra(none, want), /missing google_iam_deny_policy/);

    const extra = copy();
    (denyRule(extra)['exception_principals'] as string[]).push('principal://iam.googleapis.com/projects/-/serviceAccounts/${google_service_account.trigger.email}');
    assertReported(checkPublishDeny(extra, PUBLISH_DENY), /exception trigger-service-account may publish but is not declared/);

    const noScc = copy();
    denyRule(noScc)['exception_principals'] = (denyRule(noScc)['exception_principals'] as string[]).filter((p) => !p.includes('scc_notification'));
    assertReported(checkPublishDeny(noScc, PUBLISH_DENY), /declared exception scc-notification-service-agent is missing/);

    const conditional = copy();
    denyRule(conditional)['denial_condition'] = [{ expression: 'resource.matchTag("x/y", "z")' }];
    assertReported(checkPublishDeny(conditional, PUBLISH_DENY), /denial_condition/);

    const narrowDeny = copy();
    denyRule(narrowDeny)['denied_principals'] = ['principal://goog/subject/someone@example.com'];
    assertReported(checkPublishDeny(narrowDeny, PUBLISH_DENY), /denied_principals must be/);

    const elsewhere = copy();
    body(elsewhere, 'google_iam_deny_policy.findings_publishers')['parent'] = '${urlencode("cloudresourcemanager.googleapis.com/projects/${var.other_project}")}';
    assertReported(checkPublishDeny(elsewhere, PUBLISH_DENY), /parent must be the responder's project/);
  });

  test("the notification filter can name CTD's source; drift is reported", () => {
    assert.deepEqual(checkSourceFilter(config), []);
    const c = copy();
    c.locals['notification_filter'] = '${join(" AND ", concat(["(${local.category_clause})"], local.handled_clauses))}';
    assertReported(checkSourceFilter(c), /must include local\.ctd_source_clauses/);
    const d = copy();
    d.locals['ctd_source_clauses'] = '${[]}';
    assertReported(checkSourceFilter(d), /parent = /);
  });

  test('the function may read findings: Findings Viewer on the organization, declared and granted', () => {
    const { grants } = findGrants(config);
    assert.ok(grants.some((g) => g.member === 'function' && g.role === 'roles/securitycenter.findingsViewer' && g.scope === 'organization'));
    const c = copy();
    delete c.resource['google_organization_iam_member']?.['responder_findings_viewer'];
    assertReported(checkInfra(c, want), /declared but not granted: roles\/securitycenter\.findingsViewer@organization/);
  });

  test('approval author lookup: Private Logs Viewer on the organization (UpdateSecurityMarks is DATA_WRITE), SCC DATA_WRITE audit logs opt-in', () => {
    const { grants } = findGrants(config);
    assert.ok(grants.some((g) => g.member === 'function' && g.role === 'roles/logging.privateLogViewer' && g.scope === 'organization'));
    const audit = body(config, 'google_organization_iam_audit_config.scc_data_write');
    assert.equal(audit['service'], 'securitycenter.googleapis.com');
    assert.equal(audit['count'], '${var.scc_data_write_audit_logs ? 1 : 0}');
    assert.deepEqual((audit['audit_log_config'] as { log_type: string }[]).map((b) => b.log_type), ['DATA_WRITE']);
    const c = copy();
    delete c.resource['google_organization_iam_member']?.['responder_audit_log_viewer'];
    assertReported(checkInfra(c, want), /declared but not granted: roles\/logging\.privateLogViewer@organization/);
  });
});
