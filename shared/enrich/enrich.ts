// Enrichment (playbook steps 2-4) as concurrent, individually timed steps: cluster describe,
// pod (then its owner chain), node (then the node-console log query, which needs the node's
// instance id), pod events, and the pod and audit log queries. A failed call is a failed
// step with its reason; it never stops the others. Pure orchestration over the ports.
import type { Incident } from '../finding/types.js';
import type { ClusterDirectory, LogQueryName, LogSearch, NodeView, OwnerRef, OwnerView, PodView, Workloads } from '../ports.js';
import { classifyError, ResponderError } from '../common/errors.js';
import { withTimeout } from '../common/time.js';
import { runStep, skipped, StepNotApplicable, type Skip, type StepResult } from '../common/step.js';
import { buildPlaybookArtefacts } from './playbook.js';
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
}

/** Pod -> ReplicaSet -> Deployment and Job -> CronJob are the deepest chains. */
export const MAX_OWNER_DEPTH = 3;
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

function controllerRef(refs: OwnerRef[]): OwnerRef | undefined {
  return refs.find((r) => r.controller === true) ?? (refs.length === 1 ? refs[0] : undefined);
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

export async function enrichIncident(incident: Incident, deps: EnrichDeps, options: EnrichOptions): Promise<{ steps: StepResult[]; data: EnrichmentData }> {
  const data: EnrichmentData = { owners: [], logs: {} };
  const ref = incident.cluster;
  if (!ref) return { steps: [skipped('enrich', 'the finding names no GKE cluster')], data };
  const t = options.callTimeoutMs;
  const outer = options.signal;
  const stepOpts = (timeoutMs: number): { timeoutMs: number; signal?: AbortSignal } => ({ timeoutMs, ...(outer ? { signal: outer } : {}) });
  const ns = incident.namespace;
  const podName = incident.pod;

  // One Kubernetes access for all steps (the directory caches it per cluster anyway).
  const access: Promise<Workloads> = withTimeout(`Kubernetes access to cluster ${ref.name}`, t, outer, (s) => deps.directory.workloads(ref, s)).catch((err: unknown) => {
    throw accessFailure(ref.name, err);
  });
  access.catch(() => undefined); // each step reports it; no unhandled rejection when none asks
  const kubeStep = async <T>(name: string, timeoutMs: number, body: (w: Workloads, signal: AbortSignal) => Promise<T | Skip>): Promise<StepResult<T>> => {
    let w: Workloads;
    try {
      w = await access;
    } catch (err) {
      return runStep<T>(name, () => Promise.reject(err), stepOpts(timeoutMs));
    }
    return runStep<T>(name, (signal) => body(w, signal), stepOpts(timeoutMs));
  };

  // Log filters come from the playbook's own builders, so the report's links and our queries agree.
  const artefacts = (instanceId?: string): ReturnType<typeof buildPlaybookArtefacts> =>
    buildPlaybookArtefacts(incident, { windowBeforeMinutes: options.logWindowMinutes, windowAfterMinutes: options.logWindowMinutes, ...(instanceId ? { instanceId } : {}) });
  const project = incident.projectId || ref.project;
  const logStep = (name: LogQueryName, instanceId?: string): Promise<StepResult> => {
    const stepName = `enrich.logs.${name}`;
    const logs = deps.logs;
    if (!logs) return Promise.resolve(skipped(stepName, 'no log search configured (local triage): use the Logs Explorer links in the report'));
    const f = artefacts(instanceId).filters[name];
    if (!f.runnable) return Promise.resolve(skipped(stepName, `the query needs values the finding lacks: ${f.missing.join(', ')}`));
    // Paging makes several calls: allow two call timeouts for the whole query.
    return runStep(
      stepName,
      async (signal) => {
        const result = await logs.search({ name, filter: f.filterWithWindow, resourceNames: [`projects/${project}`], maxEntries: options.maxLogEntries, maxBytes: options.maxLogBytes }, signal);
        const summary = summariseLogs(name, f.filterWithWindow, result, { ...(ns ? { namespace: ns } : {}), ...(podName ? { name: podName } : {}) });
        data.logs[name] = summary;
        return { count: summary.count, truncated: summary.truncated };
      },
      stepOpts(2 * t),
    );
  };

  // ---- cluster
  const clusterStep = runStep('enrich.cluster', (s) => deps.directory.describe(ref, s), stepOpts(t)).then((r) => {
    if (r.status === 'ok' && r.data) data.cluster = r.data;
    return r as StepResult;
  });

  // ---- pod, then owners
  const podStep: Promise<StepResult<PodView>> =
    ns && podName
      ? kubeStep('enrich.pod', t, async (w, signal) => {
          try {
            const pod = await w.readPod(ns, podName, signal);
            data.pod = pod;
            const target = incident.container ? pod.containers.find((c) => c.name === incident.container) : undefined;
            if (target) data.targetContainer = target;
            Object.assign(data, replacementOf(pod));
            return pod;
          } catch (err) {
            if (statusOf(err) === 404) {
              data.podNotFound = true;
              throw new ResponderError(`pod ${ns}/${podName} no longer exists (HTTP 404): ${classifyError(err).reason}`, 'permanent', { code: 404, cause: err });
            }
            throw err;
          }
        })
      : Promise.resolve(skipped('enrich.pod', 'the finding names no pod/namespace') as StepResult<PodView>);

  const ownersStep = podStep.then(async (p): Promise<StepResult> => {
    const pod = p.status === 'ok' ? p.data : undefined;
    if (!pod || !ns) return skipped('enrich.owners', `the pod was not read (${p.reason ?? p.status})`);
    const first = controllerRef(pod.ownerReferences);
    if (!first) return skipped('enrich.owners', 'bare pod: no owner');
    data.topController = { kind: first.kind, name: first.name };
    return kubeStep('enrich.owners', t * MAX_OWNER_DEPTH, async (w, signal) => {
      let next: OwnerRef | undefined = first;
      for (let depth = 0; next && depth < MAX_OWNER_DEPTH; depth++) {
        const r: OwnerRef = next;
        const owner: OwnerView = await withTimeout(`read ${r.kind} ${ns}/${r.name}`, t, signal, (s) => w.readOwner(ns, r, s));
        data.owners.push(owner);
        data.topController = { kind: owner.kind, name: owner.name };
        next = controllerRef(owner.ownerReferences);
      }
      return data.owners.map((o) => `${o.kind}/${o.name}`).join(' -> ');
    });
  });

  // ---- node (name from the finding, else from the pod), then the node-console log query
  const nodeName: Promise<string | undefined> = incident.node ? Promise.resolve(incident.node) : podStep.then((p) => (p.status === 'ok' ? p.data?.nodeName : undefined));
  const nodeStep: Promise<StepResult<NodeView>> = nodeName.then((name) =>
    name
      ? kubeStep('enrich.node', t, async (w, signal) => {
          const node = await w.readNode(name, signal);
          data.node = node;
          data.nodeFacts = nodeFacts(node);
          return node;
        })
      : (skipped('enrich.node', 'no node name: the finding names none and the pod was not read') as StepResult<NodeView>),
  );
  const nodeLogStep = nodeStep.then((n) => {
    const id = n.status === 'ok' ? n.data?.instanceId : undefined;
    if (!id) {
      const why = n.status === 'ok' ? 'the node has no container.googleapis.com/instance_id annotation' : `the node was not read (${n.reason ?? n.status})`;
      return deps.logs ? skipped('enrich.logs.node', `node instance id unknown: ${why}`) : logStep('node');
    }
    return logStep('node', id);
  });

  // ---- events
  const eventsStep: Promise<StepResult> =
    ns && podName
      ? kubeStep('enrich.events', t, async (w, signal) => {
          const events = await w.listPodEvents(ns, podName, signal);
          data.events = events;
          return { count: events.length };
        })
      : Promise.resolve(skipped('enrich.events', 'the finding names no pod/namespace'));

  const steps = await Promise.all([
    clusterStep,
    podStep as Promise<StepResult>,
    ownersStep,
    nodeStep as Promise<StepResult>,
    eventsStep,
    logStep('pod'),
    logStep('audit'),
    nodeLogStep,
  ]);
  // The step data of reads is in `data`; keep the step records small.
  for (const s of steps) if (s.name === 'enrich.pod' || s.name === 'enrich.node' || s.name === 'enrich.cluster') delete s.data;
  return { steps, data };
}
