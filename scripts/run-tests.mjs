// Runs every test file under test/ with node's test runner (whose closing lines CI reads).
// Each test process loads tsx and the network guard through NODE_OPTIONS, so a child the
// runner spawns inherits both, and Google clients are kept off the metadata server.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const only = process.argv.slice(2);
const files = only.length > 0 ? only : globSync('test/**/*.test.ts').sort();
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
// The terraform validation test needs the provider schemas in the cache outside the repo;
// fetch them first (npm registry only, like npm ci), so `npm test` works on a clean clone.
// A failure here is not fatal: the test itself then fails and says what is missing.
if (files.some((f) => f.includes('terraform-validate') || f.includes('terraform-plan'))) {
  const prep = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-provider-schemas.ts'], { stdio: 'inherit' });
  if (prep.status !== 0) console.error('run-tests: preparing provider schemas failed; the terraform validation test will fail');
}
const env = {
  ...process.env,
  METADATA_SERVER_DETECTION: 'none',
  GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/scc-responder-test-credentials.json',
  GOOGLE_CLOUD_PROJECT: 'scc-responder-test',
  NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', '--import tsx', '--import ./test/support/network-guard.ts'].join(' ').trim(),
};
const result = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`, '--test-timeout=120000', ...files],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
