// Enrichment (playbook steps 2-4) as concurrent, individually timed steps: cluster describe,
// pod (then its owner chain), node (then the node-console log query, which needs the node's
// instance id), pod events, and the pod and audit log queries. A failed call is a failed
// step with its reason; it never stops the others. Pure orchestration over the ports.
import type { ClusterRef, Incident } from '../finding/types.js';
import type { ClusterDirectory, LogQueryName, LogSearch, NodeView, PodView, Workloads } from '../ports.js';
import { classifyError, ResponderError } from '../common/errors.js';
import { withTimeout } from '../common/time.js';
import { runStep, skipped, StepNotApplicable, type Skip, type StepResult } from '../common/step.js';
import { buildPlaybookArtefacts } from './playbook.js';
import { MAX_OWNER_CHAIN, readOwnerChain } from '../contain/owners.js';
import { summariseLogs } from './log-summary.js';
import type { EnrichmentData, NodeFacts } from './types.js';

export interface EnrichDeps {
  directory: ClusterDirectory;
  /** Absent locally: the log steps are skipped (the report still has the Logs Explorer links). */
  logs?: LogSearch;
  now?: () => Date;
}

export interface EnrichOptions {
  /** Timeout of each API call. */
  callTimeoutMs: number;
  /** Log window: this many minutes before and after the finding's event time. */
  logWindowMinutes: number;
  maxLogEntries: number;
  maxLogBytes: number;
  signal?: AbortSignal;
  /**
   * The log queries start when this settles (the pipeline passes "containment is done"): they
   * only feed the report, and on a cold instance loading the Logging client costs CPU the
   * path to containment needs.
   */
  logsAfter?: Promise<unknown>;
}

/** Controllers that recreate a deleted pod. */
const REPLACING = new Set(['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicationController']);

function nodeFacts(node: NodeView): NodeFacts {
  const l = node.labels;
  const facts: NodeFacts = {};
  const pool = l['cloud.google.com/gke-nodepool'];
  const zone = l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'];
  const machine = l['node.kubernetes.io/instance-type'] ?? l['beta.kubernetes.io/instance-type'];
  if (pool) facts.nodePool = pool;
  if (zone) facts.zone = zone;
  if (machine) facts.machineType = machine;
  return facts;
}


/** Whether a controller will recreate the pod, and why (for the reviewer). */
export function replacementOf(pod: PodView): { willBeReplaced: boolean; replacement: string } {
  const ref = pod.ownerReferences.find((r) => r.controller === true);
  if (!ref) return { willBeReplaced: false, replacement: 'bare pod: no controller would recreate it after deletion' };
  if (REPLACING.has(ref.kind)) return { willBeReplaced: true, replacement: `controlled by ${ref.kind}/${ref.name}, which recreates deleted pods` };
  return { willBeReplaced: true, replacement: `controlled by ${ref.kind}/${ref.name} (not a built-in workload; assumed to recreate the pod)` };
}

