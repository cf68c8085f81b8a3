// The policy file's schema (YAML, `version: 1`). Strict objects everywhere: a misspelt key
// (`requireEvidnce`) is an error with its line, never a silently ignored safety setting.
// The schema grows by adding optional keys with defaults, so older files keep loading;
// a change that would alter the meaning of an existing file needs `version: 2`.
import { z } from '../common/zod.js';
import { ACTION_TYPES, policyActionSchemas, type ActionType } from './actions.js';

const ACTION_TYPES_TUPLE = ACTION_TYPES as unknown as [ActionType, ...ActionType[]];

/**
 * Namespaces no rule can act in, always (the policy's `protectedNamespaces` adds to them).
 * Kept equal to shared/contain/protected.ts (the executor's own fallback) by a unit test.
 */
export const BUILT_IN_PROTECTED_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'gke-managed-*',
  'gke-gmp-system',
  'gmp-system',
  'gmp-public',
  'gke-connect',
  'istio-system',
  'asm-system',
  'config-management-system',
];

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'SEVERITY_UNSPECIFIED'] as const;

const MIB = 1024 * 1024;

/**
 * The trusted collector's default image: BusyBox 1.37.0 (Docker Official Image, multi-arch
 * index digest). Why BusyBox: one small static binary with every tool the collector runs
 * (`sleep`, `ls`, `head`, `cat`) and nothing else; no shell is ever used. Pinned by digest so
 * the tool that reads the evidence cannot change under us; override it (e.g. a mirror in
 * Artifact Registry) with snapshot.debugContainer.image.
 */
export const DEFAULT_COLLECTOR_IMAGE = 'docker.io/library/busybox:1.37.0@sha256:d80cd694d3e9467884fcb94b8ca1e20437d8a501096cdf367a5a1918a34fc2fd';

/**
 * `attempted`: no destructive action before the evidence collection has finished; what the
 * target does to withhold evidence (delete the file, remove or fake its tools, hang) never
 * holds containment, it is recorded as significant. Failures on our side (store, RBAC, API)
 * still hold it. `stored`: wait until a copy that counts is stored, whatever the reason
 * (the target can then keep its pod running by deleting its binary). `true` means `attempted`.
 */
const requireEvidence = z.union([z.boolean(), z.enum(['attempted', 'stored'])], { error: 'expected attempted, stored, true (= attempted) or false' });

const glob = z.string().min(1).max(512).meta({
  description: 'Anchored glob matching the whole value: * (no /), ** (any), ? (one char, no /); everything else literal.',
});

const globList = z.array(glob).min(1);

// Kubernetes label key: optional DNS-subdomain prefix and a name of up to 63 characters.
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'expected a Kubernetes label key',
  );

const matcherFields = {
  severities: z.array(z.enum(SEVERITIES)).min(1).optional().meta({ description: 'Finding severities (exact).' }),
  projects: globList.optional().meta({
    description: 'Project ids or numbers (globs; a leading `projects/` is ignored). Matched against the project id, the project number and the project in the cluster name.',
  }),
  clusters: globList.optional().meta({
    description: 'Cluster name (`payments`), relative name (`projects/P/locations/L/clusters/C`) or full name (`//container.googleapis.com/...`), as globs.',
  }),
  namespaces: globList.optional().meta({ description: 'Pod namespaces (globs).' }),
  podLabels: z.record(labelKey, glob).optional().meta({ description: 'Label key -> value glob. In `match` every label must match; in `exclude` any one excludes.' }),
  images: globList.optional().meta({ description: 'Container image URI or image id (globs), e.g. `us-docker.pkg.dev/acme-*/**`.' }),
};

export const matchSchema = z
  .strictObject({
    categories: z.array(z.string().min(1)).min(1).meta({ description: 'SCC categories this rule covers (exact strings). Required.' }),
    ...matcherFields,
  })
  .meta({ description: 'Every given field must match (AND); within a list any entry may match (OR).' });

export const excludeSchema = z
  .strictObject({
    categories: z.array(z.string().min(1)).min(1).optional(),
    ...matcherFields,
  })
  .meta({ description: 'The rule does not apply when ANY listed value matches (OR across all fields).' });

// The action items are built from the action catalog (actions.ts): one strict object per
// action, `{ type, ...params }`, discriminated by `type`.
const [firstAction, ...moreActions] = policyActionSchemas();
if (firstAction === undefined) throw new Error('the action catalog is empty');
export const actionSchema = z.discriminatedUnion('type', [firstAction, ...moreActions]);

export { DESTRUCTIVE_ACTIONS } from './actions.js';

const RULE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const NOTIFY_CHANNELS = ['slack', 'googleChat', 'pagerduty'] as const;

