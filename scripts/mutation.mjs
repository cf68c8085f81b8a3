// `npm run mutation [-- MODULE ...]`: StrykerJS over the safety-critical modules, one module
// group at a time, concurrency 1 (CPU-heavy; the machines are shared). Not part of CI.
// Each group names the modules it mutates and the test files that judge them: Stryker's
// per-test coverage then runs only the files that reach a mutant. Reports land in
// reports/mutation/<group>.html (+ .json); the console prints the score per file.
// Tests get the same environment as scripts/run-tests.mjs (tsx, the network guard, no
// metadata server), passed to each test process through Stryker's tap runner (a node:test
// file run directly prints TAP). Why StrykerJS: maintained, TypeScript-aware instrumenter,
// per-test-file coverage so each mutant runs only the files that reach it; the tap runner
// fits node:test without a second test framework.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

const GROUPS = {
  ledger: {
    mutate: ['shared/ledger/layout.ts', 'shared/ledger/json.ts', 'shared/ledger/keys.ts'],
    tests: ['test/unit/ledger-layout.test.ts', 'test/unit/ledger-json.test.ts', 'test/unit/evidence-keys.test.ts', 'test/unit/record-idempotency.test.ts'],
  },
  limiter: {
    mutate: ['shared/contain/limiter.ts'],
    tests: ['test/unit/contain-limiter.test.ts', 'test/integration/contain-limit-local.test.ts'],
  },
  errors: {
    mutate: ['shared/common/errors.ts'],
    tests: ['test/unit/common-errors.test.ts', 'test/unit/evidence-exec-outcome.test.ts', 'test/unit/record-idempotency.test.ts', 'test/unit/contain-executor.test.ts', 'test/unit/record-marks.test.ts'],
  },
  guards: {
    mutate: ['shared/contain/guards.ts'],
    tests: ['test/unit/contain-guards.test.ts', 'test/unit/contain-executor.test.ts'],
  },
  redaction: {
    mutate: ['shared/finding/redact.ts', 'shared/record/scrub.ts'],
    tests: ['test/unit/finding-redact.test.ts', 'test/unit/redact-prefilter.test.ts', 'test/unit/record-scrub.test.ts'],
  },
  decide: {
    mutate: ['shared/policy/decide.ts'],
    tests: ['test/unit/policy-decide.test.ts', 'test/unit/policy-screen.test.ts', 'test/unit/policy-load.test.ts'],
  },
};

const asked = process.argv.slice(2);
const names = asked.length > 0 ? asked : Object.keys(GROUPS);
const unknown = names.filter((n) => !(n in GROUPS));
if (unknown.length > 0) {
  console.error(`mutation: unknown group(s) ${unknown.join(', ')}; known: ${Object.keys(GROUPS).join(', ')}`);
  process.exit(2);
}
const env = {
  ...process.env,
  METADATA_SERVER_DETECTION: 'none',
  GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/scc-responder-test-credentials.json',
  GOOGLE_CLOUD_PROJECT: 'scc-responder-test',
};
let failed = 0;
for (const name of names) {
  const group = GROUPS[name];
  const tests = group.tests.filter((t) => existsSync(t));
  const config = {
    $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    plugins: ['@stryker-mutator/tap-runner'],
    testRunner: 'tap',
    coverageAnalysis: 'perTest',
    concurrency: 1,
    timeoutMS: 30_000,
    mutate: group.mutate,
    tap: {
      testFiles: tests,
      nodeArgs: ['--test-reporter=tap', '--import', 'tsx', '--import', './test/support/network-guard.ts', '-r', '{{hookFile}}', '{{testFile}}'],
    },
    reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
    tempDirName: '.stryker-tmp',
    cleanTempDir: true,
  };
  mkdirSync('.stryker-tmp', { recursive: true });
  const file = `.stryker-tmp/stryker.${name}.conf.json`;
  writeFileSync(file, JSON.stringify(config, null, 2));
  console.log(`mutation: ${name}: ${group.mutate.join(', ')} judged by ${tests.length} test files`);
  const r = spawnSync(process.execPath, ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', file], { stdio: 'inherit', env });
  if (r.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