/** A failure of "getting Kubernetes access", restated for each step that needed it. */
function accessFailure(clusterName: string, err: unknown): Error {
  // "This context is not the finding's cluster" stays a reason to skip, not a failure.
  if (err instanceof StepNotApplicable) return err;
  const c = classifyError(err);
  return new ResponderError(`no Kubernetes access to cluster ${clusterName}: ${c.reason}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
}

function statusOf(err: unknown): number | undefined {
  const code = classifyError(err).code;
  return typeof code === 'number' ? code : undefined;
}

/** One enrichment run: what every step needs, built once. */
interface Run {
  incident: Incident;
  ref: ClusterRef;
  ns?: string;
  podName?: string;
  deps: EnrichDeps;
  options: EnrichOptions;
  data: EnrichmentData;
  /** runStep linked to the outer signal. */
  step<T>(name: string, timeoutMs: number, body: (signal: AbortSignal) => Promise<T | Skip>): Promise<StepResult<T>>;
  /** A step that needs Kubernetes access (one access for all; its failure fails each such step). */
  kube<T>(name: string, timeoutMs: number, body: (w: Workloads, signal: AbortSignal) => Promise<T | Skip>): Promise<StepResult<T>>;
}

function startRun(incident: Incident, ref: ClusterRef, deps: EnrichDeps, options: EnrichOptions): Run {
  const outer = options.signal;
  const step: Run['step'] = (name, timeoutMs, body) => runStep(name, body, { timeoutMs, ...(outer ? { signal: outer } : {}) });
  // One Kubernetes access for all steps (the directory caches it per cluster anyway).
  const access: Promise<Workloads> = withTimeout(`Kubernetes access to cluster ${ref.name}`, options.callTimeoutMs, outer, (s) => deps.directory.workloads(ref, s)).catch((err: unknown) => {
    throw accessFailure(ref.name, err);
  });
  access.catch(() => undefined); // each step reports it; no unhandled rejection when none asks
  const kube: Run['kube'] = (name, timeoutMs, body) =>
    access.then(
      (w) => step(name, timeoutMs, (signal) => body(w, signal)),
      (err: unknown) => step(name, timeoutMs, () => Promise.reject(err)),
    );
  return {
    incident, ref, deps, options, step, kube,
    ...(incident.namespace ? { ns: incident.namespace } : {}),
    ...(incident.pod ? { podName: incident.pod } : {}),
    data: { owners: [], logs: {} },
  };
}

/** One of the playbook's three log queries; its filter comes from the playbook's own builders, so the report's links and our queries agree. */
function logStep(run: Run, name: LogQueryName, instanceId?: string): Promise<StepResult> {
  const stepName = `enrich.logs.${name}`;
  const { incident, options, deps, ns, podName } = run;
  const logs = deps.logs;
  if (!logs) return Promise.resolve(skipped(stepName, 'no log search configured (local triage): use the Logs Explorer links in the report'));
  const window = { windowBeforeMinutes: options.logWindowMinutes, windowAfterMinutes: options.logWindowMinutes, ...(instanceId ? { instanceId } : {}) };
  const project = incident.projectId || run.ref.project;
  const after = options.logsAfter ?? Promise.resolve();
  // The filter is built once the query may start: its CPU is not in front of containment.
  return after.then(() => {
    const f = buildPlaybookArtefacts(incident, window).filters[name];
    if (!f.runnable) return skipped(stepName, `the query needs values the finding lacks: ${f.missing.join(', ')}`);
    // Paging makes several calls: allow two call timeouts for the whole query.
    return run.step(stepName, 2 * options.callTimeoutMs, async (signal) => {
      const result = await logs.search({ name, filter: f.filterWithWindow, resourceNames: [`projects/${project}`], maxEntries: options.maxLogEntries, maxBytes: options.maxLogBytes }, signal);
      const summary = summariseLogs(name, f.filterWithWindow, result, { ...(ns ? { namespace: ns } : {}), ...(podName ? { name: podName } : {}) });
      run.data.logs[name] = summary;
      return { count: summary.count, truncated: summary.truncated };
    });
  });
}

function clusterStep(run: Run): Promise<StepResult> {
  return run.step('enrich.cluster', run.options.callTimeoutMs, (s) => run.deps.directory.describe(run.ref, s)).then((r) => {
    if (r.status === 'ok' && r.data) run.data.cluster = r.data;
    return r as StepResult;
  });
}

function podStep(run: Run): Promise<StepResult<PodView>> {
  const { ns, podName, data, incident } = run;
  if (!ns || !podName) return Promise.resolve(skipped('enrich.pod', 'the finding names no pod/namespace') as StepResult<PodView>);
  return run.kube('enrich.pod', run.options.callTimeoutMs, async (w, signal) => {
    try {
      const pod = await w.readPod(ns, podName, signal);
      data.pod = pod;
      const target = incident.container ? pod.containers.find((c) => c.name === incident.container) : undefined;
      if (target) data.targetContainer = target;
      Object.assign(data, replacementOf(pod));
      return pod;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      data.podNotFound = true;
      throw new ResponderError(`pod ${ns}/${podName} no longer exists (HTTP 404): ${classifyError(err).reason}`, 'permanent', { code: 404, cause: err });
    }
  });
}

async function ownersStep(run: Run, podRead: Promise<StepResult<PodView>>): Promise<StepResult> {
  const p = await podRead;
  const { data, ns } = run;
  const pod = p.status === 'ok' ? p.data : undefined;
  if (!pod || !ns) return skipped('enrich.owners', `the pod was not read (${p.reason ?? p.status})`);
  const first = pod.ownerReferences.find((r) => r.controller === true);
  if (!first) return skipped('enrich.owners', 'bare pod: no owner');
  data.topController = { kind: first.kind, name: first.name };
  const t = run.options.callTimeoutMs;
  return run.kube('enrich.owners', t * MAX_OWNER_CHAIN, async (w, signal) => {
    const chain = await readOwnerChain(w, pod, { callTimeoutMs: t, signal });
    data.owners.push(...chain.owners);
    const top = chain.owners.at(-1);
    if (top) data.topController = { kind: top.kind, name: top.name };
    if (chain.error !== undefined) throw chain.error;
    return data.owners.map((o) => `${o.kind}/${o.name}`).join(' -> ');
  });
}

/** The node (named by the finding, else by the pod), then the node-console log query, which needs its instance id. */
function nodeSteps(run: Run, podRead: Promise<StepResult<PodView>>): [Promise<StepResult>, Promise<StepResult>] {
  const nodeName: Promise<string | undefined> = run.incident.node ? Promise.resolve(run.incident.node) : podRead.then((p) => (p.status === 'ok' ? p.data?.nodeName : undefined));
  const node: Promise<StepResult<NodeView>> = nodeName.then((name) =>
    name
      ? run.kube('enrich.node', run.options.callTimeoutMs, async (w, signal) => {
          const read = await w.readNode(name, signal);
          run.data.node = read;
          run.data.nodeFacts = nodeFacts(read);
          return read;
        })
      : (skipped('enrich.node', 'no node name: the finding names none and the pod was not read') as StepResult<NodeView>),
  );
  const nodeLog = node.then((n) => {
    const id = n.status === 'ok' ? n.data?.instanceId : undefined;
    if (id) return logStep(run, 'node', id);
    const why = n.status === 'ok' ? 'the node has no container.googleapis.com/instance_id annotation' : `the node was not read (${n.reason ?? n.status})`;
    return run.deps.logs ? skipped('enrich.logs.node', `node instance id unknown: ${why}`) : logStep(run, 'node');
  });
  return [node as Promise<StepResult>, nodeLog];
}

function eventsStep(run: Run): Promise<StepResult> {
  const { ns, podName } = run;
  if (!ns || !podName) return Promise.resolve(skipped('enrich.events', 'the finding names no pod/namespace'));
  return run.kube('enrich.events', run.options.callTimeoutMs, async (w, signal) => {
    const events = await w.listPodEvents(ns, podName, signal);
    run.data.events = events;
    return { count: events.length };
  });
}

export async function enrichIncident(incident: Incident, deps: EnrichDeps, options: EnrichOptions): Promise<{ steps: StepResult[]; data: EnrichmentData }> {
  const ref = incident.cluster;
  if (!ref) return { steps: [skipped('enrich', 'the finding names no GKE cluster')], data: { owners: [], logs: {} } };
  const run = startRun(incident, ref, deps, options);
  const pod = podStep(run);
  const [node, nodeLog] = nodeSteps(run, pod);
  // Everything starts now; only owners and node wait for the pod, the node query for the node.
  const [clusterResult, podResult, ...others] = await Promise.all([
    clusterStep(run), pod as Promise<StepResult>, ownersStep(run, pod), node, eventsStep(run), logStep(run, 'pod'), logStep(run, 'audit'), nodeLog,
  ]);
  // Only the pod read feeds containment; a transient failure of the rest (logs, events,
  // node, owners for the report) does not justify re-running the whole response.
  for (const s of [clusterResult, ...others]) s.bestEffort = true;
  const steps = [clusterResult, podResult, ...others];
  // The step data of reads is in `data`; keep the step records small.
  for (const s of steps) if (s.name === 'enrich.pod' || s.name === 'enrich.node' || s.name === 'enrich.cluster') delete s.data;
  return { steps, data: run.data };
}
