// NotificationMessage -> Incident: every field step 1 of the playbook reads, plus what the
// later steps need, each with its origin in `provenance`. Structured finding fields
// (processes, containers, kubernetes, resource) win; `sourceProperties` is the fallback,
// and a disagreement between the two is recorded as a problem rather than hidden.
// Values are kept as data; values that cannot safely be acted on (a binary path with a NUL
// byte, a pod name Kubernetes would never accept) are flagged in `problems`.
import { mapTactic, mapTechnique } from './mitre.js';
import { binaryPathProblem } from './binary-path.js';
import { formatIssues, formatPath } from './issues.js';

export { binaryPathProblem };
import { isSecretKey, REDACTED, redactArgs, redactEnv, redactString } from './redact.js';
import { parseClusterResourceName, parseInstanceResourceName, parseProjectNumber } from './resource-names.js';
import { type NotificationMessage, notificationMessageSchema } from './schema.js';
import type { BinaryInfo, Incident, IncidentProblem, MitreTechnique } from './types.js';
import { isValidated } from './validated.js';

export interface IncidentError {
  code: 'bad-shape' | 'internal';
  message: string;
  path?: string;
}

export type IncidentResult = { ok: true; incident: Incident } | { ok: false; error: IncidentError };

/** sourceProperties keys Container Threat Detection sets (the playbook's fallback source). */
export const SOURCE_PROPERTY_KEYS = {
  node: 'VM_Instance_Name',
  pod: 'Pod_Name',
  namespace: 'Pod_Namespace',
  container: 'Container_Name',
  imageUri: 'Container_Image_Uri',
  binaryPath: 'Process_Binary_Fullpath',
} as const;

// Kubernetes object name rules (RFC 1123). A finding whose pod or namespace breaks them
// cannot name a real pod, so nothing may act on it.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

