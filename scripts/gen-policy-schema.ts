// Writes policy.schema.json (JSON Schema of the policy file) from the zod schema in
// shared/policy/schema.ts, so editors validate policy files. Run after changing the schema:
//   npx tsx scripts/gen-policy-schema.ts          (writes the file)
//   npx tsx scripts/gen-policy-schema.ts --check  (exit 1 when the committed file is stale)
// test/unit/policy-schema.test.ts fails when the committed file differs from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policyJsonSchema } from '../shared/policy/schema.js';

export const POLICY_SCHEMA_FILE = fileURLToPath(new URL('../policy.schema.json', import.meta.url));

export function renderPolicySchema(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}

function main(): void {
  const text = renderPolicySchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(POLICY_SCHEMA_FILE, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error('policy.schema.json is stale: run `npx tsx scripts/gen-policy-schema.ts`');
      process.exit(1);
    }
    console.log('policy.schema.json is up to date');
    return;
  }
  writeFileSync(POLICY_SCHEMA_FILE, text);
  console.log(`wrote ${POLICY_SCHEMA_FILE}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
