import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { mapTactic, mapTechnique, TACTIC_IDS, TECHNIQUE_IDS, techniqueUrl } from '../../shared/finding/mitre.js';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@google-cloud/security-center/package.json'));

function protoEnum(version: 'v1' | 'v2', name: string): [string, string][] {
  const text = readFileSync(join(pkgDir, 'build/protos/google/cloud/securitycenter', version, 'mitre_attack.proto'), 'utf8');
  const body = new RegExp(`enum ${name} \\{([\\s\\S]*?)\\n  \\}`).exec(text)?.[1] ?? '';
  return [...body.matchAll(/\/\/\s*(T[A0-9.]+)\s*\n\s*([A-Z0-9_]+)\s*=/g)].map((m) => [m[2]!, m[1]!]);
}

test('every technique and tactic of the SCC v1 and v2 protos is mapped to the id in its comment', () => {
  for (const version of ['v1', 'v2'] as const) {
    const techniques = protoEnum(version, 'Technique');
    assert.ok(techniques.length > 60, `parsed ${version} techniques`);
    for (const [name, id] of techniques) assert.equal(TECHNIQUE_IDS[name], id, `${version} ${name}`);
    const tactics = protoEnum(version, 'Tactic');
    assert.equal(tactics.length, 14);
    for (const [name, id] of tactics) assert.equal(TACTIC_IDS[name], id, `${version} ${name}`);
  }
});

test('the playbook techniques and sub-technique URLs', () => {
  assert.deepEqual(mapTechnique('INGRESS_TOOL_TRANSFER'), { name: 'INGRESS_TOOL_TRANSFER', id: 'T1105', url: 'https://attack.mitre.org/techniques/T1105/' });
  assert.deepEqual(mapTechnique('NATIVE_API'), { name: 'NATIVE_API', id: 'T1106', url: 'https://attack.mitre.org/techniques/T1106/' });
  assert.equal(mapTechnique('UNIX_SHELL').url, 'https://attack.mitre.org/techniques/T1059/004/');
  assert.equal(techniqueUrl('T1059.004'), 'https://attack.mitre.org/techniques/T1059/004/');
  assert.deepEqual(mapTechnique('toString'), { name: 'toString' }, 'no prototype keys');
  assert.equal(mapTactic('EXECUTION').id, 'TA0002');
});
