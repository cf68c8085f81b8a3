// PATCH pods/{name}/ephemeralcontainers as the real API server treats it:
// - strategic merge patch merges the list by name (what kubectl debug and client-node send);
// - JSON merge patch replaces the whole list, JSON patch edits it: either way an existing
//   ephemeral container may not be removed or changed (422), only new ones added;
// - Pod Security admission checks the new containers against the namespace's level (403);
// - a new container starts waiting (ContainerCreating) and becomes running either on the next
//   read of the pod, a watch sending it included ('next-read', deterministic), or after a
//   timer ('timer'); either way watches of the pod get a MODIFIED event for each change.
import type { FakeEphemeralContainer, FakePodSecurityLevel, FakePodSpec } from './types.js';

type Json = Record<string, unknown>;

export class PatchError extends Error {
  constructor(readonly code: number, message: string, readonly reason: string) {
    super(message);
  }
}

/** Key-sorted JSON, so two specs that differ only in key order compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v as Json)
      .sort()
      .filter((k) => (v as Json)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function invalid(pod: FakePodSpec, field: string, what: string): PatchError {
  return new PatchError(422, `Pod "${pod.name}" is invalid: ${field}: ${what}`, 'Invalid');
}

/** The list the patch asks for (merge-patch, JSON patch) or the entries to merge (strategic). */
function requested(contentType: string, body: unknown, current: readonly Json[]): { list: Json[]; replaces: boolean } {
  if (contentType === 'application/json-patch+json') {
    if (!Array.isArray(body)) throw new PatchError(400, 'json patch body must be an array of operations', 'BadRequest');
    const list = current.map((e) => ({ ...e }));
    for (const op of body as { op: string; path: string; value?: unknown }[]) {
      const m = /^\/spec\/ephemeralContainers(?:\/(-|\d+))?$/.exec(op.path);
      if (!m) continue;
      if (m[1] === undefined) {
        if (op.op === 'add' || op.op === 'replace') list.splice(0, list.length, ...((op.value as Json[] | undefined) ?? []));
        else if (op.op === 'remove') list.splice(0, list.length);
      } else if (op.op === 'add') list.splice(m[1] === '-' ? list.length : Number(m[1]), 0, op.value as Json);
      else if (op.op === 'remove') list.splice(Number(m[1]), 1);
      else if (op.op === 'replace') list[Number(m[1])] = op.value as Json;
    }
    return { list, replaces: true };
  }
  const list = ((body as { spec?: { ephemeralContainers?: Json[] } } | undefined)?.spec?.ephemeralContainers ?? []) as Json[];
  return { list, replaces: contentType === 'application/merge-patch+json' };
}

const BASELINE_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);

/** Pod Security admission (the parts a debug container can trip): null when allowed. */
function podSecurityViolation(level: FakePodSecurityLevel, ec: Json): string | null {
  if (level === 'privileged') return null;
  const name = String(ec['name'] ?? '');
  const sc = (ec['securityContext'] ?? {}) as { privileged?: boolean; runAsNonRoot?: boolean; runAsUser?: number; allowPrivilegeEscalation?: boolean; capabilities?: { add?: string[]; drop?: string[] }; seccompProfile?: { type?: string } };
  const add = sc.capabilities?.add ?? [];
  const problems: string[] = [];
  if (sc.privileged === true) problems.push(`privileged (container "${name}" must not set securityContext.privileged=true)`);
  const extra = add.filter((c) => !(level === 'restricted' ? c === 'NET_BIND_SERVICE' : BASELINE_CAPS.has(c)));
  if (extra.length > 0) problems.push(`${level === 'restricted' ? 'unrestricted' : 'non-default'} capabilities (container "${name}" must not include ${extra.map((c) => `"${c}"`).join(', ')} in securityContext.capabilities.add)`);
  if (level === 'restricted') {
    if (sc.allowPrivilegeEscalation !== false) problems.push(`allowPrivilegeEscalation != false (container "${name}" must set securityContext.allowPrivilegeEscalation=false)`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`unrestricted capabilities (container "${name}" must set securityContext.capabilities.drop=["ALL"])`);
    if (sc.runAsNonRoot !== true || sc.runAsUser === 0) problems.push(`runAsNonRoot != true (container "${name}" must set securityContext.runAsNonRoot=true)`);
    if (sc.seccompProfile?.type !== 'RuntimeDefault' && sc.seccompProfile?.type !== 'Localhost') problems.push(`seccompProfile (container "${name}" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
  }
  return problems.length === 0 ? null : `violates PodSecurity "${level}:latest": ${problems.join(', ')}`;
}

function fromSpec(ec: Json): FakeEphemeralContainer {
  const sc = (ec['securityContext'] ?? {}) as { runAsUser?: number; capabilities?: { add?: string[] } };
  const target = ec['targetContainerName'];
  return {
    name: String(ec['name'] ?? ''),
    ...(typeof ec['image'] === 'string' ? { image: ec['image'] } : {}),
    ...(Array.isArray(ec['command']) ? { command: (ec['command'] as unknown[]).map(String) } : {}),
    ...(typeof target === 'string' ? { targetContainerName: target } : {}),
    running: false,
    waitingReason: 'ContainerCreating',
    spec: ec,
    uid: typeof sc.runAsUser === 'number' ? sc.runAsUser : 0,
    capabilities: sc.capabilities?.add ?? [],
  };
}

/**
 * Applies the patch to the pod's ephemeral containers; returns the ones it added (to start).
 * Throws PatchError (400/403/422) without changing anything.
 */
export function patchEphemeralContainers(pod: FakePodSpec, contentType: string, body: unknown, level: FakePodSecurityLevel): FakeEphemeralContainer[] {
  const current = pod.ephemeralContainers ?? [];
  const currentSpecs = current.map((e) => e.spec ?? { name: e.name, image: e.image, command: e.command, targetContainerName: e.targetContainerName });
  const { list, replaces } = requested(contentType, body, currentSpecs);
  const byName = new Map(list.map((ec) => [String(ec['name'] ?? ''), ec]));
  current.forEach((e, i) => {
    const asked = byName.get(e.name);
    if (asked === undefined) {
      if (replaces) throw invalid(pod, 'spec.ephemeralContainers', `Forbidden: existing ephemeral containers "${e.name}" may not be removed`);
      return;
    }
    if (canonical(asked) !== canonical(currentSpecs[i])) throw invalid(pod, `spec.ephemeralContainers[${i}]`, `Forbidden: existing ephemeral containers "${e.name}" may not be changed`);
  });
  const known = new Set(current.map((e) => e.name));
  const added = list.filter((ec) => !known.has(String(ec['name'] ?? '')));
  added.forEach((ec, i) => {
    const name = String(ec['name'] ?? '');
    const index = current.length + i;
    if (!name) throw invalid(pod, `spec.ephemeralContainers[${index}].name`, 'Required value');
    if (pod.containers.some((c) => c.name === name) || added.filter((x) => x['name'] === name).length > 1) {
      throw invalid(pod, `spec.ephemeralContainers[${index}].name`, `Duplicate value: "${name}"`);
    }
    const target = ec['targetContainerName'];
    if (typeof target === 'string' && !pod.containers.some((c) => c.name === target)) {
      throw invalid(pod, `spec.ephemeralContainers[${index}].targetContainerName`, `Not found: "${target}"`);
    }
    const violation = podSecurityViolation(level, ec);
    if (violation) throw new PatchError(403, `pods "${pod.name}" is forbidden: ${violation}`, 'Forbidden');
  });
  const created = added.map(fromSpec);
  pod.ephemeralContainers = [...current, ...created];
  return created;
}

