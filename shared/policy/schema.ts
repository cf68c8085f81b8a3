// The policy file's schema (YAML, `version: 1`). Strict objects everywhere: a misspelt key
// (`requireEvidnce`) is an error with its line, never a silently ignored safety setting.
// The schema grows by adding optional keys with defaults, so older files keep loading;
// a change that would alter the meaning of an existing file needs `version: 2`.
import { z } from 'zod';
import { policyActionSchemas } from './actions.js';

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

export const ruleSchema = z
  .strictObject({
    name: z.string().regex(RULE_NAME, 'expected lower-case letters, digits and -, at most 63 characters').optional().meta({
      description: 'Shown in reports, audit logs and security marks. Default: rules[<index>].',
    }),
    description: z.string().optional(),
    match: matchSchema,
    exclude: excludeSchema.optional(),
    mode: z.enum(['dry-run', 'enforce']).default('dry-run').meta({ description: 'dry-run reports what enforce would do without writing.' }),
    enrich: z.boolean().default(true).meta({ description: 'Read cluster, node, pod, owners and logs.' }),
    snapshot: z.boolean().default(true).meta({ description: 'Copy the modified binary into the evidence store.' }),
    requireEvidence: z.boolean().optional().meta({ description: 'Overrides the global requireEvidence for this rule.' }),
    actions: z.array(actionSchema).default([]),
    notify: z.array(notifyTargetSchema).min(1).optional().meta({ description: 'Notifications sent after containment (best effort: a failure never delays or undoes an action).' }),
    maxActionsPerHour: z.int().min(1).max(10000).default(10).meta({
      description: 'Blast-radius limit: destructive actions by this rule per hour across all instances; over it, actions degrade to dry-run.',
    }),
    maxActionsPerHourPerNamespace: z.int().min(1).max(10000).optional().meta({
      description: 'Also at most this many destructive actions by this rule per hour in any one namespace, so one namespace cannot use up the whole budget.',
    }),
    maxActionsPerHourPerWorkload: z.int().min(1).max(10000).optional().meta({
      description: 'Also at most this many destructive actions by this rule per hour on any one workload (its top controller, e.g. Deployment/checkout; a bare pod is its own workload).',
    }),
  })
  .superRefine((rule, ctx) => {
    const seen = new Set<string>();
    rule.actions.forEach((a, i) => {
      const type = String(a['type']);
      if (seen.has(type)) ctx.addIssue({ code: 'custom', path: ['actions', i, 'type'], message: `${type} is listed twice` });
      seen.add(type);
    });
  });

const snapshotSchema = z
  .strictObject({
    maxBytes: z.int().min(1).max(4096 * MIB).default(512 * MIB).meta({ description: 'Largest binary copied (bytes).' }),
    timeoutSeconds: z.int().min(1).max(3600).default(120),
    debugContainer: z
      .strictObject({
        enabled: z.boolean().default(false).meta({
          description: 'Read the binary through an ephemeral debug container (trusted path, needed for distroless images).',
        }),
        image: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$/, 'expected an image pinned by digest (name@sha256:<64 hex>)')
          .optional(),
      })
      .superRefine((d, ctx) => {
        if (d.enabled && d.image === undefined) ctx.addIssue({ code: 'custom', path: ['image'], message: 'required when enabled is true' });
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

export const policySchema = z
  .strictObject({
    version: z.literal(1).meta({ description: 'Schema version of this file.' }),
    description: z.string().optional(),
    protectedNamespaces: z
      .array(glob)
      .default([])
      .transform((extra) => [...new Set([...BUILT_IN_PROTECTED_NAMESPACES, ...extra])])
      .meta({ description: `Namespaces (globs) no rule can act in, in addition to the built-in ${BUILT_IN_PROTECTED_NAMESPACES.join(', ')}.` }),
    requireEvidence: z.boolean().default(true).meta({
      description: 'No destructive action before the evidence object is durably stored (a rule may override).',
    }),
    snapshot: snapshotSchema,
    enrich: enrichSchema,
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
