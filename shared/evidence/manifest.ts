// The manifest written next to the binary (create-only): what was copied, from where, with
// which tool, how far it can be trusted, its hashes against the finding's, and the volatile
// state's artefact. Also reads an existing manifest back (a redelivery, or a lost create race).
// The copy's hashes, size, truncation and verdict also ride on the manifest's object metadata
// (the binary's metadata is fixed when its upload starts; shared/ledger/layout.ts).
import { classifyError } from '../common/errors.js';
import { sleep } from '../common/time.js';
import type { Incident } from '../finding/types.js';
import { putJson, readRecord } from '../ledger/json.js';
import { copyMetadata, META, type FindingKeys } from '../ledger/layout.js';
import type { EvidenceStore, PodView, StoredObject } from '../ports.js';
import type { Deadline } from './deadline.js';
import type { CollectorInfo, EvidenceManifest, ExecAttempt, HashReport, SnapshotMethod, ToolTrust, VolatileArtefact } from './types.js';

export const MANIFEST_SCHEMA = 'scc-container-responder/evidence-manifest/v1' as const;
/** How long a run that lost the create race waits for the winner's manifest. */
const MANIFEST_WAIT_MS = 2000;

export function trustOf(method: SnapshotMethod): ToolTrust {
  return method === 'debug-container' ? 'pinned-debug-image' : 'container-tool';
}

/**
 * Whether a copy is the evidence. A copy read by the container's own tool is only when its
 * hash matches the finding (or the finding has none), it is whole, and tar sent exactly one
 * member of that name; a copy through /proc by our collector is unless it was cut.
 */
export function countsAsEvidence(method: SnapshotMethod, hash: HashReport, tarDuplicates: number): { counts: boolean; because?: string } {
  if (hash.truncated) return { counts: false, because: `the copy was cut at the size cap after ${hash.size} bytes (a flood or a huge file): not the evidence` };
  if (tarDuplicates > 0) return { counts: false, because: `tar sent ${tarDuplicates + 1} members with this name and the first was taken: a decoy may have come first, so the copy is not the evidence` };
  if (method !== 'debug-container' && hash.verdict === 'differs') return { counts: false, because: "read with the container's own tool and its hash differs from the finding's: the tool may have lied, so the copy is not the evidence" };
  return { counts: true };
}

export interface ManifestInput {
  incident: Incident;
  pod: PodView | undefined;
  keys: FindingKeys;
  path: { requested: string; read: string };
  maxBytes: number;
  method: SnapshotMethod;
  debugImage: string | undefined;
  attempt: ExecAttempt;
  hash: HashReport;
  object: StoredObject;
  startedAt: string;
  endedAt: string;
  collector: CollectorInfo;
  process?: { pid: number; exe: string; cmdline: string[] };
  volatile?: VolatileArtefact;
  tarDuplicates: number;
}

export function buildManifest(m: ManifestInput): EvidenceManifest {
  const { incident, hash } = m;
  const cv = m.pod?.containers.find((c) => c.name === incident.container);
  const imageDigest = cv?.imageID ?? incident.imageId;
  const image = cv?.image ?? incident.imageUri;
  const node = m.pod?.nodeName ?? incident.node;
  const counted = countsAsEvidence(m.method, hash, m.tarDuplicates);
  return {
    schema: MANIFEST_SCHEMA,
    findingName: incident.findingName,
    findingId: incident.findingId,
    category: incident.category,
    eventTime: incident.eventTime,
    projectId: incident.projectId,
    cluster: incident.cluster ? { project: incident.cluster.project, location: incident.cluster.location, name: incident.cluster.name } : null,
    namespace: incident.namespace ?? '',
    pod: incident.pod ?? '',
    ...(m.pod?.uid === undefined ? {} : { podUid: m.pod.uid }),
    ...(node === undefined ? {} : { node }),
    container: incident.container ?? '',
    ...(cv?.containerID === undefined ? {} : { containerId: cv.containerID }),
    ...(image === undefined ? {} : { image }),
    ...(imageDigest === undefined ? {} : { imageDigest }),
    path: m.path,
    size: hash.size,
    truncated: hash.truncated,
    maxBytes: m.maxBytes,
    hashes: { sha256: hash.sha256, ...(hash.prefix ? { prefix: hash.prefix } : {}) },
    findingHash: hash.expected,
    verdict: hash.verdict,
    significant: hash.significant || !counted.counts,
    explanation: hash.explanation,
    method: m.method,
    trust: trustOf(m.method),
    tool: { container: m.attempt.container, ...(m.method === 'debug-container' && m.debugImage ? { image: m.debugImage } : {}), command: m.attempt.command },
    collection: { startedAt: m.startedAt, endedAt: m.endedAt },
    collector: { identity: m.collector.identity, version: m.collector.version },
    binary: { key: m.keys.binary, uri: m.object.uri, ...(m.object.generation === undefined ? {} : { generation: m.object.generation }) },
    ...(m.attempt.source === undefined ? {} : { source: m.attempt.source }),
    ...(m.process ? { process: m.process } : {}),
    counts: counted.counts,
    ...(counted.because ? { doesNotCountBecause: counted.because } : {}),
    ...(m.volatile ? { volatile: { key: m.volatile.key, sha256: m.volatile.sha256, bytes: m.volatile.bytes } } : {}),
  };
}

/** Writes the manifest; a failure is a warning (the binary is stored already). */
export async function writeManifest(store: EvidenceStore, key: string, manifest: EvidenceManifest, deadline: Deadline, warnings: string[]): Promise<StoredObject | null> {
  try {
    const hash = { sha256: manifest.hashes.sha256, size: manifest.size, truncated: manifest.truncated, verdict: manifest.verdict, ...(manifest.hashes.prefix ? { prefix: manifest.hashes.prefix } : {}) };
    const fields = { [META.finding]: manifest.findingName, ...copyMetadata(hash), [META.trust]: manifest.trust, [META.endedAt]: manifest.collection.endedAt };
    const m = await deadline.race(putJson(store, key, 'manifest', manifest, fields, { pretty: true, signal: deadline.signal }));
    if (!m.created) warnings.push(`a manifest already existed at ${key}; it was kept`);
    return m.object;
  } catch (err) {
    warnings.push(`the binary is stored but writing manifest.json failed: ${classifyError(err).reason}`);
    return null;
  }
}

function isManifest(m: unknown): m is EvidenceManifest {
  return typeof m === 'object' && m !== null && (m as Partial<EvidenceManifest>).schema === MANIFEST_SCHEMA;
}

/** Reads the manifest of an existing copy, waiting briefly for a concurrent writer's. */
export async function readExistingManifest(store: EvidenceStore, key: string, deadline: Deadline, waitForWriter: boolean): Promise<{ manifest: EvidenceManifest | null; warnings: string[] }> {
  const warnings: string[] = [];
  const until = Date.now() + (waitForWriter ? MANIFEST_WAIT_MS : 0);
  let manifest: EvidenceManifest | null = null;
  for (;;) {
    try {
      manifest = await readRecord(store, key, isManifest, deadline.signal);
    } catch (err) {
      warnings.push(`reading the existing manifest failed: ${classifyError(err).reason}`);
      break;
    }
    if (manifest !== null || Date.now() >= until || deadline.signal.aborted) break;
    await sleep(50, deadline.signal).catch(() => undefined);
  }
  if (manifest === null && warnings.length === 0) warnings.push('the binary is stored but its manifest.json is missing or not yet written');
  return { manifest, warnings };
}
