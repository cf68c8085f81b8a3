// The infrastructure check: infra/*.tf and infra/k8s/*.yaml against what the code declares.
// No cloud, no Terraform binary: the .tf files are parsed with @cdktn/hcl2json (HCL -> JSON,
// offline WebAssembly; expressions stay strings such as '${google_pubsub_topic.findings.id}')
// and the RBAC manifests with `yaml`. Every check is a pure function returning a list of
// problems (empty = fine), so a test can feed it a mutated copy and see the drift reported.
//
//   npx tsx scripts/check-infra.ts     # prints problems, exit 1 if any
//
// What "declared by the code" means:
//   - IAM roles of the function's service account: shared/gcp-permissions.ts GCP_PERMISSIONS
//   - event-delivery plumbing grants: shared/gcp-permissions.ts INFRA_PLUMBING_GRANTS
//   - Kubernetes verbs: shared/kube/api-calls.ts KUBE_API_CALLS
//   - runtime: package.json engines.node; categories: the bundled policy; the handled mark:
//     shared/record/marks.ts; audit log producer and labels: shared/record/audit-log.ts
import { checkPublishDeny, checkSourceFilter, type PublishDeny } from './check-publishers.js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { KubeApiCall } from '../shared/kube/api-calls.js';
import { grantKey, plumbingKey, type GcpRoleGrant, type PlumbingGrant } from '../shared/gcp-permissions.js';

// ------------------------------------------------------------------ parsed Terraform

