// Prunes a gax client library's protobuf descriptor (build/protos/protos.json) to the RPCs the
// responder calls and every type they reach, computed from the descriptor itself.
//
// Why: each gax client constructor turns the WHOLE protos.json of its package into a
// protobufjs root and then into gRPC service definitions (encoding a FileDescriptorProto for
// every file). security-center ships v1, v1beta1, v1p1beta1 and v2 in one descriptor,
// container v1 and v1beta1: on a cold instance most of that work is for API versions the
// function never calls. The closure is computed, not listed by hand, so a new field or
// message in a library update is kept automatically.
//
// What is dropped besides unreached types: extension declarations (google.api.http,
// field_behavior, resource_reference, ...). They only describe options, which stay on the
// methods and fields as plain option entries (what gax reads for REST fallback routing).
import protobuf from 'protobufjs';

/**
 * The RPCs the responder calls, per service (fully qualified, no leading dot). A method not
 * listed is not in the bundle's descriptor: calling it fails at once (the gRPC stub has no such
 * method). test/unit/prune-protos.test.ts fails when code under shared/ or functions/ calls
 * a method of these services that is not listed here.
 */
export const KEPT_METHODS = {
  'google.cloud.securitycenter.v1.SecurityCenter': ['ListFindings', 'GetSource', 'UpdateSecurityMarks'],
  'google.cloud.securitycenter.v2.SecurityCenter': ['ListFindings', 'GetSource', 'UpdateSecurityMarks'],
  'google.container.v1.ClusterManager': ['GetCluster'],
  'google.cloud.secretmanager.v1.SecretManagerService': ['AccessSecretVersion'],
};

/** The services each bundled client library keeps. */
export const KEPT_SERVICES = {
  '@google-cloud/security-center': ['google.cloud.securitycenter.v1.SecurityCenter', 'google.cloud.securitycenter.v2.SecurityCenter'],
  '@google-cloud/container': ['google.container.v1.ClusterManager'],
  '@google-cloud/secret-manager': ['google.cloud.secretmanager.v1.SecretManagerService'],
};

const keptMethod = (service, method) => (KEPT_METHODS[service.fullName.replace(/^\./, '')] ?? [method.name]).includes(method.name);

/** The long-running operation types a method names in its options (gax looks them up at construction). */
function operationTypes(method) {
  const o = method.options ?? {};
  return [o['(google.longrunning.operation_info).response_type'], o['(google.longrunning.operation_info).metadata_type']].filter((t) => typeof t === 'string');
}

/** Full names (no leading dot) of the services' reflection objects and everything they reference. */
export function closure(root, services) {
  const keep = new Set();
  const visit = (obj) => {
    if (!obj || keep.has(obj.fullName)) return;
    keep.add(obj.fullName);
    if (obj instanceof protobuf.Type) {
      for (const f of obj.fieldsArray) visit(f.resolve().resolvedType);
      for (const n of obj.nestedArray) visit(n);
    } else if (obj instanceof protobuf.Service) {
      for (const m of obj.methodsArray) {
        if (keptMethod(obj, m)) {
          m.resolve();
          visit(m.resolvedRequestType);
          visit(m.resolvedResponseType);
        }
        // Every operation type, kept method or not: the client looks them all up when built.
        for (const t of operationTypes(m)) {
          const found = obj.parent.lookup(t) ?? root.lookup(t);
          if (!found) throw new Error(`${m.fullName}: operation type ${t} is not in the descriptor`);
          visit(found);
        }
      }
    }
  };
  for (const name of services) {
    const s = root.lookupService(name); // throws when the service is not in the descriptor
    visit(s);
  }
  return new Set([...keep].map((n) => n.replace(/^\./, '')));
}

/** The JSON descriptor's subtree with only the kept names (and the namespaces holding them). */
function pruneNested(nested, prefix, keep) {
  const out = {};
  for (const [name, node] of Object.entries(nested)) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (node.extend !== undefined) continue; // an extension declaration: see the header
    if (keep.has(full)) {
      out[name] = node.methods === undefined ? node : { ...node, methods: Object.fromEntries(Object.entries(node.methods).filter(([m]) => (KEPT_METHODS[full] ?? [m]).includes(m))) };
      continue;
    }
    const isNamespace = node.fields === undefined && node.values === undefined && node.methods === undefined;
    if (!isNamespace || node.nested === undefined) continue;
    const inner = pruneNested(node.nested, full, keep);
    if (Object.keys(inner).length > 0) out[name] = { ...node, nested: inner };
  }
  return out;
}

/**
 * protos.json pruned to `services` and their closure; checked by loading it back: it must
 * resolve completely and still hold every method of every kept service.
 */
export function pruneProtos(json, services) {
  const root = protobuf.Root.fromJSON(json);
  for (const name of services) {
    const have = root.lookupService(name).methodsArray.map((m) => m.name);
    const missing = (KEPT_METHODS[name] ?? []).filter((m) => !have.includes(m));
    if (missing.length > 0) throw new Error(`${name} has no method ${missing.join(', ')} (KEPT_METHODS in scripts/prune-protos.mjs)`);
  }
  const keep = closure(root, services);
  const pruned = { ...json, nested: pruneNested(json.nested ?? {}, '', keep) };
  const check = protobuf.Root.fromJSON(pruned);
  check.resolveAll();
  for (const name of services) {
    const service = root.lookupService(name);
    const before = service.methodsArray.filter((m) => keptMethod(service, m)).map((m) => m.name).join(',');
    const after = check.lookupService(name).methodsArray.map((m) => m.name).join(',');
    if (before !== after) throw new Error(`pruning ${name}: expected methods ${before}, kept ${after} (a listed method missing from the descriptor?)`);
  }
  return pruned;
}
