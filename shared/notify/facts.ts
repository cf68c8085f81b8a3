// What a notification says, as plain data: built by the record stage from the report, turned
// into each service's native message by the formatters beside this file. Every string that
// came from the finding or the cluster is attacker-writable (pod name, binary path): the
// formatters escape and truncate it; nothing here is trusted markup.

export interface NotificationLink {
  title: string;
  url: string;
}

export interface NotificationAction {
  type: string;
  /** done | would-do | refused | skipped | failed */
  status: string;
  detail: string;
}

export interface NotificationFacts {
  findingName: string;
  findingId: string;
  category: string;
  severity: string;
  eventTime: string;
  project: string;
  cluster?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  binary?: { path: string; sha256?: string };
  /** Marks vocabulary: matches, differs, partial-match, not-compared, no-evidence. */
  hashVerdict: string;
  rule: string;
  mode: string;
  /** handled | partial | failed | retry */
  verdict: string;
  summary: string;
  actions: NotificationAction[];
  /** A destructive action took effect (this run or an earlier attempt): PagerDuty resolves. */
  contained: boolean;
  runId: string;
  links: NotificationLink[];
  /**
   * approve mode: actions recorded as pending and the exact commands that approve or deny
   * them (shared/respond/stages/notify.ts pendingFacts). Every formatter renders it.
   */
  pending?: { actions: string[]; approve: string; deny: string; expiresAt?: string };
}

/** Longest value shown for one attacker-writable field. */
export const MAX_FIELD = 300;

export function clip(value: string, max = MAX_FIELD): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** Where the pod is, in one line: `cluster / namespace / pod (container)`. */
export function whereText(f: NotificationFacts): string {
  const parts = [f.cluster ?? f.project, f.namespace, f.pod].filter((p): p is string => typeof p === 'string' && p.length > 0);
  return `${parts.join(' / ')}${f.container ? ` (container ${f.container})` : ''}`;
}

export function binaryText(f: NotificationFacts): string {
  if (!f.binary) return `unknown binary, hash ${f.hashVerdict}`;
  return `${f.binary.path}${f.binary.sha256 ? ` sha256:${f.binary.sha256.slice(0, 16)}…` : ''} (hash ${f.hashVerdict})`;
}

export function actionLines(f: NotificationFacts): string[] {
  if (f.actions.length === 0) return [`no action (rule ${f.rule}, ${f.mode})`];
  return f.actions.map((a) => `${a.type}: ${a.status} - ${a.detail}`);
}

export function titleText(f: NotificationFacts): string {
  return `${f.severity} ${f.category}`;
}