/** One Terraform configuration: all .tf files of a directory merged, as hcl2json renders them. */
export interface TfConfig {
  /** resource[type][name] = body (hcl2json wraps each body in a one-element array; unwrapped here). */
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
  variable: Record<string, Record<string, unknown>>;
  locals: Record<string, unknown>;
  output: Record<string, Record<string, unknown>>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** hcl2json renders each block as an array of bodies; Terraform allows one body per name. */
function firstBody(v: unknown): Json {
  if (Array.isArray(v)) return isObject(v[0]) ? v[0] : {};
  return isObject(v) ? v : {};
}

/** Merges hcl2json outputs of several files into one TfConfig. Duplicate names are reported. */
export function mergeTf(files: readonly { file: string; json: Json }[]): { config: TfConfig; problems: string[] } {
  const config: TfConfig = { resource: {}, data: {}, variable: {}, locals: {}, output: {} };
  const problems: string[] = [];
  for (const { file, json } of files) {
    for (const kind of ['resource', 'data'] as const) {
      const byType = json[kind];
      if (!isObject(byType)) continue;
      for (const [type, byName] of Object.entries(byType)) {
        if (!isObject(byName)) continue;
        const target = (config[kind][type] ??= {});
        for (const [name, body] of Object.entries(byName)) {
          if (target[name]) problems.push(`${file}: duplicate ${kind} ${type}.${name}`);
          target[name] = firstBody(body);
        }
      }
    }
    for (const kind of ['variable', 'output'] as const) {
      const byName = json[kind];
      if (!isObject(byName)) continue;
      for (const [name, body] of Object.entries(byName)) {
        if (config[kind][name]) problems.push(`${file}: duplicate ${kind} ${name}`);
        config[kind][name] = firstBody(body);
      }
    }
    const locals = json['locals'];
    for (const block of Array.isArray(locals) ? locals : isObject(locals) ? [locals] : []) {
      if (!isObject(block)) continue;
      for (const [name, value] of Object.entries(block)) {
        if (name in config.locals) problems.push(`${file}: duplicate local ${name}`);
        config.locals[name] = value;
      }
    }
  }
  return { config, problems };
}

/** Parses every `*.tf` in a directory (not recursive). */
export async function loadTf(dir: string): Promise<{ config: TfConfig; problems: string[]; files: string[] }> {
  const { parse } = await import('@cdktn/hcl2json');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.tf')).sort();
  const parsed: { file: string; json: Json }[] = [];
  for (const file of files) {
    const json = (await parse(file, await readFile(join(dir, file), 'utf8'))) as Json;
    parsed.push({ file, json });
  }
  return { ...mergeTf(parsed), files };
}

// ------------------------------------------------------------------ expression helpers

/** A value at a path of block/attribute names; blocks (arrays) are entered at index 0. */
export function at(body: unknown, ...path: string[]): unknown {
  let cur: unknown = body;
  for (const key of path) {
    if (Array.isArray(cur)) cur = cur[0];
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return Array.isArray(cur) && cur.length === 1 && isObject(cur[0]) ? cur[0] : cur;
}

/** All string leaves of a value, joined: what a reference search looks at. */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(text).join('\n');
  if (isObject(value)) return Object.values(value).map(text).join('\n');
  return '';
}

/** Replaces `local.NAME` with the local's expression text (a few levels deep) for reference checks. */
export function resolveLocals(expr: string, locals: Record<string, unknown>, depth = 4): string {
  let out = expr;
  for (let i = 0; i < depth; i += 1) {
    const next = out.replace(/\blocal\.([A-Za-z0-9_]+)/g, (m, name: string) => (name in locals ? `(${text(locals[name])})` : m));
    if (next === out) break;
    out = next;
  }
  return out;
}

/** Whether an expression references `address` (e.g. `google_pubsub_topic.findings`) as a whole name. */
export function references(expr: string, address: string): boolean {
  const escaped = address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_.])${escaped}(\\.|\\[|\\}|\\s|\\)|,|$)`).test(expr);
}

// ------------------------------------------------------------------ IAM grants

const IAM_SCOPE: Record<string, string> = {
  google_project_iam_member: 'project',
  google_organization_iam_member: 'organization',
  google_folder_iam_member: 'folder',
  google_storage_bucket_iam_member: 'bucket',
  google_pubsub_topic_iam_member: 'topic',
  google_pubsub_subscription_iam_member: 'subscription',
  google_cloud_run_v2_service_iam_member: 'run-service',
  google_cloud_run_service_iam_member: 'run-service',
  google_cloudfunctions2_function_iam_member: 'function',
  google_service_account_iam_member: 'service-account',
  google_kms_crypto_key_iam_member: 'crypto-key',
  google_secret_manager_secret_iam_member: 'secret',
};

/** The attribute naming the resource a grant is on, per IAM resource type. */
const IAM_TARGET_ATTR: Record<string, string> = {
  google_storage_bucket_iam_member: 'bucket',
  google_pubsub_topic_iam_member: 'topic',
  google_pubsub_subscription_iam_member: 'subscription',
  google_kms_crypto_key_iam_member: 'crypto_key_id',
  google_secret_manager_secret_iam_member: 'secret_id',
};

/** Terraform addresses (or variables) -> the names gcp-permissions.ts uses for them. */
export const RESOURCE_ALIASES: Record<string, string> = {
  'google_storage_bucket.evidence': 'evidence-bucket',
  'google_pubsub_topic.results': 'results-topic',
  'google_pubsub_topic.findings': 'findings-topic',
  'google_pubsub_topic.dead_letters': 'dead-letter-topic',
  'var.evidence_kms_key_name': 'evidence-key',
  'google_storage_bucket.source': 'source-bucket',
  'google_secret_manager_secret.notify': 'notify-secrets',
};

/** Who a member expression names. */
export function memberKind(member: string): string {
  if (references(member, 'google_service_account.responder')) return 'function';
  if (references(member, 'google_service_account.trigger')) return 'trigger-service-account';
  if (member.includes('@gcp-sa-pubsub.iam.gserviceaccount.com')) return 'pubsub-service-agent';
  if (references(member, 'google_service_account.build')) return 'build-service-account';
  if (references(member, 'data.google_storage_project_service_account.this') || member.includes('@gs-project-accounts.iam.gserviceaccount.com')) return 'storage-service-agent';
  if (/notification_config\.[A-Za-z0-9_]+(\[(\d+|\*)\])?\.service_account/.test(member)) return 'scc-notification-service-agent';
  return `unknown(${member})`;
}

export interface FoundGrant {
  address: string;
  role: string;
  scope: string;
  resource?: string;
  member: string;
  /** The Terraform variable gating the grant via `count`, if any. */
  countVar?: string;
}

/** Every IAM grant in the configuration, with locals resolved in member expressions. */
export function findGrants(config: TfConfig): { grants: FoundGrant[]; problems: string[] } {
  const grants: FoundGrant[] = [];
  const problems: string[] = [];
  for (const [type, byName] of Object.entries(config.resource)) {
    if (!/_iam_(member|binding|policy)$/.test(type)) continue;
    for (const [name, body] of Object.entries(byName)) {
      const address = `${type}.${name}`;
      if (/_iam_(binding|policy)$/.test(type)) {
        problems.push(`${address}: authoritative IAM (${type}) would remove other principals' access; use *_iam_member`);
        continue;
      }
      const scope = IAM_SCOPE[type];
      if (!scope) {
        problems.push(`${address}: IAM resource type ${type} is not one the check knows; add it to IAM_SCOPE`);
        continue;
      }
      const role = body['role'];
      if (typeof role !== 'string' || role.includes('${')) {
        problems.push(`${address}: role must be a literal string (got ${JSON.stringify(role)})`);
        continue;
      }
      const member = resolveLocals(text(body['member']), config.locals);
      const grant: FoundGrant = { address, role, scope, member: memberKind(member) };
      const attr = IAM_TARGET_ATTR[type];
      if (attr) {
        const target = text(body[attr]);
        const alias = Object.entries(RESOURCE_ALIASES).find(([addr]) => references(target, addr));
        grant.resource = alias ? alias[1] : `unknown(${target})`;
      }
      const count = body['count'];
      if (typeof count === 'string') {
        const m = /var\.([A-Za-z0-9_]+)/.exec(count);
        if (m) grant.countVar = m[1] as string;
      }
      grants.push(grant);
    }
  }
  return { grants, problems };
}

function setDiff(label: string, have: Iterable<string>, want: Iterable<string>): string[] {
  const h = new Set(have);
  const w = new Set(want);
  const out: string[] = [];
  for (const k of w) if (!h.has(k)) out.push(`${label}: declared but not granted: ${k}`);
  for (const k of h) if (!w.has(k)) out.push(`${label}: granted but not declared: ${k}`);
  return out;
}

/** The function SA's grants must EQUAL gcp-permissions.ts; the rest must equal the plumbing list. */
export function checkGrants(config: TfConfig, declared: readonly GcpRoleGrant[], plumbing: readonly PlumbingGrant[]): string[] {
  const { grants, problems } = findGrants(config);
  const fn = grants.filter((g) => g.member === 'function');
  const others = grants.filter((g) => g.member !== 'function');
  problems.push(...setDiff('function service account IAM (shared/gcp-permissions.ts GCP_PERMISSIONS)', fn.map(grantKey), declared.map(grantKey)));
  for (const g of fn) if (g.countVar) problems.push(`${g.address}: the function's own roles must not be conditional (count on var.${g.countVar})`);
  problems.push(
    ...setDiff(
      'event-delivery plumbing IAM (shared/gcp-permissions.ts INFRA_PLUMBING_GRANTS)',
      others.map((g) => plumbingKey({ role: g.role, scope: g.scope, member: g.member, ...(g.resource ? { resource: g.resource } : {}) })),
      plumbing.map(plumbingKey),
    ),
  );
  for (const p of plumbing) {
    if (!('onlyWith' in p) || !p.onlyWith) continue;
    const found = others.find((g) => plumbingKey({ role: g.role, scope: g.scope, member: g.member, ...(g.resource ? { resource: g.resource } : {}) }) === plumbingKey(p));
    if (found && found.countVar !== p.onlyWith) problems.push(`${found.address}: must be granted only with var.${p.onlyWith} (count), found ${found.countVar ?? 'unconditional'}`);
  }
  return problems;
}