function nameProblem(value: string, kind: 'label' | 'subdomain'): string | undefined {
  const max = kind === 'label' ? 63 : 253;
  const re = kind === 'label' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (value.length > max) return `is longer than ${max} characters`;
  if (!re.test(value)) {
    return kind === 'label'
      ? 'is not a valid Kubernetes name (RFC 1123 label: lower-case letters, digits, -)'
      : 'is not a valid Kubernetes name (RFC 1123 subdomain: lower-case letters, digits, -, .)';
  }
  return undefined;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Shows a value in a problem message without letting it run long or break a line. */
function show(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
}

class Builder {
  readonly provenance: Record<string, string> = {};
  readonly problems: IncidentProblem[] = [];
  constructor(private readonly sp: Record<string, unknown>) {}

  /** The first structured candidate wins; sourceProperties[key] is the fallback. */
  pick(field: string, structured: [string | undefined, string][], spKey?: string): string | undefined {
    const fromSp = spKey === undefined ? undefined : nonEmpty(this.sp[spKey]);
    for (const [value, origin] of structured) {
      if (value === undefined || value === '') continue;
      this.provenance[field] = origin;
      if (fromSp !== undefined && fromSp !== value) {
        this.problems.push({
          field,
          kind: 'conflict',
          message: `${field}: ${origin} is ${show(value)} but sourceProperties.${spKey} is ${show(fromSp)}; using ${origin}`,
        });
      }
      return value;
    }
    if (fromSp !== undefined && spKey !== undefined) {
      this.provenance[field] = `finding.sourceProperties.${spKey}`;
      return fromSp;
    }
    return undefined;
  }

  invalid(field: string, message: string): void {
    this.problems.push({ field, kind: 'invalid', message: `${field} ${message}` });
  }
}

type Finding = NotificationMessage['finding'];
type Resource = NotificationMessage['resource'];

/** Project id (the display name SCC resolves, else what the resource name carries) and number. */
function readProject(b: Builder, f: Finding, r: Resource, cluster: Incident['cluster']): { projectId: string; projectNumber: string | undefined } {
  const P = b.provenance;
  const projectFromName = /\/projects\/([^/]+)\//.exec(f.resourceName)?.[1];
  const projectId =
    b.pick('projectId', [
      [nonEmpty(r?.projectDisplayName), 'resource.projectDisplayName'],
      [nonEmpty(r?.gcpMetadata?.projectDisplayName), 'resource.gcpMetadata.projectDisplayName'],
      [cluster?.project, 'derived:finding.resourceName'],
      [projectFromName, 'derived:finding.resourceName'],
    ]) ?? '';
  const canonicalProject = /^projects\/(\d+)\//.exec(f.canonicalName ?? '')?.[1];
  const projectNumber = b.pick('projectNumber', [
    [parseProjectNumber(r?.project ?? '') ?? undefined, 'resource.project'],
    [parseProjectNumber(r?.gcpMetadata?.project ?? '') ?? undefined, 'resource.gcpMetadata.project'],
    [canonicalProject, 'derived:finding.canonicalName'],
    [/^\d+$/.test(projectId) ? projectId : undefined, P['projectId'] ?? 'derived:finding.resourceName'],
  ]);
  return { projectId, projectNumber };
}

/** Pod, namespace, labels: kubernetes.pods[0] is the pod the process ran in. */
function readPod(b: Builder, f: Finding): { namespace: string | undefined; pod: string | undefined; podLabels: Record<string, string> } {
  const pod0 = f.kubernetes?.pods?.[0];
  const namespace = b.pick('namespace', [[nonEmpty(pod0?.ns), 'finding.kubernetes.pods[0].ns']], SOURCE_PROPERTY_KEYS.namespace);
  const pod = b.pick('pod', [[nonEmpty(pod0?.name), 'finding.kubernetes.pods[0].name']], SOURCE_PROPERTY_KEYS.pod);
  const podLabels: Record<string, string> = {};
  // Label values are free text set by whoever deploys the pod, and credentials do end up
  // there; mask them like arguments (and wholly under a credential-like key). Policies match
  // labels such as `app` or `scc-responder/exempt`, which this leaves alone.
  for (const l of pod0?.labels ?? []) podLabels[l.name] = isSecretKey(l.name) ? REDACTED : redactString(l.value);
  if (pod0?.labels) b.provenance['podLabels'] = 'finding.kubernetes.pods[0].labels';
  return { namespace, pod, podLabels };
}

/**
 * Container: finding.containers[0] is the affected container; the pod's container list only
 * tells us when the pod has exactly one.
 */
function readContainer(b: Builder, f: Finding): { container: string | undefined; imageUri: string | undefined; imageId: string | undefined } {
  const c0 = f.containers?.[0];
  const podContainers = f.kubernetes?.pods?.[0]?.containers ?? [];
  const only = podContainers.length === 1 ? podContainers[0] : undefined;
  const from = (field: 'name' | 'uri' | 'imageId'): [string | undefined, string][] => [
    [nonEmpty(c0?.[field]), `finding.containers[0].${field}`],
    [nonEmpty(only?.[field]), `finding.kubernetes.pods[0].containers[0].${field}`],
  ];
  return {
    container: b.pick('container', from('name'), SOURCE_PROPERTY_KEYS.container),
    imageUri: b.pick('imageUri', from('uri'), SOURCE_PROPERTY_KEYS.imageUri),
    imageId: b.pick('imageId', from('imageId')),
  };
}

/** Node: kubernetes.nodes[].name is a full compute name; VM_Instance_Name is the bare name. */
function readNode(b: Builder, f: Finding): { node: string | undefined; nodeResourceName?: string; nodeZone?: string } {
  const nodeFull = nonEmpty(f.kubernetes?.nodes?.[0]?.name) ?? nonEmpty(f.kubernetes?.nodePools?.[0]?.nodes?.[0]?.name);
  const nodeOrigin = nonEmpty(f.kubernetes?.nodes?.[0]?.name) ? 'finding.kubernetes.nodes[0].name' : 'finding.kubernetes.nodePools[0].nodes[0].name';
  const instance = nodeFull ? parseInstanceResourceName(nodeFull) : null;
  const node = b.pick('node', [[instance?.name ?? (nodeFull && !nodeFull.startsWith('//') ? nodeFull : undefined), nodeOrigin]], SOURCE_PROPERTY_KEYS.node);
  if (!instance || !nodeFull) return { node };
  b.provenance['nodeResourceName'] = nodeOrigin;
  b.provenance['nodeZone'] = `derived:${nodeOrigin}`;
  return { node, nodeResourceName: nodeFull, nodeZone: instance.zone };
}

/** The binary processes[0] executed: path, size, hash (of a prefix when partially hashed). */
function readBinary(b: Builder, f: Finding): BinaryInfo | undefined {
  const P = b.provenance;
  const bin = f.processes?.[0]?.binary;
  const binaryPath = b.pick('binary.path', [[nonEmpty(bin?.path), 'finding.processes[0].binary.path']], SOURCE_PROPERTY_KEYS.binaryPath);
  if (binaryPath === undefined) return undefined;
  const binary: BinaryInfo = { path: binaryPath, partiallyHashed: false };
  if (bin?.size !== undefined) {
    binary.size = bin.size;
    P['binary.size'] = 'finding.processes[0].binary.size';
  }
  if (bin?.sha256 !== undefined && bin.sha256 !== '') {
    if (SHA256.test(bin.sha256)) {
      binary.sha256 = bin.sha256.toLowerCase();
      P['binary.sha256'] = 'finding.processes[0].binary.sha256';
    } else b.invalid('binary.sha256', 'is not a 64-digit hex SHA-256; ignored');
  }
  if (bin?.hashedSize !== undefined) {
    binary.hashedSize = bin.hashedSize;
    P['binary.hashedSize'] = 'finding.processes[0].binary.hashedSize';
  }
  // The detector hashes at most a prefix of large files: then the hash covers hashedSize bytes.
  if (bin?.partiallyHashed === true) {
    binary.partiallyHashed = true;
    P['binary.partiallyHashed'] = 'finding.processes[0].binary.partiallyHashed';
  } else if (bin?.hashedSize !== undefined && bin.size !== undefined && bin.hashedSize < bin.size) {
    binary.partiallyHashed = true;
    P['binary.partiallyHashed'] = 'derived:finding.processes[0].binary.hashedSize<size';
  }
  const pathProblem = binaryPathProblem(binaryPath);
  if (pathProblem) {
    binary.pathProblem = pathProblem;
    b.invalid('binary.path', `${pathProblem}; it will not be read or used in a command`);
  }
  return binary;
}

/** Arguments are evidence and shown as such, but secrets in them (and every env value) are masked. */
function readProcess(b: Builder, f: Finding): { args: string[]; pid: string | undefined; envVariables: Incident['envVariables'] } {
  const P = b.provenance;
  const proc = f.processes?.[0];
  if (proc?.args) P['args'] = 'finding.processes[0].args';
  if (proc?.pid !== undefined) P['pid'] = 'finding.processes[0].pid';
  if (proc?.envVariables) P['envVariables'] = `finding.processes[0].envVariables (values ${REDACTED})`;
  return { args: redactArgs(proc?.args ?? []), pid: proc?.pid, envVariables: redactEnv(proc?.envVariables) };
}

/** VirusTotal: an indicator URI only when it really points at VirusTotal over https, else built from the hash. */
function virusTotalUrlOf(b: Builder, f: Finding, binary: BinaryInfo | undefined): string | undefined {
  const uris = f.indicator?.uris ?? [];
  const vtIndex = uris.findIndex(isVirusTotalUrl);
  if (vtIndex >= 0) {
    b.provenance['virusTotalUrl'] = `finding.indicator.uris[${vtIndex}]`;
    return uris[vtIndex];
  }
  if (!binary?.sha256) return undefined;
  b.provenance['virusTotalUrl'] = 'derived:finding.processes[0].binary.sha256';
  return `https://www.virustotal.com/gui/file/${binary.sha256}`;
}

/** MITRE ATT&CK: primary then additional techniques, each once. */
function readMitre(b: Builder, f: Finding): Incident['mitre'] {
  const techniqueNames = [...(f.mitreAttack?.primaryTechniques ?? []), ...(f.mitreAttack?.additionalTechniques ?? [])];
  const techniques: MitreTechnique[] = [...new Set(techniqueNames)].map(mapTechnique);
  const mitre: Incident['mitre'] = { techniques };
  if (f.mitreAttack) b.provenance['mitre'] = 'finding.mitreAttack';
  if (f.mitreAttack?.primaryTactic) {
    mitre.tactic = f.mitreAttack.primaryTactic;
    const t = mapTactic(f.mitreAttack.primaryTactic);
    if (t.id) mitre.tacticId = t.id;
    if (t.url) mitre.tacticUrl = t.url;
  }
  if (f.mitreAttack?.version) mitre.version = f.mitreAttack.version;
  return mitre;
}

/** Names Kubernetes would reject cannot belong to a real pod: flag them so nothing acts. */
function checkNames(b: Builder, names: { namespace?: string | undefined; pod?: string | undefined; container?: string | undefined; node?: string | undefined }): void {
  const kinds = { namespace: 'label', pod: 'subdomain', container: 'label', node: 'subdomain' } as const;
  for (const field of ['namespace', 'pod', 'container', 'node'] as const) {
    const value = names[field];
    const problem = value === undefined ? undefined : nameProblem(value, kinds[field]);
    if (problem) b.invalid(field, problem);
  }
}

function build(message: NotificationMessage): Incident {
  const f = message.finding;
  const b = new Builder(f.sourceProperties ?? {});
  const P = b.provenance;
  P['findingName'] = 'finding.name';
  P['apiVersion'] = 'derived:finding.name';
  P['resourceName'] = 'finding.resourceName';
  const cluster = parseClusterResourceName(f.resourceName);
  if (cluster) P['cluster'] = 'derived:finding.resourceName';
  const { projectId, projectNumber } = readProject(b, f, message.resource, cluster);
  const { namespace, pod, podLabels } = readPod(b, f);
  const { container, imageUri, imageId } = readContainer(b, f);
  const { node, nodeResourceName, nodeZone } = readNode(b, f);
  const binary = readBinary(b, f);
  const { args, pid, envVariables } = readProcess(b, f);
  const virusTotalUrl = virusTotalUrlOf(b, f, binary);
  const mitre = readMitre(b, f);
  checkNames(b, { namespace, pod, container, node });
  P['category'] = 'finding.category';
  P['state'] = 'finding.state';
  P['severity'] = f.severity ? 'finding.severity' : 'default';
  P['eventTime'] = 'finding.eventTime';

  const incident: Incident = {
    findingName: f.name,
    findingId: f.name.slice(f.name.lastIndexOf('/') + 1),
    apiVersion: f.name.includes('/locations/') ? 'v2' : 'v1',
    category: f.category,
    state: f.state,
    severity: f.severity && f.severity !== '' ? f.severity : 'SEVERITY_UNSPECIFIED',
    eventTime: f.eventTime,
    resourceName: f.resourceName,
    cluster,
    projectId,
    podLabels,
    args,
    mitre,
    envVariables,
    securityMarks: { ...(f.securityMarks?.marks ?? {}) },
    provenance: P,
    problems: b.problems,
  };
  const optional: Partial<Incident> = {
    canonicalName: f.canonicalName, notificationConfigName: message.notificationConfigName, findingClass: f.findingClass,
    description: f.description, createTime: f.createTime, projectNumber, namespace, pod, container, imageUri, imageId,
    node, nodeResourceName, nodeZone, binary, pid, virusTotalUrl, securityMarksName: f.securityMarks?.name,
    externalUri: f.externalUri, sourceDisplayName: f.parentDisplayName,
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined && v !== '') (incident as unknown as Record<string, unknown>)[k] = v;
  }
  if (f.securityMarks?.marks) P['securityMarks'] = 'finding.securityMarks.marks';
  return inReadingOrder(incident);
}

