// The playbook's reading steps as ready-made artefacts: the three Logs Explorer filters of
// step 4 (exactly as the playbook writes them), deep links over a window around the event,
// console links for cluster/node/pod/workload, the gcloud and kubectl commands of step 5,
// and the research links of step 6. Pure: built from the Incident alone (plus the node's
// instance id and the pod's owner once enrichment knows them).
//
// Every command is an argv array first; its one-line form is produced by shellJoin(), so a
// binary path like `/tmp/$(reboot);x` pasted into a terminal stays a path.
import type { Incident } from '../finding/types.js';
import type { LogQueryName } from '../ports.js';
import { encodeUrlPart, logsExplorerUrl, quoteLogValue, withTimeWindow } from './playbook-logging.js';

export { quoteLogValue, withTimeWindow, logsExplorerUrl } from './playbook-logging.js';

export const INSTANCE_ID_PLACEHOLDER = '<instance_id from node annotation container.googleapis.com/instance_id>';
export const DEFAULT_WINDOW_BEFORE_MINUTES = 30;
export const DEFAULT_WINDOW_AFTER_MINUTES = 30;

export interface PlaybookOptions {
  /** Compute Engine instance id of the node (annotation `container.googleapis.com/instance_id`). */
  instanceId?: string;
  windowBeforeMinutes?: number;
  windowAfterMinutes?: number;
  /** The pod's top controller once enrichment read it (e.g. `{ kind: 'Deployment', name: 'checkout' }`). */
  owner?: { kind: string; name: string };
  /** Local file name for `kubectl cp` (default `scc-evidence-<findingId>.bin`). */
  localFile?: string;
}

export interface LogFilterArtefact {
  name: LogQueryName;
  title: string;
  /** The filter exactly as playbook step 4 writes it, one restriction per line. */
  filter: string;
  /** The same with `timestamp>=` / `timestamp<=` clauses, for the Logging API. */
  filterWithWindow: string;
  /** Logs Explorer deep link over the window. */
  url: string;
  /** False while a value is missing and a placeholder stands in (the node filter before enrichment). */
  runnable: boolean;
  /** Which values are placeholders. */
  missing: string[];
}

export interface CommandArtefact {
  title: string;
  /** The command as argv: what code should execute (never through a shell). */
  argv: string[];
  /** The same, shell-quoted for a human to paste. */
  shell: string;
  note?: string;
}

export interface LinkArtefact {
  title: string;
  url: string;
}

export interface PlaybookItem {
  kind: 'text' | 'link' | 'filter' | 'command';
  label: string;
  /** Text value, filter, or shell command. */
  value: string;
  url?: string;
  /** Where a step-1 value came from (Incident provenance). */
  source?: string;
  note?: string;
}

export interface PlaybookSection {
  /** Playbook step number (1-6). */
  step: number;
  title: string;
  items: PlaybookItem[];
}

export interface PlaybookArtefacts {
  /** Project the filters and links use (project id when known). */
  project: string;
  /** The node's Compute Engine instance id when enrichment gave it. */
  nodeInstanceId?: string;
  window: { start: string; end: string; beforeMinutes: number; afterMinutes: number };
  filters: Record<LogQueryName, LogFilterArtefact>;
  links: {
    cluster?: LinkArtefact;
    node?: LinkArtefact;
    nodeInstance?: LinkArtefact;
    pod?: LinkArtefact;
    workload?: LinkArtefact;
    virusTotal?: LinkArtefact;
    mitre: LinkArtefact[];
  };
  commands: {
    getCredentials?: CommandArtefact;
    copyBinary?: CommandArtefact;
    verifyCopy?: CommandArtefact;
    shell?: CommandArtefact;
  };
  /** Artefacts that could not be built, and why. */
  unavailable: { item: string; reason: string }[];
  /** Markdown/text friendly view, in playbook order. */
  sections: PlaybookSection[];
}

const CONSOLE = 'https://console.cloud.google.com';