// ------------------------------------------------------------------ the rest of the wiring

export interface InfraExpectations {
  gcpPermissions: readonly GcpRoleGrant[];
  plumbing: readonly PlumbingGrant[];
  /** `nodejs` + major of package.json engines.node. */
  runtime: string;
  entryPoint: string;
  /** shared/record/marks.ts: MARK_KEYS.state and FINAL_MARK_STATES (not awaiting-approval). */
  handledMark: { key: string; values: readonly string[] };
  /** shared/common/product.ts RESPONDER_NAME. */
  auditProducer: string;
  /** Label keys the audit log writes (the metrics may only extract these). */
  auditLabelKeys: readonly string[];
  /** Policy files shipped in policies/ (relative paths, e.g. policies/default.yaml). */
  policyFiles: readonly string[];
  /** shared/gcp-permissions.ts PUBLISH_DENY: who may publish in the responder's project. */
  publishDeny: PublishDeny;
}

/** main.tf reads the policy the function ships ... */
export const POLICY_DOCUMENT_EXPR = '${yamldecode(file("${local.source_dir}/${var.policy_file}"))}';
/** ... and takes every rule's match.categories: the same path as shared/policy policyCategories(). */
export const POLICY_CATEGORIES_EXPR = '${distinct(flatten([for rule in local.policy_document.rules : rule.match.categories]))}';

/**
 * What POLICY_CATEGORIES_EXPR evaluates to for a policy file (a TypeScript mirror of the HCL,
 * so the test can compare it with the code's policyCategories() for every shipped policy).
 * Throws where Terraform would fail (no rules list, a rule without match.categories).
 */
export function terraformPolicyCategories(yamlText: string): string[] {
  const doc: unknown = parseYaml(yamlText);
  const rules = isObject(doc) ? doc['rules'] : undefined;
  if (!Array.isArray(rules)) throw new Error('policy has no rules list (yamldecode(...).rules fails)');
  const out: string[] = [];
  for (const rule of rules) {
    const cats = at(rule, 'match', 'categories');
    if (!Array.isArray(cats)) throw new Error('a rule has no match.categories (Terraform fails on the missing attribute)');
    for (const c of cats) if (!out.includes(String(c))) out.push(String(c));
  }
  return out;
}

export const REQUIRED_RESOURCES = [
  'google_pubsub_topic.findings',
  'google_pubsub_topic.results',
  'google_pubsub_topic.dead_letters',
  'google_pubsub_subscription.dead_letters',
  'google_service_account.responder',
  'google_service_account.trigger',
  'google_storage_bucket.evidence',
  'google_storage_bucket.source',
  'google_storage_bucket_object.source',
  'google_cloudfunctions2_function.responder',
  'google_scc_v2_organization_notification_config.findings',
  'google_scc_notification_config.findings_v1',
  'terraform_data.dead_letter_route',
  'google_logging_metric.findings_handled',
  'google_logging_metric.pods_contained',
  'google_logging_metric.steps_failed',
  'google_monitoring_alert_policy.failures',
  'google_monitoring_alert_policy.dead_letters',
  'data.google_storage_project_service_account.this',
] as const;

function resource(config: TfConfig, address: string): Json | undefined {
  if (address.startsWith('data.')) {
    const [, type, name] = address.split('.') as [string, string, string];
    return config.data[type]?.[name];
  }
  const [type, name] = address.split('.') as [string, string];
  return config.resource[type]?.[name];
}

function expect(problems: string[], ok: boolean, message: string): void {
  if (!ok) problems.push(message);
}

function variableDefault(config: TfConfig, name: string): unknown {
  return config.variable[name]?.['default'];
}