// JSON output (CLI, reports) reads best in the order of the Incident type.
const FIELD_ORDER: readonly (keyof Incident)[] = [
  'findingName', 'canonicalName', 'findingId', 'apiVersion', 'notificationConfigName', 'category', 'state',
  'severity', 'findingClass', 'description', 'sourceDisplayName', 'eventTime', 'createTime', 'resourceName',
  'cluster', 'projectId', 'projectNumber', 'namespace', 'pod', 'podLabels', 'container', 'imageUri', 'imageId',
  'node', 'nodeResourceName', 'nodeZone', 'binary', 'args', 'pid', 'virusTotalUrl', 'mitre', 'envVariables',
  'securityMarks', 'securityMarksName', 'externalUri', 'provenance', 'problems',
];

function inReadingOrder(incident: Incident): Incident {
  const src = incident as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) if (k in src) out[k] = src[k];
  for (const k of Object.keys(src)) if (!(k in out)) out[k] = src[k];
  return out as unknown as Incident;
}

/** https://www.virustotal.com/... (or virustotal.com) and nothing else, so a hostile URI is never offered as a link. */
export function isVirusTotalUrl(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'https:' && (u.hostname === 'www.virustotal.com' || u.hostname === 'virustotal.com') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/**
 * Builds the Incident. decodeMessage()'s output (the very object the schema produced) is
 * used as is; anything else is validated first, so a caller may also pass a bare parsed
 * object (the CLI, tests). Never throws.
 */
export function toIncident(message: NotificationMessage | unknown): IncidentResult {
  try {
    if (isValidated(message)) return { ok: true, incident: build(message) };
    const parsed = notificationMessageSchema.safeParse(message, { reportInput: true });
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const error: IncidentError = { code: 'bad-shape', message: formatIssues(parsed.error.issues) };
      if (first) error.path = formatPath(first.path);
      return { ok: false, error };
    }
    return { ok: true, incident: build(parsed.data) };
  } catch (err) {
    const name = err instanceof Error ? err.name : typeof err;
    return { ok: false, error: { code: 'internal', message: `building the incident failed unexpectedly (${name})` } };
  }
}

