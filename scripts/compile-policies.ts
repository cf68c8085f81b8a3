// Deploy step (infra/scripts/stage-function.sh): writes `<file>.compiled.json` beside every
// policy file in a directory, so a new function instance validates the policy's data instead
// of parsing its YAML (shared/policy/compiled.ts says why and when the sidecar is used).
// An invalid policy gets no sidecar (the function then reports its errors with line numbers).
// Usage: node --import tsx scripts/compile-policies.ts <policies dir>
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPILED_POLICY_SUFFIX, compilePolicy } from '../shared/policy/compiled.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: compile-policies <policies dir>\n');
  process.exit(2);
}
let written = 0;
for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  const file = path.join(dir, name);
  const compiled = compilePolicy(readFileSync(file, 'utf8'));
  if (compiled === undefined) {
    process.stderr.write(`compile-policies: ${file} is not a valid policy: no sidecar (\`npm run cli -- policy check ${file}\` shows why)\n`);
    continue;
  }
  writeFileSync(`${file}${COMPILED_POLICY_SUFFIX}`, compiled);
  written += 1;
}
process.stdout.write(`compile-policies: ${written} policies compiled in ${dir}\n`);