export function checkWiring(config: TfConfig, want: InfraExpectations): string[] {
  const problems: string[] = [];
  for (const address of REQUIRED_RESOURCES) expect(problems, resource(config, address) !== undefined, `missing resource ${address}`);

  // ---- the function
  const fn = resource(config, 'google_cloudfunctions2_function.responder');
  if (fn) {
    const F = 'google_cloudfunctions2_function.responder';
    const runtime = at(fn, 'build_config', 'runtime');
    expect(problems, runtime === want.runtime, `${F}: runtime ${JSON.stringify(runtime)} != ${want.runtime} (package.json engines.node)`);
    const entry = at(fn, 'build_config', 'entry_point');
    expect(problems, entry === want.entryPoint, `${F}: entry_point ${JSON.stringify(entry)} != ${want.entryPoint}`);
    expect(problems, references(text(at(fn, 'build_config', 'source')), 'google_storage_bucket_object.source'), `${F}: build source must be google_storage_bucket_object.source (the built package)`);
    const trig = at(fn, 'event_trigger');
    expect(problems, at(trig, 'pubsub_topic') === '${google_pubsub_topic.findings.id}', `${F}: event_trigger.pubsub_topic must be google_pubsub_topic.findings.id (got ${JSON.stringify(at(trig, 'pubsub_topic'))})`);
    expect(problems, at(trig, 'event_type') === 'google.cloud.pubsub.topic.v1.messagePublished', `${F}: event_trigger.event_type must be google.cloud.pubsub.topic.v1.messagePublished`);
    expect(problems, at(trig, 'retry_policy') === 'RETRY_POLICY_RETRY', `${F}: event_trigger.retry_policy must be RETRY_POLICY_RETRY (transient errors throw to be retried)`);
    expect(problems, references(text(at(trig, 'service_account_email')), 'google_service_account.trigger'), `${F}: event_trigger.service_account_email must be google_service_account.trigger`);
    const svc = at(fn, 'service_config');
    expect(problems, at(svc, 'service_account_email') === '${google_service_account.responder.email}', `${F}: service_config.service_account_email must be google_service_account.responder.email`);
    expect(problems, at(svc, 'ingress_settings') === 'ALLOW_INTERNAL_ONLY', `${F}: ingress_settings must be ALLOW_INTERNAL_ONLY`);
    for (const attr of ['max_instance_count', 'max_instance_request_concurrency', 'timeout_seconds', 'available_memory']) {
      expect(problems, at(svc, attr) !== undefined, `${F}: service_config.${attr} must be set`);
    }
    const env = at(svc, 'environment_variables');
    const envOf = (k: string): string => (isObject(env) ? text(env[k]) : '');
    expect(problems, references(envOf('SCC_RESPONDER_EVIDENCE'), 'google_storage_bucket.evidence'), `${F}: SCC_RESPONDER_EVIDENCE must point at google_storage_bucket.evidence`);
    expect(problems, references(envOf('SCC_RESPONDER_RESULTS_TOPIC'), 'google_pubsub_topic.results'), `${F}: SCC_RESPONDER_RESULTS_TOPIC must be google_pubsub_topic.results`);
    expect(problems, envOf('SCC_RESPONDER_POLICY') === '${var.policy_file}', `${F}: SCC_RESPONDER_POLICY must be var.policy_file`);
  }
  const policyDefault = variableDefault(config, 'policy_file');
  expect(
    problems,
    typeof policyDefault === 'string' && want.policyFiles.includes(policyDefault),
    `variable policy_file: default ${JSON.stringify(policyDefault)} is not a policy shipped in policies/ (${want.policyFiles.join(', ') || 'none'})`,
  );

  // ---- SCC notification config (v2 and the v1 alternative)
  for (const address of ['google_scc_v2_organization_notification_config.findings', 'google_scc_notification_config.findings_v1']) {
    const cfg = resource(config, address);
    if (!cfg) continue;
    expect(problems, cfg['pubsub_topic'] === '${google_pubsub_topic.findings.id}', `${address}: pubsub_topic must be google_pubsub_topic.findings.id (got ${JSON.stringify(cfg['pubsub_topic'])})`);
    expect(problems, at(cfg, 'streaming_config', 'filter') === '${local.notification_filter}', `${address}: streaming_config.filter must be local.notification_filter`);
  }
  const v2 = resource(config, 'google_scc_v2_organization_notification_config.findings');
  if (v2) expect(problems, v2['location'] === 'global', 'google_scc_v2_organization_notification_config.findings: location must be "global"');
  const filter = resolveLocals(text(config.locals['notification_filter']), config.locals);
  expect(problems, config.locals['policy_document'] === POLICY_DOCUMENT_EXPR, `local.policy_document: must be ${POLICY_DOCUMENT_EXPR} (the shipped policy file)`);
  expect(problems, config.locals['policy_categories'] === POLICY_CATEGORIES_EXPR, `local.policy_categories: must be ${POLICY_CATEGORIES_EXPR} (what policyCategories() reads)`);
  expect(problems, references(text(config.locals['finding_categories']), 'local.policy_categories'), 'local.finding_categories: must include local.policy_categories');
  expect(problems, references(text(config.locals['category_clause']), 'local.finding_categories'), 'local.category_clause: must select local.finding_categories');
  const archive = config.data['archive_file']?.['source'];
  expect(problems, archive?.['source_dir'] === '${local.source_dir}', 'data.archive_file.source: must zip local.source_dir, the tree the policy categories are read from');
  expect(problems, references(text(config.locals['notification_filter']), 'local.category_clause') && filter.includes('rule.match.categories') && filter.includes('category = '), 'local.notification_filter: must select the categories of the deployed policy');
  expect(problems, filter.includes('state = \\"ACTIVE\\"'), 'local.notification_filter: must require state = "ACTIVE"');
  expect(problems, filter.includes('resource_name : \\"//container.googleapis.com/\\"'), 'local.notification_filter: must select GKE cluster resources (resource_name : "//container.googleapis.com/")');
  expect(
    problems,
    filter.includes('-security_marks.marks.%s') && filter.includes('var.handled_mark_key') && filter.includes('var.handled_mark_values'),
    'local.notification_filter: must exclude findings marked handled (-security_marks.marks.<key> = "<value>")',
  );
  expect(problems, variableDefault(config, 'handled_mark_key') === want.handledMark.key, `variable handled_mark_key: default must be ${want.handledMark.key} (shared/record/marks.ts)`);
  const values = variableDefault(config, 'handled_mark_values');
  const valueList = Array.isArray(values) ? values.map(String) : [];
  expect(
    problems,
    valueList.length === want.handledMark.values.length && want.handledMark.values.every((v) => valueList.includes(v)),
    `variable handled_mark_values: default ${JSON.stringify(valueList)} must equal the handled states ${JSON.stringify(want.handledMark.values)}`,
  );

  // ---- dead letters
  const dlSub = resource(config, 'google_pubsub_subscription.dead_letters');
  if (dlSub) expect(problems, references(text(dlSub['topic']), 'google_pubsub_topic.dead_letters'), 'google_pubsub_subscription.dead_letters: must subscribe to google_pubsub_topic.dead_letters');
  const route = resource(config, 'terraform_data.dead_letter_route');
  if (route) {
    const exec = at(route, 'provisioner', 'local-exec');
    const env = at(exec, 'environment');
    const envOf = (k: string): string => (isObject(env) ? text(env[k]) : '');
    expect(problems, references(envOf('DEAD_LETTER_TOPIC'), 'google_pubsub_topic.dead_letters'), 'terraform_data.dead_letter_route: DEAD_LETTER_TOPIC must be google_pubsub_topic.dead_letters');
    expect(problems, envOf('TRIGGER').includes('google_cloudfunctions2_function.responder.event_trigger'), "terraform_data.dead_letter_route: TRIGGER must be the function's event_trigger");
    expect(problems, text(at(exec, 'command')).includes('route-dead-letters.sh'), 'terraform_data.dead_letter_route: must run scripts/route-dead-letters.sh');
  }
  const attempts = variableDefault(config, 'dead_letter_max_delivery_attempts');
  expect(problems, typeof attempts === 'number' && attempts >= 5 && attempts <= 100, `variable dead_letter_max_delivery_attempts: default ${JSON.stringify(attempts)} outside Pub/Sub's 5-100`);

  // ---- evidence bucket
  const bucket = resource(config, 'google_storage_bucket.evidence');
  if (bucket) {
    const B = 'google_storage_bucket.evidence';
    expect(problems, bucket['uniform_bucket_level_access'] === true, `${B}: uniform_bucket_level_access must be true`);
    expect(problems, bucket['public_access_prevention'] === 'enforced', `${B}: public_access_prevention must be "enforced"`);
    expect(problems, bucket['force_destroy'] !== true, `${B}: force_destroy would delete evidence on destroy`);
    const dyn = isObject(bucket['dynamic']) ? bucket['dynamic'] : {};
    expect(problems, bucket['versioning'] !== undefined, `${B}: versioning block missing`);
    expect(problems, bucket['retention_policy'] !== undefined || dyn['retention_policy'] !== undefined, `${B}: retention_policy missing`);
    expect(problems, bucket['encryption'] !== undefined || dyn['encryption'] !== undefined, `${B}: optional CMEK (encryption) missing`);
    const lifecycle = text(bucket['lifecycle_rule']) + text(dyn['lifecycle_rule']);
    expect(problems, lifecycle.includes('SetStorageClass') && lifecycle.includes('COLDLINE'), `${B}: lifecycle must move evidence to COLDLINE`);
    expect(problems, lifecycle.includes('Delete') && lifecycle.includes('var.evidence_retention_days'), `${B}: lifecycle must delete evidence after the retention period`);
  }

  // ---- monitoring
  const auditFilter = text(config.locals['audit_log_filter']);
  expect(problems, auditFilter.includes(`operation.producer = \\"${want.auditProducer}\\"`), `local.audit_log_filter: must select operation.producer = "${want.auditProducer}" (shared/record/audit-log.ts)`);
  expect(problems, auditFilter.includes('run.googleapis.com%2Fstdout'), 'local.audit_log_filter: must read the Cloud Run stdout log');
  const metricChecks: [string, string][] = [
    ['findings_handled', 'jsonPayload.summary'],
    ['pods_contained', 'labels.action'],
    ['steps_failed', 'jsonPayload.step.status'],
  ];
  for (const [name, needle] of metricChecks) {
    const metric = resource(config, `google_logging_metric.${name}`);
    if (!metric) continue;
    const f = text(metric['filter']);
    expect(problems, f.includes('${local.audit_log_filter}'), `google_logging_metric.${name}: filter must start from local.audit_log_filter`);
    expect(problems, f.includes(needle), `google_logging_metric.${name}: filter must select ${needle}`);
    const extractors = isObject(metric['label_extractors']) ? metric['label_extractors'] : {};
    for (const [key, expr] of Object.entries(extractors)) {
      const m = /^EXTRACT\(labels\.([A-Za-z0-9_]+)\)$/.exec(String(expr));
      if (m) expect(problems, want.auditLabelKeys.includes(m[1] as string), `google_logging_metric.${name}: label ${key} extracts labels.${m[1]}, which the audit log never writes`);
    }
  }
  const alert = resource(config, 'google_monitoring_alert_policy.failures');
  if (alert) {
    const A = 'google_monitoring_alert_policy.failures';
    expect(problems, at(alert, 'conditions', 'condition_matched_log', 'filter') === '${google_logging_metric.steps_failed.filter}', `${A}: must be a log-match condition on google_logging_metric.steps_failed.filter`);
    expect(problems, at(alert, 'alert_strategy', 'notification_rate_limit') !== undefined, `${A}: a log-match alert needs alert_strategy.notification_rate_limit`);
    expect(problems, alert['notification_channels'] === '${var.alert_notification_channels}', `${A}: notification_channels must be var.alert_notification_channels`);
  }
  const dead = resource(config, 'google_monitoring_alert_policy.dead_letters');
  if (dead) {
    expect(problems, references(text(dead['conditions']), 'google_pubsub_subscription.dead_letters'), 'google_monitoring_alert_policy.dead_letters: must alert on the dead-letter backlog');
    expect(problems, dead['notification_channels'] === '${var.alert_notification_channels}', 'google_monitoring_alert_policy.dead_letters: notification_channels must be var.alert_notification_channels');
  }
  problems.push(...checkFirstApply(config));
  return problems;
}

