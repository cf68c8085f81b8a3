// Renders the Kubernetes RBAC manifests from shared/kube/api-calls.ts, the one table of every
// Kubernetes call the responder can make. Nobody edits infra/k8s/*.yaml by hand: run
//
//   npx tsx scripts/gen-rbac.ts          # rewrite infra/k8s/rbac.yaml
//   npx tsx scripts/gen-rbac.ts --check  # exit 1 if the committed file differs (CI does this too)
//
// The ClusterRole holds every call without a `feature` (today: every call; the trusted evidence
// collector's `patch pods/ephemeralcontainers` included, since enforce rules use it by default).
//
// The subject is the function's Google service account as an RBAC User: GKE authenticates a
// Google identity and hands RBAC its email as the user name. The email is a placeholder
// (PLACEHOLDER_SUBJECT) substituted at apply time (see infra/README.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { KUBE_API_CALLS, type KubeApiCall } from '../shared/kube/api-calls.js';
import { BUILT_IN_PROTECTED_NAMESPACES } from '../shared/policy/schema.js';

export const PLACEHOLDER_SUBJECT = 'scc-responder@PROJECT_ID.iam.gserviceaccount.com';
export const BASE_ROLE_NAME = 'scc-responder';
export const PROTECTED_POLICY_NAME = 'scc-responder-protected-namespaces';
export const RBAC_FILES = {
  base: 'infra/k8s/rbac.yaml',
  protectedNamespaces: 'infra/k8s/protected-namespaces-policy.yaml',
} as const;

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Call names from the table (rendered as a comment). */
  calls: string[];
}

type CallTable = Readonly<Record<string, readonly KubeApiCall[]>>;

/**
 * Aggregates table entries into RBAC rules: verbs are unioned per (group, resource), then
 * resources of the same group with the same verb set share one rule. Deterministic order.
 */
export function rulesFor(table: CallTable, select: (call: KubeApiCall) => boolean): RbacRule[] {
  const perResource = new Map<string, { group: string; resource: string; verbs: Set<string>; calls: Set<string> }>();
  for (const [name, calls] of Object.entries(table)) {
    for (const call of calls) {
      if (!select(call)) continue;
      const key = `${call.group}\u0000${call.resource}`;
      let entry = perResource.get(key);
      if (!entry) {
        entry = { group: call.group, resource: call.resource, verbs: new Set(), calls: new Set() };
        perResource.set(key, entry);
      }
      for (const verb of call.verbs) entry.verbs.add(verb);
      entry.calls.add(name);
    }
  }
  const merged = new Map<string, RbacRule>();
  for (const entry of perResource.values()) {
    const verbs = [...entry.verbs].sort();
    const key = `${entry.group}\u0000${verbs.join(',')}`;
    let rule = merged.get(key);
    if (!rule) {
      rule = { apiGroups: [entry.group], resources: [], verbs, calls: [] };
      merged.set(key, rule);
    }
    rule.resources.push(entry.resource);
    for (const c of entry.calls) if (!rule.calls.includes(c)) rule.calls.push(c);
  }
  const rules = [...merged.values()];
  for (const r of rules) {
    r.resources.sort();
    r.calls.sort();
  }
  // Core group first, then by group name, then by first resource.
  return rules.sort((a, b) => {
    const ga = a.apiGroups[0] ?? '';
    const gb = b.apiGroups[0] ?? '';
    if (ga !== gb) return ga === '' ? -1 : gb === '' ? 1 : ga.localeCompare(gb);
    return (a.resources[0] ?? '').localeCompare(b.resources[0] ?? '');
  });
}

const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;

function renderRole(name: string, description: string, rules: readonly RbacRule[], subject: string): string {
  const lines: string[] = [
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRole',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    '    app.kubernetes.io/name: scc-container-responder',
    '    app.kubernetes.io/managed-by: scripts-gen-rbac',
    '  annotations:',
    `    scc-responder/description: ${q(description)}`,
    'rules:',
  ];
  for (const rule of rules) {
    lines.push(`  # ${rule.calls.join(', ')}`);
    lines.push(`  - apiGroups: ${list(rule.apiGroups)}`);
    lines.push(`    resources: ${list(rule.resources)}`);
    lines.push(`    verbs: ${list(rule.verbs)}`);
  }
  lines.push(
    '---',
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: ClusterRoleBinding',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    '    app.kubernetes.io/name: scc-container-responder',
    '    app.kubernetes.io/managed-by: scripts-gen-rbac',
    'roleRef:',
    '  apiGroup: rbac.authorization.k8s.io',
    '  kind: ClusterRole',
    `  name: ${name}`,
    'subjects:',
    '  # The function\'s Google service account; GKE maps Google identities to RBAC users by email.',
    '  - kind: User',
    '    apiGroup: rbac.authorization.k8s.io',
    `    name: ${subject}`,
  );
  return lines.join('\n');
}

const HEADER = (extra: string): string =>
  [
    '# GENERATED by scripts/gen-rbac.ts from shared/kube/api-calls.ts. Do not edit by hand:',
    '# change the table, then run `npx tsx scripts/gen-rbac.ts` (CI fails on drift).',
    extra,
    `# Before applying, replace ${PLACEHOLDER_SUBJECT} with the function's service account`,
    '# email (terraform output responder_service_account_email), e.g.:',
    `#   sed "s/${PLACEHOLDER_SUBJECT}/$SA_EMAIL/" ${'$'}FILE | kubectl apply -f -`,
  ].join('\n');