// A notification target names its secret, never holds it: the webhook URL (Slack, Google
// Chat) or the routing key (PagerDuty) is read at send time from SCC_RESPONDER_NOTIFY_<SECRET>
// (upper-cased, - as _), so a policy file can be committed and shown by `policy check`.
export const notifyTargetSchema = z
  .strictObject({
    channel: z.enum(NOTIFY_CHANNELS).meta({ description: 'slack and googleChat: incoming webhook; pagerduty: Events API v2 (trigger, resolve when contained).' }),
    secret: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,99}$/, 'expected a secret name (letters, digits, _ and -)')
      .meta({ description: 'Name of the secret holding the webhook URL or routing key; read from SCC_RESPONDER_NOTIFY_<NAME> (upper case, - as _).' }),
  })
  .meta({ description: 'Where to tell people about a finding this rule handled (best effort, after containment).' });

/**
 * approve mode's settings. beforeApproval may name destructive actions that are reversible
 * enough to run at once (quarantinePod, cordonNode); never deletePod, which is what a person
 * is asked to approve.
 */
export const approvalSchema = z
  .strictObject({
    expiresAfterHours: z.int().min(1).max(168).default(4).meta({ description: 'A pending approval expires after this many hours (1-168, default 4); a later approve or deny closes it as expired.' }),
    beforeApproval: z
      .array(z.enum(ACTION_TYPES_TUPLE))
      .default([])
      .meta({ description: 'Destructive actions of this rule that run at once instead of waiting (e.g. quarantinePod). deletePod may not be listed.' }),
  })
  .superRefine((a, ctx) => {
    a.beforeApproval.forEach((t, i) => {
      if (t === 'deletePod') ctx.addIssue({ code: 'custom', path: ['beforeApproval', i], message: 'deletePod cannot run before approval: it is what the approval is for' });
    });
  });

export const ruleSchema = z
  .strictObject({
    name: z.string().regex(RULE_NAME, 'expected lower-case letters, digits and -, at most 63 characters').optional().meta({
      description: 'Shown in reports, audit logs and security marks. Default: rules[<index>].',
    }),
    description: z.string().optional(),
    match: matchSchema,
    exclude: excludeSchema.optional(),
    mode: z.enum(['dry-run', 'enforce', 'approve']).default('dry-run').meta({
      description: 'dry-run reports what enforce would do without writing. approve runs label/annotate (and approval.beforeApproval) at once and records the other actions as pending until a person sets the approval security mark.',
    }),
    approval: approvalSchema.optional().meta({ description: 'approve mode: what waits for approval and for how long.' }),
    enrich: z.boolean().default(true).meta({ description: 'Read cluster, node, pod, owners and logs.' }),
    snapshot: z.boolean().default(true).meta({ description: 'Copy the modified binary into the evidence store.' }),
    requireEvidence: requireEvidence.optional().meta({ description: 'Overrides the global requireEvidence for this rule (attempted | stored | true = attempted | false).' }),
    actions: z.array(actionSchema).default([]),
    notify: z.array(notifyTargetSchema).min(1).optional().meta({ description: 'Notifications sent after containment (best effort: a failure never delays or undoes an action).' }),
    maxActionsPerHour: z.int().min(1).max(10000).default(10).meta({
      description: 'Blast-radius limit: destructive actions by this rule per hour, counted across all instances and every cluster and project the rule matches (organization-wide); over it, actions degrade to dry-run.',
    }),
    maxActionsPerHourPerNamespace: z.int().min(1).max(10000).optional().meta({
      description: 'Also at most this many destructive actions by this rule per hour in any one namespace of a cluster (the same namespace name in another cluster or project has its own budget), so one namespace cannot use up the whole budget.',
    }),
    maxActionsPerHourPerWorkload: z.int().min(1).max(10000).optional().meta({
      description: 'Also at most this many destructive actions by this rule per hour on any one workload of a cluster (its top controller, e.g. Deployment/checkout in namespace payments of cluster project/location/name; a bare pod is its own workload; the same workload name in another cluster or project has its own budget).',
    }),
  })
  .superRefine((rule, ctx) => {
    const seen = new Set<string>();
    rule.actions.forEach((a, i) => {
      const type = String(a['type']);
      if (seen.has(type)) ctx.addIssue({ code: 'custom', path: ['actions', i, 'type'], message: `${type} is listed twice` });
      seen.add(type);
    });
    if (rule.approval !== undefined && rule.mode !== 'approve') ctx.addIssue({ code: 'custom', path: ['approval'], message: `approval is only read in mode approve (this rule is ${rule.mode})` });
    const listed = new Set(rule.actions.map((a) => String(a['type'])));
    rule.approval?.beforeApproval.forEach((t, i) => {
      if (!listed.has(t)) ctx.addIssue({ code: 'custom', path: ['approval', 'beforeApproval', i], message: `${t} is not one of this rule's actions` });
    });
  });