/**
 * What a first apply on a fresh project needs, beyond the wiring (issue 15): no alert on a
 * user log-based metric created in the same apply (Monitoring answers 404 for minutes), the
 * storage agent from its data source, service accounts after the IAM API, a build identity.
 */
export function checkFirstApply(config: TfConfig): string[] {
  const problems: string[] = [];
  for (const [name, body] of Object.entries(config.resource['google_monitoring_alert_policy'] ?? {})) {
    expect(
      problems,
      !text(body['conditions']).includes('logging.googleapis.com/user/'),
      `google_monitoring_alert_policy.${name}: a condition on a user log-based metric fails the first apply (404 until Monitoring knows the new metric); use condition_matched_log`,
    );
  }
  expect(problems, text(config.locals['storage_service_agent']).includes('data.google_storage_project_service_account.this.email_address'), 'local.storage_service_agent: must come from data.google_storage_project_service_account (the agent exists only after first use)');
  const apis = text(resource(config, 'google_project_service.apis')?.['for_each']);
  for (const api of ['iam.googleapis.com', 'cloudresourcemanager.googleapis.com', 'cloudbuild.googleapis.com']) expect(problems, apis.includes(api), `google_project_service.apis: must enable ${api}`);
  for (const [name, body] of Object.entries(config.resource['google_service_account'] ?? {})) {
    expect(problems, references(text(body['depends_on']), 'google_project_service.apis'), `google_service_account.${name}: must depend on google_project_service.apis (iam.googleapis.com)`);
  }
  const build = text(at(resource(config, 'google_cloudfunctions2_function.responder'), 'build_config', 'service_account'));
  expect(problems, references(build, 'var.build_service_account') && references(build, 'google_service_account.build'), 'google_cloudfunctions2_function.responder: build_config.service_account must be var.build_service_account or google_service_account.build');
  return problems;
}

