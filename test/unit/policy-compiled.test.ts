// A policy's data compiled ahead of time (shared/policy/compiled.ts): used only for the text it
// was compiled from, and then giving exactly what parsing that text gives; anything else falls
// back to the YAML (with its line numbers).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadPolicyFile, PolicyFileError } from '../../functions/composition/runtime.js';
import { COMPILED_POLICY_SUFFIX, compilePolicy, policyFromCompiled } from '../../shared/policy/compiled.js';
import { DEFAULT_POLICY_DATA, DEFAULT_POLICY_SOURCE, DEFAULT_POLICY_YAML, defaultPolicy } from '../../shared/policy/default-policy.js';
import { loadPolicy, policyData } from '../../shared/policy/load.js';

const POLICIES = new URL('../../policies/', import.meta.url);
const policyNames = readdirSync(POLICIES).filter((f) => f.endsWith('.yaml'));
const textOf = (name: string): string => readFileSync(new URL(name, POLICIES), 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'policy-compiled-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('compiled policies give what their YAML gives', () => {
  test('every shipped policy: the same policy and the same warnings', () => {
    assert.ok(policyNames.length >= 4, `policies found: ${policyNames.join(', ')}`);
    for (const name of policyNames) {
      const text = textOf(name);
      const compiled = compilePolicy(text);
      assert.ok(compiled !== undefined, `${name} compiles`);
      assert.deepEqual(policyFromCompiled(text, compiled, name), loadPolicy(text, name), name);
    }
  });

  test('the bundled default: its data is its YAML text\'s, and defaultPolicy() is what parsing the text gives', () => {
    assert.deepEqual(DEFAULT_POLICY_DATA, policyData(DEFAULT_POLICY_YAML));
    const parsed = loadPolicy(DEFAULT_POLICY_YAML, DEFAULT_POLICY_SOURCE);
    assert.ok(parsed.ok);
    assert.deepEqual(defaultPolicy(), parsed.policy);
  });

  test('an invalid policy compiles to nothing (the function reports its errors with line numbers)', () => {
    assert.equal(compilePolicy('version: 1\nrules:\n  - match: {categories: [x]}\n    mode: enforc\n'), undefined);
    assert.equal(compilePolicy('version: [\n'), undefined);
    assert.equal(policyData('version: 2\nrules: []\n'), undefined);
  });
});

describe('a sidecar is used only for the text it was compiled from', () => {
  const text = textOf('enforce-delete-for-deployments.yaml');
  const compiled = compilePolicy(text) ?? '';

  test('an edited text, damaged JSON, another format or data that does not validate: undefined (the caller parses the YAML)', () => {
    assert.equal(policyFromCompiled(`${text}\n# edited\n`, compiled, 'p.yaml'), undefined);
    assert.equal(policyFromCompiled(text, compiled.slice(0, 40), 'p.yaml'), undefined);
    const sidecar = JSON.parse(compiled) as { format: string; data: { version: number } };
    assert.equal(policyFromCompiled(text, JSON.stringify({ ...sidecar, format: 'other/1' }), 'p.yaml'), undefined);
    assert.equal(policyFromCompiled(text, JSON.stringify({ ...sidecar, data: { ...sidecar.data, version: 2 } }), 'p.yaml'), undefined);
    assert.equal(policyFromCompiled(text, 'null', 'p.yaml'), undefined);
  });

  // The sidecar below names the file's text but holds other (valid) data: which policy comes
  // back shows which of the two was read.
  function withSidecar(name: string, fileText: string, sidecarFor: string, data: unknown): string {
    const file = path.join(dir, name);
    writeFileSync(file, fileText);
    const sidecar = JSON.parse(compilePolicy(sidecarFor) ?? 'null') as { data: unknown };
    writeFileSync(`${file}${COMPILED_POLICY_SUFFIX}`, JSON.stringify({ ...sidecar, data }));
    return file;
  }
  const renamed = (name: string): unknown => {
    const data = structuredClone(policyData(text)) as { rules: { name?: string }[] };
    data.rules.forEach((r, i) => (r.name = `${name}-${i}`)); // rule names must be unique
    return data;
  };

  test('loadPolicyFile reads the sidecar of an unchanged file', () => {
    const file = withSidecar('same.yaml', text, text, renamed('from-sidecar'));
    const names = loadPolicyFile(file).policy.rules.map((r) => r.name);
    assert.ok(names.length > 0 && names.every((n) => n?.startsWith('from-sidecar-')), `rule names: ${names.join(', ')}`);
  });

  test('loadPolicyFile parses the YAML of a file edited after its sidecar was written', () => {
    const edited = text.replace(/name: [^\n]+/, 'name: edited-after');
    assert.notEqual(edited, text);
    const file = withSidecar('edited.yaml', edited, text, renamed('from-sidecar'));
    assert.equal(loadPolicyFile(file).policy.rules[0]?.name, 'edited-after');
  });

  test('an invalid file with a sidecar of its text that does not validate: the YAML\'s errors, with line numbers', () => {
    const bad = 'version: 1\nrules:\n  - match: {categories: [x]}\n    mode: enforc\n';
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, bad);
    writeFileSync(`${file}${COMPILED_POLICY_SUFFIX}`, JSON.stringify({ format: 'scc-responder-compiled-policy/1', sha256: createHash('sha256').update(bad, 'utf8').digest('hex'), data: {} }));
    assert.throws(() => loadPolicyFile(file), (err: unknown) => err instanceof PolicyFileError && /bad\.yaml:4:11 rules\[0\]\.mode/.test(err.message));
  });
});
