// The layout of the create-only store: every key, every metadata name, in one place. The
// store holds one folder per finding (evidence, manifest, report, claims, effect records) and
// one tree for the blast-radius counters; LEDGER_TABLE below is the documentation and the
// code at once (README "The evidence store" prints it). Nothing here does I/O: the
// protocol on top of the four store primitives is in json.ts, the backends are
// local-store.ts and shared/gcp/gcs-store.ts.
//
// Keys are stable: objects already stored under these names must stay findable after an
// upgrade (a redelivery looks for its evidence, report and claims where the last version
// put them; the limiter counts the slots already taken this hour), so a change here is a
// data migration, not a refactoring.
import { createHash } from 'node:crypto';
import { keySegment } from './keys.js';

/** Metadata names on stored objects. Every object we write carries `scc-record` and `scc-complete`. */
export const META = {
  /** Set by the backend on every object it creates; an object without it is not ours or not complete. */
  complete: 'scc-complete',
  /** What the object is: one of RECORD_KINDS. */
  record: 'scc-record',
  finding: 'scc-finding',
  findingId: 'scc-finding-id',
  run: 'scc-run',
  producer: 'scc-producer',
  namespace: 'scc-namespace',
  pod: 'scc-pod',
  container: 'scc-container',
  path: 'scc-path',
  method: 'scc-method',
  /** Where the trusted collector read the binary (e.g. /proc/<pid>/exe). */
  source: 'scc-source',
  trust: 'scc-trust',
  collector: 'scc-collector',
  collectorVersion: 'scc-collector-version',
  startedAt: 'scc-started-at',
  endedAt: 'scc-ended-at',
  sha256: 'scc-sha256',
  size: 'scc-size',
  truncated: 'scc-truncated',
  verdict: 'scc-verdict',
  prefixSha256: 'scc-prefix-sha256',
  prefixBytes: 'scc-prefix-bytes',
  claimStatus: 'scc-claim-status',
  claimRun: 'scc-claim-run',
  claimGeneration: 'scc-claim-generation',
  claimedAt: 'scc-claim-at',
  claimExpires: 'scc-claim-expires',
  rule: 'scc-rule',
  window: 'scc-window',
  slot: 'scc-slot',
  subject: 'scc-subject',
} as const;