/** Everything about the Terraform configuration. */
export function checkInfra(config: TfConfig, want: InfraExpectations): string[] {
  return [...checkWiring(config, want), ...checkGrants(config, want.gcpPermissions, want.plumbing), ...checkPublishDeny(config, want.publishDeny), ...checkSourceFilter(config)];
}

// ------------------------------------------------------------------ log filters

/** What Cloud Logging makes of one JSON line on stdout: the special keys move out of jsonPayload. */
export interface LogEntryView {
  labels: Record<string, string>;
  operation: Record<string, unknown>;
  jsonPayload: Record<string, unknown>;
}

export function stdoutToLogEntry(line: Record<string, unknown>): LogEntryView {
  const { ['logging.googleapis.com/labels']: labels, ['logging.googleapis.com/operation']: operation, ...rest } = line;
  return {
    labels: isObject(labels) ? Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) : {},
    operation: isObject(operation) ? operation : {},
    jsonPayload: rest,
  };
}

function fieldValue(entry: LogEntryView, path: string): unknown {
  const [head, ...rest] = path.split('.');
  const base: unknown = head === 'labels' ? entry.labels : head === 'operation' ? entry.operation : head === 'jsonPayload' ? entry.jsonPayload : undefined;
  return rest.length === 0 ? base : at(base, ...rest);
}

/**
 * Evaluates the parts of a Logging query that look at the entry's own fields (jsonPayload,
 * labels, operation), for the AND-only filters the metrics use; terms on resource and
 * logName (set by the platform) are taken as true. Supports `f = "v"`, `f = true`,
 * `f:*` and `f =~ "re"`; anything else throws, so a new kind of term gets an evaluator
 * before a test can rely on it.
 */
export function matchesLogFilter(filter: string, entry: LogEntryView): boolean {
  const terms = filter.replace(/\\"/g, '"').split(/\s+AND\s+/);
  for (const raw of terms) {
    const term = raw.trim();
    if (/^(resource\.|logName\b)/.test(term)) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([A-Za-z0-9_.]+):\*$/.exec(term))) {
      if (fieldValue(entry, m[1] as string) === undefined) return false;
    } else if ((m = /^([A-Za-z0-9_.]+)\s*=~\s*"(.*)"$/.exec(term))) {
      const v = fieldValue(entry, m[1] as string);
      if (typeof v !== 'string' || !new RegExp(m[2] as string).test(v)) return false;
    } else if ((m = /^([A-Za-z0-9_.]+)\s*=\s*"(.*)"$/.exec(term))) {
      if (fieldValue(entry, m[1] as string) !== m[2]) return false;
    } else if ((m = /^([A-Za-z0-9_.]+)\s*=\s*(true|false)$/.exec(term))) {
      if (fieldValue(entry, m[1] as string) !== (m[2] === 'true')) return false;
    } else {
      throw new Error(`matchesLogFilter: unsupported term ${JSON.stringify(term)}`);
    }
  }
  return true;
}

/** The value a label extractor `EXTRACT(path)` takes from an entry (undefined when absent). */
export function extractLabel(extractor: string, entry: LogEntryView): string | undefined {
  const m = /^EXTRACT\(([A-Za-z0-9_.]+)\)$/.exec(extractor);
  if (!m) throw new Error(`extractLabel: unsupported extractor ${extractor}`);
  const v = fieldValue(entry, m[1] as string);
  return v === undefined ? undefined : String(v);
}

