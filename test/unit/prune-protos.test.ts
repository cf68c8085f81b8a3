// The bundle's descriptor pruning (scripts/prune-protos.mjs): the kept services keep every
// method and every type their requests and responses reach, long-running operation types
// included, and the result loads back into protobufjs completely. The bundled clients are
// exercised end to end in test/e2e/bundle-clients.test.ts.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { KEPT_METHODS, KEPT_SERVICES, pruneProtos } from '../../scripts/prune-protos.mjs';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const descriptor = (pkg: string): protobuf.INamespace => require(`${pkg}/build/protos/protos.json`) as protobuf.INamespace;

/** Every type name the kept methods' messages reach, walked in the unpruned descriptor. */
function reached(root: protobuf.Root, service: string): string[] {
  const out = new Set<string>();
  const visit = (t: protobuf.Type | protobuf.Enum | null): void => {
    if (!t || out.has(t.fullName)) return;
    out.add(t.fullName);
    if (t instanceof protobuf.Type) for (const f of t.fieldsArray) visit(f.resolve().resolvedType);
  };
  for (const m of root.lookupService(service).methodsArray.filter((x) => kept(service).includes(x.name))) {
    m.resolve();
    visit(m.resolvedRequestType);
    visit(m.resolvedResponseType);
  }
  return [...out];
}

const kept = (service: string): string[] => KEPT_METHODS[service] ?? [];

/** Our TypeScript sources (shared/, functions/). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
  });
}

/** `Service.Method` of every kept service's RPC that `code` calls (`.methodName(`) but KEPT_METHODS does not list. */
function unlistedCalls(code: string): string[] {
  const out: string[] = [];
  for (const [pkg, services] of Object.entries(KEPT_SERVICES)) {
    const full = protobuf.Root.fromJSON(descriptor(pkg));
    for (const s of services) {
      for (const m of full.lookupService(s).methodsArray) {
        const call = `.${m.name.charAt(0).toLowerCase()}${m.name.slice(1)}(`;
        if (code.includes(call) && !kept(s).includes(m.name)) out.push(`${s}.${m.name}`);
      }
    }
  }
  return out;
}

function allServices(ns: protobuf.NamespaceBase): string[] {
  return ns.nestedArray.flatMap((o) => (o instanceof protobuf.Service ? [o.fullName.slice(1)] : o instanceof protobuf.Namespace ? allServices(o) : []));
}

describe('protos.json pruned for the bundle', () => {
  for (const [pkg, services] of Object.entries(KEPT_SERVICES)) {
    test(`${pkg}: kept services, their methods and every type they reach survive; other versions go`, () => {
      const full = protobuf.Root.fromJSON(descriptor(pkg));
      const pruned = protobuf.Root.fromJSON(pruneProtos(descriptor(pkg), services));
      pruned.resolveAll();
      for (const s of services) {
        assert.deepEqual(pruned.lookupService(s).methodsArray.map((m) => m.name).sort(), [...kept(s)].sort(), `${s}: exactly the listed methods`);
        for (const name of reached(full, s)) assert.ok(pruned.lookup(name), `${s}: ${name} is kept`);
      }
      const others = allServices(full).filter((s) => !services.includes(s));
      assert.ok(others.length > 0, `${pkg} ships services we do not call`);
      for (const s of others) assert.equal(pruned.lookup(s), null, `${s} is not kept`);
    });
  }

  test('long-running operation types a method names in its options are kept (gax looks them up at construction)', () => {
    const pkg = '@google-cloud/security-center';
    const pruned = protobuf.Root.fromJSON(pruneProtos(descriptor(pkg), ['google.cloud.securitycenter.v1.SecurityCenter']));
    assert.ok(pruned.lookup('.google.cloud.securitycenter.v1.RunAssetDiscoveryResponse'), 'RunAssetDiscovery LRO response');
    assert.equal(pruned.lookup('.google.cloud.securitycenter.v2.SecurityCenter'), null, 'v2 not asked for, not kept');
  });

  test('every RPC our code calls on these clients is kept (a new call without its KEPT_METHODS row fails here)', () => {
    const root = path.resolve(new URL('../..', import.meta.url).pathname);
    const code = [...sources(path.join(root, 'shared')), ...sources(path.join(root, 'functions'))].join('\n');
    assert.ok(code.includes('.listFindings(') && code.includes('.getCluster('), 'the scan sees our calls');
    assert.deepEqual(unlistedCalls(code), []);
  });

  test('the check can fail: the scan reports a call of an RPC that is not kept', () => {
    assert.deepEqual(unlistedCalls('await client.setFindingState({ name });'), ['google.cloud.securitycenter.v1.SecurityCenter.SetFindingState', 'google.cloud.securitycenter.v2.SecurityCenter.SetFindingState']);
  });

  test('the check can fail: a listed method the descriptor lacks stops the build', () => {
    const methods = KEPT_METHODS['google.container.v1.ClusterManager'] ?? [];
    methods.push('NoSuchMethod');
    try {
      assert.throws(() => pruneProtos(descriptor('@google-cloud/container'), ['google.container.v1.ClusterManager']), /has no method NoSuchMethod/);
    } finally {
      methods.pop();
    }
  });

  test('the check can fail: a service missing from the descriptor stops the build', () => {
    assert.throws(() => pruneProtos(descriptor('@google-cloud/container'), ['google.container.v9.ClusterManager']), /no such Service|v9/);
  });
});