export const RECORD_KINDS = ['binary', 'manifest', 'volatile', 'report', 'report-markdown', 'run-report', 'run-report-markdown', 'claim', 'claim-release', 'effects', 'pending-approval', 'ratelimit-slot', 'ratelimit-subject', 'evidence-budget'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Stands in for a missing location field, so a finding without a pod still has a folder. */
export const MISSING = { cluster: 'no-cluster', namespace: 'no-namespace', pod: 'no-pod' } as const;

/** The incident fields that locate a finding's objects (Incident satisfies this). */
export interface FolderParts {
  findingId: string;
  projectId: string;
  cluster: { project: string; name: string } | null;
  namespace?: string;
  pod?: string;
}

/**
 * The folder of one finding's objects, `<project>/<cluster>/<namespace>/<pod>/<finding-id>`,
 * every segment through keySegment(). The one derivation: the snapshot, the claim, the report
 * and the effect records all start here. Derivable from the finding alone, so the claim can
 * be taken before any work, in the folder the evidence and report land in. The project is the
 * cluster's (a finding may be reported under another project than the cluster's).
 */
export function findingFolder(parts: FolderParts): string {
  return [
    parts.cluster?.project ?? parts.projectId,
    parts.cluster?.name ?? MISSING.cluster,
    parts.namespace ?? MISSING.namespace,
    parts.pod ?? MISSING.pod,
    parts.findingId,
  ]
    .map(keySegment)
    .join('/');
}

/** Every key of one finding's folder. */
export interface FindingKeys {
  folder: string;
  binary: string;
  manifest: string;
  /** Process table, fds, maps, sockets read by the trusted collector before containment. */
  volatile: string;
  reportJson: string;
  reportMarkdown: string;
  /** Prefix that lists the effect records. */
  effectsPrefix: string;
  /** approve mode: the actions waiting for a person's decision (shared/respond/approval.ts). */
  pendingApproval: string;
  /**
   * The folder of the decision on the pending actions: its own claims and report.json (the
   * decision's completion record), by the same idempotency protocol as the finding's.
   */
  approvalFolder: string;
  /** The report of a run that did not complete the finding (no effect, or forced): report-<n>. */
  runReport(generation: number): { json: string; markdown: string };
  claim(generation: number): string;
  release(generation: number): string;
  effects(runId: string): string;
}

const EFFECTS_PREFIX = 'effects-';

/** The keys inside a folder (as findingFolder() returns it; a trailing `/` is ignored). */
export function keysIn(folder: string): FindingKeys {
  const dir = folder.replace(/\/+$/, '');
  return {
    folder: dir,
    binary: `${dir}/binary`,
    manifest: `${dir}/manifest.json`,
    volatile: `${dir}/volatile.json`,
    reportJson: `${dir}/report.json`,
    reportMarkdown: `${dir}/report.md`,
    effectsPrefix: `${dir}/${EFFECTS_PREFIX}`,
    pendingApproval: `${dir}/pending-approval.json`,
    approvalFolder: `${dir}/approval`,
    runReport: (generation) => ({ json: `${dir}/report-${generation}.json`, markdown: `${dir}/report-${generation}.md` }),
    claim: (generation) => `${dir}/claim-${generation}.json`,
    release: (generation) => `${dir}/claim-${generation}.released.json`,
    // Run ids are UUIDs; anything else is flattened to one safe name.
    effects: (runId) => `${dir}/${EFFECTS_PREFIX}${runId.replace(/[^A-Za-z0-9-]/g, '_')}.json`,
  };
}

export function findingKeys(parts: FolderParts): FindingKeys {
  return keysIn(findingFolder(parts));
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * Rule names become one path segment: safe characters kept, a hash added when anything was
 * changed. (Older than keySegment() and kept as it is: the slots already stored this hour
 * must still be counted after an upgrade.)
 */
export function ruleSegment(rule: string): string {
  const cleaned = rule.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
  return cleaned === rule && cleaned !== '' && !cleaned.startsWith('.') ? cleaned : `${cleaned.replace(/^\.+/, '')}-${shortHash(rule, 8)}`;
}

/** The subject (finding + action + target) as stored: a hash, so no finding data lands in the key. */
export function subjectHash(subject: string): string {
  return shortHash(subject, 32);
}

/** Keys of one rule's blast-radius window (`prefix` is the limiter's, e.g. `evidence/`, or ''). */
export interface RateLimitKeys {
  slotsPrefix: string;
  slot(n: number): string;
  subject(subject: string): string;
}

/** The GKE cluster a narrower budget counts in (a cluster's identity: its project, location and name). */
export interface ClusterParts {
  project: string;
  location: string;
  name: string;
}

/**
 * A budget narrower than the whole rule: one namespace, or one workload (`ns/Kind/name`), of
 * one cluster. The same namespace or workload name in another cluster (or project) is another
 * budget.
 */
export type RateLimitScope = { cluster: ClusterParts; namespace: string } | { cluster: ClusterParts; workload: string };

/**
 * `cluster/<project>/<location>/<cluster>/(namespace/<ns> | workload/<ns/Kind/name>)/`, each
 * segment through keySegment(). Before the cluster was part of the key these budgets lived at
 * `namespace/<ns>/` and `workload/<...>/` right under the rule; those slots are simply never
 * listed again (they expire with their hour), and a key starting `cluster/` cannot be read as
 * an old one, nor as a window (windows start with a digit).
 */
function scopePath(scope: RateLimitScope | undefined): string {
  if (scope === undefined) return '';
  const { project, location, name } = scope.cluster;
  const cluster = ['cluster', project, location, name].map((s, i) => (i === 0 ? s : keySegment(s))).join('/');
  return 'workload' in scope ? `${cluster}/workload/${keySegment(scope.workload)}/` : `${cluster}/namespace/${keySegment(scope.namespace)}/`;
}

export function rateLimitKeys(prefix: string, rule: string, window: string, scope?: RateLimitScope): RateLimitKeys {
  const p = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const base = `${p}_ratelimit/${ruleSegment(rule)}/${scopePath(scope)}${window}/`;
  return {
    slotsPrefix: `${base}slots/`,
    slot: (n) => `${base}slots/${n}.json`,
    subject: (subject) => `${base}subjects/${subjectHash(subject)}.json`,
  };
}

/** Slot number of a well-formed slot key; undefined for anything else listed under slots/. */
export function slotNumber(key: string): number | undefined {
  const m = /(?:^|\/)slots\/(\d+)\.json$/.exec(key);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The slot a subject claim points at: `scc-slot`, or `slot` as written before the ledger. */
export function claimedSlotOf(metadata: Record<string, string>): number {
  const slot = Number(metadata[META.slot] ?? metadata['slot']);
  return Number.isInteger(slot) ? slot : -1;
}

/**
 * The hourly evidence byte budget of one cluster: `budget/<project>/<cluster>/<yyyymmddhh>/`,
 * one empty marker per stored copy named `<finding id>-<bytes>` (shared/evidence/byte-budget.ts).
 */
export function budgetHourPrefix(project: string, cluster: string, at: Date): string {
  const hour = at.toISOString().slice(0, 13).replace(/[-T:]/g, ''); // yyyymmddhh
  return `budget/${keySegment(project)}/${keySegment(cluster)}/${hour}/`;
}

export function budgetMarkerKey(project: string, cluster: string, at: Date, findingId: string, bytes: number): string {
  return `${budgetHourPrefix(project, cluster, at)}${keySegment(findingId)}-${bytes}`;
}

/** Bytes a budget marker counts; undefined for anything else listed under the hour. */
export function budgetMarkerBytes(key: string): number | undefined {
  const m = /-(\d+)$/.exec(key);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** What a finished copy established (HashReport satisfies this). */
export interface CopyFacts {
  sha256: string;
  size: number;
  truncated: boolean;
  verdict: string;
  prefix?: { bytes: number; sha256: string };
}

/** The manifest's metadata fields for a finished copy (known when the manifest is created). */
export function copyMetadata(facts: CopyFacts): Record<string, string> {
  return {
    [META.sha256]: facts.sha256,
    [META.size]: String(facts.size),
    [META.truncated]: String(facts.truncated),
    [META.verdict]: facts.verdict,
    ...(facts.prefix ? { [META.prefixSha256]: facts.prefix.sha256, [META.prefixBytes]: String(facts.prefix.bytes) } : {}),
  };
}

export interface LedgerTableRow {
  key: string;
  record: RecordKind;
  writtenBy: string;
  metadata: readonly string[];
  meaning: string;
}

/** The store's contents: one row per kind of object. */
export const LEDGER_TABLE: readonly LedgerTableRow[] = [
  {
    key: '<folder>/binary',
    record: 'binary',
    writtenBy: 'shared/evidence/snapshot.ts',
    metadata: [META.finding, META.findingId, META.namespace, META.pod, META.container, META.path, META.method, META.source, META.trust, META.collector, META.collectorVersion, META.startedAt],
    meaning: "The binary copied out of the container, streamed and hashed on the way. Its metadata is what was known when the upload started; the hashes are in the manifest (the bucket's roles cannot update metadata).",
  },
  {
    key: '<folder>/manifest.json',
    record: 'manifest',
    writtenBy: 'shared/evidence/snapshot.ts',
    metadata: [META.finding, META.sha256, META.size, META.truncated, META.verdict, META.prefixSha256, META.prefixBytes, META.trust, META.endedAt],
    meaning: "Who copied what, from where, with which tool and trust, the copy's SHA-256 and its comparison with the finding's. Written after the binary; a binary without it was cut off by a crash.",
  },
  {
    key: '<folder>/volatile.json',
    record: 'volatile',
    writtenBy: 'shared/evidence/trusted-collector.ts',
    metadata: [META.finding, META.sha256],
    meaning: 'The volatile state the trusted collector read through /proc before containment (process table, open files, maps, sockets).',
  },
  {
    key: '<folder>/report.md',
    record: 'report-markdown',
    writtenBy: 'shared/record/report-object.ts',
    metadata: [META.finding, META.run, META.producer],
    meaning: 'The triage report for a human (scrubbed). Written before report.json.',
  },
  {
    key: '<folder>/report.json',
    record: 'report',
    writtenBy: 'shared/record/report-object.ts',
    metadata: [META.finding, META.run, META.producer],
    meaning: 'The TriageReport (scrubbed), and the completion record: when it exists the finding is handled and a redelivery is acknowledged without acting.',
  },
  {
    key: '<folder>/report-<n>.md',
    record: 'run-report-markdown',
    writtenBy: 'shared/record/idempotency.ts',
    metadata: [META.finding, META.run, META.producer],
    meaning: 'The report of the run holding claim n when that run took no effect (or was forced with --rerun), for a human. Written before report-<n>.json.',
  },
  {
    key: '<folder>/report-<n>.json',
    record: 'run-report',
    writtenBy: 'shared/record/idempotency.ts',
    metadata: [META.finding, META.run, META.producer],
    meaning: 'The TriageReport of a run that took no effect: the finding stays open for a later run, claim n is released as finished; the newest (by time, then generation) is shown.',
  },
  {
    key: '<folder>/claim-<n>.json',
    record: 'claim',
    writtenBy: 'shared/record/idempotency.ts',
    metadata: [META.finding, META.claimStatus, META.claimRun, META.claimGeneration, META.claimedAt, META.claimExpires],
    meaning: 'In-progress claim of generation n (run id, expiry): the one creator of generation n runs the finding.',
  },
  {
    key: '<folder>/claim-<n>.released.json',
    record: 'claim-release',
    writtenBy: 'shared/record/idempotency.ts',
    metadata: [META.claimStatus, META.claimRun, META.claimGeneration],
    meaning: 'Claim n given up: `released` after a transient failure (the retry takes generation n+1 at once instead of waiting for the expiry), or `finished` by a run that took no effect (its report is report-<n>.json).',
  },
  {
    key: '<folder>/effects-<run>.json',
    record: 'effects',
    writtenBy: 'shared/respond/prior-effects.ts',
    metadata: [META.run],
    meaning: 'What one attempt did to the cluster (enforced actions that took effect), merged into the marks and report of later attempts.',
  },
  {
    key: '<folder>/pending-approval.json',
    record: 'pending-approval',
    writtenBy: 'shared/respond/approval-record.ts',
    metadata: [META.finding, META.run],
    meaning: "approve mode: the actions waiting for a person (type, parameters), the pod's UID, name and namespace as read, the evidence gate's status and the evidence URI, created and expiry times. Never collected again: the approved actions' evidence guard is judged from it. Its status is derived, objects never change: `pending` until `<folder>/approval/report.json` exists, then that report's `approval.status` (approved, denied, expired, refused). The decision has its own folder `<folder>/approval/` with the finding's claim protocol (claim-<n>.json, report.json, report.md): concurrent approval deliveries execute once, and its report.json closes the pending record. A record nobody decides is closed as expired, under the same claim, by `scc-responder approvals --expire`.",
  },
  {
    key: '[<prefix>/]_ratelimit/<rule>/<UTC hour>/slots/<n>.json',
    record: 'ratelimit-slot',
    writtenBy: 'shared/contain/limiter.ts',
    metadata: [META.rule, META.window, META.slot, META.subject],
    meaning: 'One enforced destructive action of the rule in that hour; n < maxActionsPerHour, and only one creator wins each n. A budget scoped to one namespace or one workload of a cluster has the same slots and subjects under `_ratelimit/<rule>/cluster/<project>/<location>/<cluster>/namespace/<ns>/` or `.../workload/<ns/Kind/name>/` (segments through keySegment()); windows start with a digit, so a scope is never read as a window. Slots of the older, cluster-less `_ratelimit/<rule>/namespace/<ns>/` and `_ratelimit/<rule>/workload/<...>/` keys are no longer counted (an upgrade within an hour may allow that hour\'s narrower budgets once more); the budget of the rule itself is organization-wide and kept where it was.',
  },
  {
    key: '[<prefix>/]_ratelimit/<rule>/<UTC hour>/subjects/<sha256(subject)[:32]>.json',
    record: 'ratelimit-subject',
    writtenBy: 'shared/contain/limiter.ts',
    metadata: [META.rule, META.window, META.slot, META.subject],
    meaning: 'The slot a finding + action + target took, so its redelivery reuses the slot instead of taking another.',
  },
  {
    key: 'budget/<cluster project>/<cluster>/<yyyymmddhh>/<finding id>-<bytes>',
    record: 'evidence-budget',
    writtenBy: 'shared/evidence/byte-budget.ts',
    metadata: [],
    meaning: "One empty marker per stored copy: the cluster's hourly evidence byte budget is the sum of the listed sizes.",
  },
];

/** `<folder>` in the table. */
export const FOLDER_PATTERN = `<cluster project>/<cluster | ${MISSING.cluster}>/<namespace | ${MISSING.namespace}>/<pod | ${MISSING.pod}>/<finding id>`;

/** The table as markdown (README and docs carry this text; a unit test keeps them equal). */
export function ledgerTableMarkdown(): string {
  const rows = LEDGER_TABLE.map((r) => `| \`${r.key}\` | ${r.record} | ${r.writtenBy} | ${(r.metadata.length === 0 ? 'none' : r.metadata.map((m) => `\`${m}\``).join(', '))} | ${r.meaning} |`);
  return [
    `\`<folder>\` = \`${FOLDER_PATTERN}\`, each segment made safe by keySegment() (shared/ledger/keys.ts). Every object also carries \`${META.complete}: true\` (set by the backend) and \`${META.record}: <record>\`; metadata is fixed at creation.`,
    '',
    '| key | record | written by | metadata | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