/** A metric's filter with `${local.audit_log_filter}` expanded (other interpolations left as text). */
export function metricFilter(config: TfConfig, metric: string): string {
  const body = config.resource['google_logging_metric']?.[metric];
  if (!body) throw new Error(`no google_logging_metric.${metric}`);
  const audit = text(config.locals['audit_log_filter']);
  // The local is a join() of quoted terms: recover the terms as one AND chain.
  const terms = [...audit.matchAll(/"((?:[^"\\]|\\.)*)",?/g)].map((x) => (x[1] as string)).filter((t) => t !== ' AND ');
  return text(body['filter']).replace('${local.audit_log_filter}', terms.join(' AND '));
}

// ------------------------------------------------------------------ RBAC

/** `group|resource|verb` triples a set of table entries needs. */
export function expectedTriples(table: Readonly<Record<string, readonly KubeApiCall[]>>, select: (c: KubeApiCall) => boolean): Set<string> {
  const out = new Set<string>();
  for (const calls of Object.values(table)) for (const c of calls) if (select(c)) for (const v of c.verbs) out.add(`${c.group}|${c.resource}|${v}`);
  return out;
}

export interface RbacExpectation {
  file: string;
  text: string;
  roleName: string;
  subject: string;
  triples: ReadonlySet<string>;
}

/** Parses a manifest independently of the generator and compares what it grants. */
export function checkRbac(exp: RbacExpectation): string[] {
  const problems: string[] = [];
  const docs = parseAllDocuments(exp.text);
  const objects: Json[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length > 0) {
      problems.push(`${exp.file}: YAML error: ${d.errors[0]?.message ?? 'unknown'}`);
      continue;
    }
    const js: unknown = d.toJS();
    if (isObject(js)) objects.push(js);
  }
  const roles = objects.filter((o) => o['kind'] === 'ClusterRole' || o['kind'] === 'Role');
  const bindings = objects.filter((o) => o['kind'] === 'ClusterRoleBinding' || o['kind'] === 'RoleBinding');
  const role = roles.find((r) => at(r, 'metadata', 'name') === exp.roleName);
  if (!role) {
    problems.push(`${exp.file}: no ClusterRole named ${exp.roleName}`);
    return problems;
  }
  if (role['kind'] !== 'ClusterRole') problems.push(`${exp.file}: ${exp.roleName} must be a ClusterRole (pods live in every namespace)`);
  if (roles.length !== 1) problems.push(`${exp.file}: expected exactly one role, found ${roles.length}`);
  const granted = new Set<string>();
  const rules = Array.isArray(role['rules']) ? role['rules'] : [];
  for (const rule of rules) {
    if (!isObject(rule)) continue;
    if (rule['nonResourceURLs'] !== undefined) problems.push(`${exp.file}: nonResourceURLs are not used by the responder`);
    if (rule['resourceNames'] !== undefined) problems.push(`${exp.file}: resourceNames would restrict rules to named objects; the table has none`);
    const groups = Array.isArray(rule['apiGroups']) ? rule['apiGroups'].map(String) : [];
    const resources = Array.isArray(rule['resources']) ? rule['resources'].map(String) : [];
    const verbs = Array.isArray(rule['verbs']) ? rule['verbs'].map(String) : [];
    for (const x of [...groups, ...resources, ...verbs]) if (x === '*') problems.push(`${exp.file}: wildcard "*" grants more than the code calls`);
    for (const g of groups) for (const r of resources) for (const v of verbs) granted.add(`${g}|${r}|${v}`);
  }
  for (const t of exp.triples) if (!granted.has(t)) problems.push(`${exp.file}: the code calls ${t} but ${exp.roleName} does not grant it`);
  for (const t of granted) if (!exp.triples.has(t)) problems.push(`${exp.file}: ${exp.roleName} grants ${t}, which no KUBE_API_CALLS entry calls`);
  const binding = bindings.find((b) => at(b, 'roleRef', 'name') === exp.roleName);
  if (!binding) {
    problems.push(`${exp.file}: no binding for ${exp.roleName}`);
    return problems;
  }
  if (binding['kind'] !== 'ClusterRoleBinding') problems.push(`${exp.file}: binding for ${exp.roleName} must be a ClusterRoleBinding`);
  if (at(binding, 'roleRef', 'kind') !== 'ClusterRole') problems.push(`${exp.file}: roleRef.kind must be ClusterRole`);
  const subjects = Array.isArray(binding['subjects']) ? binding['subjects'].filter(isObject) : [];
  if (subjects.length !== 1) problems.push(`${exp.file}: expected exactly one subject (the function's service account), found ${subjects.length}`);
  const s = subjects[0];
  if (s && (s['kind'] !== 'User' || s['name'] !== exp.subject || s['apiGroup'] !== 'rbac.authorization.k8s.io')) {
    problems.push(`${exp.file}: subject must be User ${exp.subject} (apiGroup rbac.authorization.k8s.io), got ${JSON.stringify(s)}`);
  }
  return problems;
}

// ------------------------------------------------------------------ protected namespaces (admission)

export interface AdmissionRequestView {
  namespace: string;
  username: string;
  operation: string;
}

/**
 * The committed ValidatingAdmissionPolicy evaluated with a real CEL engine (@bufbuild/cel):
 * whether it denies a request. Matching on operations is read from matchConstraints.
 */