export interface RenderedRbac {
  base: string;
  protectedNamespaces: string;
}

/**
 * The CEL test "this request is in a protected namespace": exact names as one list, each glob
 * (shared/policy/glob.ts: `*` any run, `?` one character; namespace names have no `/`) as an
 * anchored RE2 regex. Namespace names are DNS labels, so a pattern with any other character
 * cannot name a namespace and is refused rather than escaped.
 */
export function protectedNamespacesCel(patterns: readonly string[]): string {
  const exact: string[] = [];
  const globs: string[] = [];
  for (const p of patterns) {
    if (!/^[a-z0-9*?-]+$/.test(p)) throw new Error(`protected namespace pattern ${JSON.stringify(p)} is not a namespace name or glob ([a-z0-9-], * and ?)`);
    if (/[*?]/.test(p)) globs.push(`request.namespace.matches('^${p.replace(/\*/g, '[a-z0-9-]*').replace(/\?/g, '[a-z0-9-]')}$')`);
    else exact.push(`'${p}'`);
  }
  return [`request.namespace in [${exact.join(', ')}]`, ...globs].join(' || ');
}

/**
 * A ValidatingAdmissionPolicy that denies the responder's identity every write (CREATE,
 * UPDATE, DELETE, subresources included) in the policy's built-in protected namespaces.
 * The ClusterRole is cluster-wide, so without this only our code keeps the responder out of
 * kube-system; this holds even if that code is wrong or replaced. Exec (CONNECT) stays
 * allowed: evidence may be copied out of a protected pod, and exec changes no object.
 */
export function renderProtectedNamespacesPolicy(patterns: readonly string[] = BUILT_IN_PROTECTED_NAMESPACES, subject: string = PLACEHOLDER_SUBJECT): string {
  const q1 = (s: string): string => `'${s}'`;
  return [
    '# GENERATED by scripts/gen-rbac.ts from shared/policy/schema.ts BUILT_IN_PROTECTED_NAMESPACES.',
    '# Do not edit by hand: run `npx tsx scripts/gen-rbac.ts` (CI fails on drift).',
    "# Denies the responder's identity any write in a protected namespace, whatever RBAC allows",
    '# and whatever the code does (Kubernetes >= 1.30; GKE runs the admission in the control plane).',
    "# Exec (CONNECT) is not denied: evidence may still be copied out of a protected pod.",
    "# Apply with rbac.yaml, the same email substituted (terraform output rbac_apply_command).",
    '---',
    'apiVersion: admissionregistration.k8s.io/v1',
    'kind: ValidatingAdmissionPolicy',
    'metadata:',
    `  name: ${PROTECTED_POLICY_NAME}`,
    '  labels:',
    '    app.kubernetes.io/name: scc-container-responder',
    '    app.kubernetes.io/managed-by: scripts-gen-rbac',
    'spec:',
    '  failurePolicy: Fail',
    '  matchConstraints:',
    '    resourceRules:',
    '      - apiGroups: ["*"]',
    '        apiVersions: ["*"]',
    '        operations: ["CREATE", "UPDATE", "DELETE"]',
    '        resources: ["*", "*/*"]',
    '  matchConditions:',
    '    - name: the-responder',
    `      expression: ${q(`request.userInfo.username == ${q1(subject)}`)}`,
    '  validations:',
    `    - expression: ${q(`!(${protectedNamespacesCel(patterns)})`)}`,
    `      message: ${q('scc-container-responder may not change anything in a protected namespace')}`,
    '      reason: Forbidden',
    '---',
    'apiVersion: admissionregistration.k8s.io/v1',
    'kind: ValidatingAdmissionPolicyBinding',
    'metadata:',
    `  name: ${PROTECTED_POLICY_NAME}`,
    '  labels:',
    '    app.kubernetes.io/name: scc-container-responder',
    '    app.kubernetes.io/managed-by: scripts-gen-rbac',
    'spec:',
    `  policyName: ${PROTECTED_POLICY_NAME}`,
    '  validationActions: ["Deny"]',
    '',
  ].join('\n');
}

export function renderRbac(table: CallTable = KUBE_API_CALLS, subject: string = PLACEHOLDER_SUBJECT): RenderedRbac {
  const baseRules = rulesFor(table, (c) => c.feature === undefined);
  const base = [
    HEADER('# Every Kubernetes call the responder makes, and nothing else. Apply once per cluster.').replace('$FILE', RBAC_FILES.base),
    renderRole(BASE_ROLE_NAME, 'Kubernetes calls of scc-container-responder (enrich, snapshot, contain).', baseRules, subject),
    '',
  ].join('\n');
  return { base, protectedNamespaces: renderProtectedNamespacesPolicy(BUILT_IN_PROTECTED_NAMESPACES, subject) };
}

function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const rendered = renderRbac();
  const root = repoRoot();
  let drift = 0;
  for (const [key, rel] of Object.entries(RBAC_FILES) as [keyof RenderedRbac, string][]) {
    const path = join(root, rel);
    const want = rendered[key];
    let have: string | null;
    try {
      have = readFileSync(path, 'utf8');
    } catch {
      have = null;
    }
    if (have === want) continue;
    if (check) {
      console.error(`gen-rbac: ${rel} differs from what shared/kube/api-calls.ts generates; run: npx tsx scripts/gen-rbac.ts`);
      drift += 1;
    } else {
      writeFileSync(path, want);
      console.log(`gen-rbac: wrote ${rel}`);
    }
  }
  return drift === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