/** Characters that are never special inside a shell word (POSIX sh, bash, zsh). */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One shell word per argv element, joined by spaces. Plain words stay as a person writes
 * them (`--namespace=payments`, `http://203.0.113.50/x.sh`); anything else is single-quoted,
 * which the shell takes literally. The first word is quoted when it has `=` (it would read
 * as an assignment). A property test runs arbitrary argv through /bin/sh.
 */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((word, i) => (PLAIN_WORD.test(word) && !(i === 0 && word.includes('=')) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function command(title: string, argv: string[], note?: string): CommandArtefact {
  const c: CommandArtefact = { title, argv, shell: shellJoin(argv) };
  if (note !== undefined) c.note = note;
  return c;
}

/** Value or `<placeholder>`, remembering which were missing. */
class Values {
  readonly missing: string[] = [];
  get(value: string | undefined, placeholder: string): string {
    if (value !== undefined && value !== '') return value;
    this.missing.push(placeholder);
    return `<${placeholder}>`;
  }
}

function filterArtefact(
  name: LogQueryName,
  title: string,
  lines: string[],
  values: Values,
  project: string,
  start: string,
  end: string,
): LogFilterArtefact {
  const filter = lines.join('\n');
  return {
    name,
    title,
    filter,
    filterWithWindow: withTimeWindow(filter, start, end),
    url: logsExplorerUrl(filter, project, start, end),
    runnable: values.missing.length === 0,
    missing: [...values.missing],
  };
}

function seg(value: string): string {
  return encodeUrlPart(value);
}

const WORKLOAD_PATHS: Record<string, string> = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
  ReplicaSet: 'replicaset',
  Job: 'job',
  CronJob: 'cronjob',
};

function blockingProblem(incident: Incident, field: string): string | undefined {
  return incident.problems?.find((p) => p.kind === 'invalid' && p.field === field)?.message;
}

interface LogWindow {
  project: string;
  start: string;
  end: string;
}

/** Step 4: the three filters, line for line as the playbook writes them. */
function logFilters(incident: Incident, w: LogWindow, instanceId: string | undefined): PlaybookArtefacts['filters'] {
  const { cluster } = incident;
  const { project, start, end } = w;
  const podValues = new Values();
  const pod = filterArtefact(
    'pod',
    'Pod logs',
    [
      `resource.type="k8s_container"`,
      `resource.labels.project_id=${quoteLogValue(podValues.get(project, 'project'))}`,
      `resource.labels.location=${quoteLogValue(podValues.get(cluster?.location, 'location'))}`,
      `resource.labels.cluster_name=${quoteLogValue(podValues.get(cluster?.name, 'cluster'))}`,
      `resource.labels.namespace_name=${quoteLogValue(podValues.get(incident.namespace, 'Pod_Namespace'))}`,
      `resource.labels.pod_name=${quoteLogValue(podValues.get(incident.pod, 'Pod_Name'))}`,
    ],
    podValues, project, start, end,
  );
  const auditValues = new Values();
  const auditProject = auditValues.get(project, 'project');
  const audit = filterArtefact(
    'audit',
    'Cluster audit logs',
    [
      `logName=${quoteLogValue(`projects/${auditProject}/logs/cloudaudit.googleapis.com%2Factivity`)}`,
      `resource.type="k8s_cluster"`,
      `resource.labels.project_id=${quoteLogValue(auditProject)}`,
      `resource.labels.location=${quoteLogValue(auditValues.get(cluster?.location, 'location'))}`,
      `resource.labels.cluster_name=${quoteLogValue(auditValues.get(cluster?.name, 'cluster'))}`,
      quoteLogValue(auditValues.get(incident.pod, 'Pod_Name')),
    ],
    auditValues, project, start, end,
  );
  const nodeValues = new Values();
  if (instanceId === undefined) nodeValues.missing.push('instance_id');
  const node = filterArtefact(
    'node',
    'GKE node console logs',
    [`resource.type="gce_instance"`, `resource.labels.instance_id=${quoteLogValue(instanceId ?? INSTANCE_ID_PLACEHOLDER)}`],
    nodeValues, project, start, end,
  );
  return { pod, audit, node };
}

/** Steps 2 and 3 (console pages of the cluster, node, pod and workload) and step 6 (research). */
function consoleLinks(incident: Incident, project: string, owner: PlaybookOptions['owner'], unavailable: PlaybookArtefacts['unavailable']): PlaybookArtefacts['links'] {
  const links: PlaybookArtefacts['links'] = { mitre: [] };
  const q = `?project=${seg(project)}`;
  const cluster = incident.cluster;
  if (cluster) {
    const base = `${seg(cluster.location)}/${seg(cluster.name)}`;
    links.cluster = { title: `Cluster ${cluster.name}`, url: `${CONSOLE}/kubernetes/clusters/details/${base}/details${q}` };
    if (incident.node) links.node = { title: `Node ${incident.node}`, url: `${CONSOLE}/kubernetes/node/${base}/${seg(incident.node)}/details${q}` };
    if (incident.namespace && incident.pod) {
      links.pod = { title: `Pod ${incident.namespace}/${incident.pod}`, url: `${CONSOLE}/kubernetes/pod/${base}/${seg(incident.namespace)}/${seg(incident.pod)}/details${q}` };
    }
    const ownerPath = owner ? WORKLOAD_PATHS[owner.kind] : undefined;
    if (owner && ownerPath && incident.namespace) {
      links.workload = { title: `${owner.kind} ${incident.namespace}/${owner.name}`, url: `${CONSOLE}/kubernetes/${ownerPath}/${base}/${seg(incident.namespace)}/${seg(owner.name)}/overview${q}` };
    } else if (incident.namespace) {
      links.workload = { title: `Workloads in ${incident.namespace}`, url: `${CONSOLE}/kubernetes/workload/overview${q}` };
    }
  } else {
    unavailable.push({ item: 'console links', reason: `the finding's resource is not a GKE cluster (${incident.resourceName})` });
  }
  if (incident.node && incident.nodeZone) {
    links.nodeInstance = { title: `VM instance ${incident.node}`, url: `${CONSOLE}/compute/instancesDetail/zones/${seg(incident.nodeZone)}/instances/${seg(incident.node)}${q}` };
  }
  if (incident.virusTotalUrl) links.virusTotal = { title: 'VirusTotal analysis', url: incident.virusTotalUrl };
  for (const t of incident.mitre.techniques) {
    if (t.url) links.mitre.push({ title: `${t.id ?? t.name} ${t.name}`, url: t.url });
  }
  return links;
}

/** Step 5: credentials, copying the binary out, a shell in the container (argv, quoted for copy and paste). */
function playbookCommands(incident: Incident, project: string, localFile: string, unavailable: PlaybookArtefacts['unavailable']): PlaybookArtefacts['commands'] {
  const commands: PlaybookArtefacts['commands'] = {};
  const cluster = incident.cluster;
  if (cluster) {
    commands.getCredentials = command('Get cluster credentials', [
      'gcloud', 'container', 'clusters', 'get-credentials', cluster.name,
      cluster.locationKind === 'zone' ? '--zone' : '--region', cluster.location,
      '--project', project,
    ]);
  } else unavailable.push({ item: 'gcloud get-credentials', reason: 'not a GKE cluster' });

  const podProblem = blockingProblem(incident, 'namespace') ?? blockingProblem(incident, 'pod') ?? blockingProblem(incident, 'container');
  const missingPod = !incident.namespace ? 'no namespace' : !incident.pod ? 'no pod name' : !incident.container ? 'no container name' : undefined;
  const podUnusable = missingPod ?? podProblem;
  if (podUnusable !== undefined || !incident.namespace || !incident.pod || !incident.container) {
    unavailable.push({ item: 'kubectl cp / kubectl exec', reason: podUnusable ?? 'no pod' });
    return commands;
  }
  const pathUnusable = !incident.binary ? 'the finding names no binary' : incident.binary.pathProblem ? `binary path ${incident.binary.pathProblem}` : undefined;
  if (pathUnusable === undefined && incident.binary) {
    commands.copyBinary = command(
      'Copy the modified binary out',
      ['kubectl', 'cp', `${incident.namespace}/${incident.pod}:${incident.binary.path}`, '-c', incident.container, localFile],
      "kubectl cp runs tar inside the compromised container: the copy may be forged. Trust it only if its SHA-256 matches the finding's.",
    );
    if (incident.binary.sha256) {
      commands.verifyCopy = command('Check the copy against the finding', ['sha256sum', localFile], `expected ${incident.binary.sha256}${incident.binary.partiallyHashed ? ` (of the first ${incident.binary.hashedSize ?? '?'} bytes only)` : ''}`);
    }
  } else unavailable.push({ item: 'kubectl cp', reason: pathUnusable ?? 'no binary' });
  commands.shell = command(
    'Open a shell in the container',
    ['kubectl', 'exec', `--namespace=${incident.namespace}`, '-ti', incident.pod, '-c', incident.container, '--', '/bin/sh'],
    'needs a shell at /bin/sh in the container; the container is compromised, its tools may lie',
  );
  return commands;
}

export function buildPlaybookArtefacts(incident: Incident, options: PlaybookOptions = {}): PlaybookArtefacts {
  const before = options.windowBeforeMinutes ?? DEFAULT_WINDOW_BEFORE_MINUTES;
  const after = options.windowAfterMinutes ?? DEFAULT_WINDOW_AFTER_MINUTES;
  const event = new Date(incident.eventTime).getTime();
  const start = new Date(event - before * 60_000).toISOString();
  const end = new Date(event + after * 60_000).toISOString();
  const project = incident.projectId !== '' ? incident.projectId : (incident.cluster?.project ?? incident.projectNumber ?? '');
  const instanceId = options.instanceId !== undefined && options.instanceId !== '' ? options.instanceId : undefined;
  const unavailable: PlaybookArtefacts['unavailable'] = [];
  const artefacts: PlaybookArtefacts = {
    project,
    window: { start, end, beforeMinutes: before, afterMinutes: after },
    filters: logFilters(incident, { project, start, end }, instanceId),
    links: consoleLinks(incident, project, options.owner, unavailable),
    commands: playbookCommands(incident, project, options.localFile ?? `scc-evidence-${incident.findingId}.bin`, unavailable),
    unavailable,
    sections: [],
  };
  if (instanceId !== undefined) artefacts.nodeInstanceId = instanceId;
  artefacts.sections = sectionsOf(incident, artefacts);
  return artefacts;
}

function text(label: string, value: string | undefined, incident: Incident, field: string): PlaybookItem {
  const item: PlaybookItem = { kind: 'text', label, value: value ?? '(not in the finding)' };
  const source = incident.provenance[field];
  if (source) item.source = source;
  return item;
}

function linkItem(link: LinkArtefact | undefined, label: string): PlaybookItem[] {
  return link ? [{ kind: 'link', label, value: link.title, url: link.url }] : [];
}

function commandItem(c: CommandArtefact | undefined): PlaybookItem[] {
  if (!c) return [];
  const item: PlaybookItem = { kind: 'command', label: c.title, value: c.shell };
  if (c.note) item.note = c.note;
  return [item];
}

function sectionsOf(incident: Incident, a: PlaybookArtefacts): PlaybookSection[] {
  const binaryItem = text('Program binary', incident.binary?.path, incident, 'binary.path');
  if (incident.binary?.pathProblem) binaryItem.note = `unusable: ${incident.binary.pathProblem}`;
  const step1: PlaybookItem[] = [
    binaryItem,
    // Arguments shown shell-quoted: faithful and inert when copied.
    { ...text('Arguments', incident.args.length > 0 ? shellJoin(incident.args) : undefined, incident, 'args') },
    text('Container', incident.container, incident, 'container'),
    text('Container URI', incident.imageUri, incident, 'imageUri'),
    text('Resource full name', incident.resourceName, incident, 'resourceName'),
    text('Node (VM_Instance_Name)', incident.node, incident, 'node'),
    text('SHA-256', incident.binary?.sha256, incident, 'binary.sha256'),
    ...linkItem(a.links.virusTotal, 'VirusTotal indicator'),
  ];
  const step2: PlaybookItem[] = [
    ...linkItem(a.links.cluster, 'Cluster'),
    ...linkItem(a.links.node, 'Node'),
    ...linkItem(a.links.nodeInstance, 'Node VM instance'),
    { kind: 'text', label: 'Node instance id', value: a.nodeInstanceId ?? INSTANCE_ID_PLACEHOLDER },
  ];
  const step3: PlaybookItem[] = [
    text('Pod', incident.namespace && incident.pod ? `${incident.namespace}/${incident.pod}` : undefined, incident, 'pod'),
    ...linkItem(a.links.pod, 'Pod'),
    ...linkItem(a.links.workload, 'Workload'),
  ];
  const step4: PlaybookItem[] = (['pod', 'audit', 'node'] as const).map((name) => {
    const f = a.filters[name];
    const item: PlaybookItem = { kind: 'filter', label: f.title, value: f.filter, url: f.url };
    if (!f.runnable) item.note = `fill in: ${f.missing.join(', ')}`;
    return item;
  });
  const step5: PlaybookItem[] = [
    ...commandItem(a.commands.getCredentials),
    ...commandItem(a.commands.copyBinary),
    ...commandItem(a.commands.verifyCopy),
    ...commandItem(a.commands.shell),
    ...a.unavailable.filter((u) => u.item.startsWith('kubectl')).map((u): PlaybookItem => ({ kind: 'text', label: u.item, value: `not available: ${u.reason}` })),
  ];
  const step6: PlaybookItem[] = [
    ...a.links.mitre.map((l): PlaybookItem => ({ kind: 'link', label: 'MITRE ATT&CK', value: l.title, url: l.url })),
    ...linkItem(a.links.virusTotal, 'VirusTotal'),
  ];
  return [
    { step: 1, title: 'Read the finding', items: step1 },
    { step: 2, title: 'The cluster and the node', items: step2 },
    { step: 3, title: 'The pod', items: step3 },
    { step: 4, title: 'The logs', items: step4 },
    { step: 5, title: 'The running container', items: step5 },
    { step: 6, title: 'Research', items: step6 },
  ];
}