const snapshotSchema = z
  .strictObject({
    maxBytes: z.int().min(1).max(4096 * MIB).default(512 * MIB).meta({ description: 'Largest binary copied (bytes).' }),
    hourlyBytesPerCluster: z.int().min(MIB).max(1024 * 1024 * MIB).default(8192 * MIB).meta({
      description: 'Evidence bytes stored per cluster per hour; past it, binaries are not copied (volatile state still is), so junk cannot fill a retention-locked bucket.',
    }),
    timeoutSeconds: z.int().min(1).max(3600).default(120),
    debugContainer: z
      .strictObject({
        enabled: z.boolean().default(true).meta({
          description:
            'Trusted collector for enforce rules: an ephemeral debug container from `image` that reads volatile state and the binary through /proc before any destructive action. An ephemeral container can never be removed from the pod.',
        }),
        image: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$/, 'expected an image pinned by digest (name@sha256:<64 hex>)')
          .default(DEFAULT_COLLECTOR_IMAGE)
          .meta({ description: 'Collector image, pinned by digest; needs sleep, ls, head and cat (BusyBox by default).' }),
        dryRun: z.boolean().default(false).meta({
          description: 'Also add the collector in dry-run rules. Off by default: adding an ephemeral container is a write to the pod that cannot be undone.',
        }),
        ptrace: z.boolean().default(false).meta({
          description: 'Ask for CAP_SYS_PTRACE when the process cannot be read as its own uid (setuid, not dumpable). Pod Security "baseline" and "restricted" refuse it.',
        }),
      })
      .prefault({}),
  })
  .prefault({});

const enrichSchema = z
  .strictObject({
    logWindowMinutes: z.int().min(1).max(1440).default(30).meta({ description: 'Logs are searched this many minutes before and after the event.' }),
    maxLogEntries: z.int().min(1).max(1000).default(50).meta({ description: 'Per log query.' }),
    maxLogBytes: z.int().min(1024).max(10 * MIB).default(256 * 1024).meta({ description: 'Per log query.' }),
    callTimeoutSeconds: z.int().min(1).max(300).default(10).meta({ description: 'Per API call during enrichment.' }),
  })
  .prefault({});

/**
 * How a finding is confirmed with SCC before anything touches a cluster (the message is
 * attacker-writable; SCC's copy is not). The age window must cover Pub/Sub's 24 h of
 * redeliveries and the findings topic's 7-day replay retention (infra/pubsub.tf): 192 h.
 */
const confirmSchema = z
  .strictObject({
    maxEventAgeHours: z.int().min(25).max(24 * 31).default(192).meta({
      description:
        "The function refuses a finding whose eventTime is older than this (or in the future). Must cover Pub/Sub's 24 h of retries and the topic's replay retention (7 days): default 192.",
    }),
    sources: z.array(z.string().regex(/^organizations\/[0-9]+\/sources\/[0-9]+$/, 'expected organizations/ORG/sources/SOURCE')).default([]).meta({
      description:
        "Source names accepted as Container Threat Detection. Empty (default): any source whose display name is 'Container Threat Detection'. Naming the organization's CTD source also refuses a custom source that copies the display name.",
    }),
  })
  .prefault({});

/** What the results topic carries. */
const resultsSchema = z
  .strictObject({
    includeArguments: z.boolean().default(false).meta({
      description: 'Publish the process arguments (redacted) in the results-topic message. Default: a summary without arguments.',
    }),
  })
  .prefault({});

export const policySchema = z
  .strictObject({
    version: z.literal(1).meta({ description: 'Schema version of this file.' }),
    description: z.string().optional(),
    protectedNamespaces: z
      .array(glob)
      .default([])
      .transform((extra) => [...new Set([...BUILT_IN_PROTECTED_NAMESPACES, ...extra])])
      .meta({ description: `Namespaces (globs) no rule can act in, in addition to the built-in ${BUILT_IN_PROTECTED_NAMESPACES.join(', ')}.` }),
    requireEvidence: requireEvidence.default('attempted').meta({
      description:
        'attempted (default, same as true): no destructive action before evidence collection has finished; the target cannot hold containment back by withholding evidence. stored: only after a copy that counts is stored. false: no wait. A rule may override.',
    }),
    snapshot: snapshotSchema,
    enrich: enrichSchema,
    confirm: confirmSchema,
    results: resultsSchema,
    rules: z.array(ruleSchema).meta({ description: 'Evaluated in order; the first rule that matches decides.' }),
  })
  .superRefine((policy, ctx) => {
    const names = new Map<string, number>();
    policy.rules.forEach((rule, i) => {
      if (rule.name === undefined) return;
      const first = names.get(rule.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name (also rules[${first}])` });
      else names.set(rule.name, i);
    });
  });

/** The validated policy with every default filled in (protectedNamespaces includes the built-ins). */
export type Policy = z.output<typeof policySchema>;
export type PolicyRule = Policy['rules'][number];
export type { PolicyAction } from './actions.js';
export type NotifyTarget = z.output<typeof notifyTargetSchema>;
export type RuleMatch = z.output<typeof matchSchema>;
export type RuleExclude = z.output<typeof excludeSchema>;
/** What a policy file may contain (defaults optional). */
export type PolicyInput = z.input<typeof policySchema>;

export const POLICY_SCHEMA_ID = 'https://github.com/scc-container-responder/scc-container-responder/policy.schema.json';

/** JSON Schema (draft 2020-12) of the policy file, for editors (yaml-language-server). */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policySchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema: schema['$schema'],
    $id: POLICY_SCHEMA_ID,
    title: 'scc-container-responder policy',
    description: 'Which SCC findings the responder handles and how. Rules are evaluated in order; the first match wins.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