export async function admissionDenies(policyText: string, req: AdmissionRequestView): Promise<boolean> {
  const { run } = await import('@bufbuild/cel');
  const docs = parseAllDocuments(policyText).map((d) => d.toJS() as unknown);
  const policy = docs.find((d) => isObject(d) && d['kind'] === 'ValidatingAdmissionPolicy');
  if (!isObject(policy)) throw new Error('no ValidatingAdmissionPolicy in the file');
  const binding = docs.find((d) => isObject(d) && d['kind'] === 'ValidatingAdmissionPolicyBinding');
  if (!isObject(binding) || at(binding, 'spec', 'policyName') !== at(policy, 'metadata', 'name')) return false;
  if (!text(at(binding, 'spec', 'validationActions')).split('\n').includes('Deny')) return false;
  // at() unwraps one-element lists of objects: take them back as lists.
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  const ops = text(list(at(policy, 'spec', 'matchConstraints', 'resourceRules')).map((r) => (isObject(r) ? r['operations'] : []))).split('\n');
  if (!ops.includes(req.operation) && !ops.includes('*')) return false;
  const request = { namespace: req.namespace, operation: req.operation, userInfo: { username: req.username } };
  for (const c of list(at(policy, 'spec', 'matchConditions'))) {
    if (isObject(c) && run(String(c['expression']), { request } as never) !== true) return false;
  }
  return list(at(policy, 'spec', 'validations')).some((v) => isObject(v) && run(String(v['expression']), { request } as never) !== true);
}

/** Namespaces worth asking about: each pattern made concrete, near misses, ordinary ones. */
export function namespaceCandidates(patterns: readonly string[]): string[] {
  const out = new Set(['default', 'payments', 'kube', 'kube-systems', 'xkube-system', 'gke-managed', 'istio', 'prod-kube-system']);
  for (const p of patterns) {
    out.add(p.replace(/\*/g, '').replace(/\?/g, 'a'));
    out.add(p.replace(/\*/g, 'abc-1').replace(/\?/g, 'z'));
    out.add(`${p.replace(/[*?]/g, 'q')}-x`);
    out.add(`x-${p.replace(/[*?]/g, 'q')}`);
  }
  return [...out].filter((n) => /^[a-z0-9-]+$/.test(n));
}

/**
 * The admission policy names exactly the code's protected namespaces: the literal list equals
 * the exact names, and for every candidate namespace the policy denies a write by the
 * responder exactly when `isProtected` says so; it never denies another user or an exec.
 */
export async function checkProtectedNamespacesPolicy(policyText: string, patterns: readonly string[], isProtected: (ns: string) => boolean, subject: string): Promise<string[]> {
  const problems: string[] = [];
  const F = 'infra/k8s/protected-namespaces-policy.yaml';
  const listed = /request\.namespace in \[([^\]]*)\]/.exec(policyText)?.[1] ?? '';
  const names = [...listed.matchAll(/'([^']+)'/g)].map((m) => m[1] as string).sort();
  const exact = patterns.filter((p) => !/[*?]/.test(p)).sort();
  if (JSON.stringify(names) !== JSON.stringify(exact)) problems.push(`${F}: lists ${JSON.stringify(names)}, the built-in exact names are ${JSON.stringify(exact)}`);
  for (const ns of namespaceCandidates(patterns)) {
    const denied = await admissionDenies(policyText, { namespace: ns, username: subject, operation: 'DELETE' });
    if (denied !== isProtected(ns)) problems.push(`${F}: a DELETE by the responder in namespace ${ns} is ${denied ? 'denied' : 'allowed'}, but the code ${isProtected(ns) ? 'protects' : 'does not protect'} it`);
  }
  const sample = patterns[0] ?? 'kube-system';
  if (await admissionDenies(policyText, { namespace: sample, username: 'someone-else@example.com', operation: 'DELETE' })) problems.push(`${F}: denies users other than the responder`);
  if (await admissionDenies(policyText, { namespace: sample, username: subject, operation: 'CONNECT' })) problems.push(`${F}: denies exec (CONNECT), which evidence collection needs`);
  for (const op of ['CREATE', 'UPDATE']) {
    if (!(await admissionDenies(policyText, { namespace: sample, username: subject, operation: op }))) problems.push(`${F}: does not deny ${op} in ${sample}`);
  }
  return problems;
}

// ------------------------------------------------------------------ CLI

async function main(): Promise<number> {
  const root = join(import.meta.dirname, '..');
  const { expectationsFromRepo } = await import('./infra-expectations.js');
  const want = await expectationsFromRepo(root);
  const { config, problems } = await loadTf(join(root, 'infra'));
  problems.push(...checkInfra(config, want.infra));
  for (const r of want.rbac) problems.push(...checkRbac(r));
  const { BUILT_IN_PROTECTED_NAMESPACES } = await import('../shared/policy/schema.js');
  const { protectedNamespaceMatch } = await import('../shared/policy/index.js');
  const { PLACEHOLDER_SUBJECT, RBAC_FILES } = await import('./gen-rbac.js');
  problems.push(
    ...(await checkProtectedNamespacesPolicy(
      await readFile(join(root, RBAC_FILES.protectedNamespaces), 'utf8'),
      BUILT_IN_PROTECTED_NAMESPACES,
      (ns) => protectedNamespaceMatch(ns, { protectedNamespaces: [...BUILT_IN_PROTECTED_NAMESPACES] }) !== undefined,
      PLACEHOLDER_SUBJECT,
    )),
  );
  for (const p of problems) console.error(`check-infra: ${p}`);
  console.log(`check-infra: ${problems.length === 0 ? 'ok' : `${problems.length} problem(s)`}`);
  return problems.length === 0 ? 0 : 1;
}

// No top-level await: infra-expectations.ts imports this module, and awaiting main() here
// would make that import wait for itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error('check-infra:', error);
      process.exitCode = 2;
    },
  );
}
