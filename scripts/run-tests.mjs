// Runs every test file under test/ with node's test runner (whose closing lines CI reads).
// Each test process loads tsx and the network guard through NODE_OPTIONS, so a child the
// runner spawns inherits both, and Google clients are kept off the metadata server.
//
// The TAP output is passed through as it comes, except node's closing summary (`# tests N`,
// `# pass N`, `# fail N`, ...): that is held back until the list of failed tests (file:line
// and the test's path through its suites) has been printed, so a 5,000-line run ends with
// what failed and the summary stays the last thing CI reads.
import { spawn, spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { createInterface } from 'node:readline';

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
// The BusyBox contract test runs the real BusyBox (apt-get download into ~/.cache, no root).
if (files.some((f) => f.includes('busybox-proc'))) {
  const prep = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-busybox.ts'], { stdio: 'inherit' });
  if (prep.status !== 0) console.error('run-tests: fetching busybox-static failed; the BusyBox contract test will fail');
}
const env = {
  ...process.env,
  METADATA_SERVER_DETECTION: 'none',
  GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/scc-responder-test-credentials.json',
  GOOGLE_CLOUD_PROJECT: 'scc-responder-test',
  NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', '--import tsx', '--import ./test/support/network-guard.ts'].join(' ').trim(),
};

/**
 * Collects failed tests from TAP lines. Node prints a test's subtests before the test's own
 * `not ok`, so a failure seen at a shallower depth adopts the deeper ones printed before it
 * (the suite that failed because a subtest did) instead of being listed itself.
 */
function createFailureCollector() {
  /** @type {{ path: string[]; depth: number; location?: string; error?: string }[]} */
  const failures = [];
  /** @type {{ depth: number; location?: string; error?: string } | undefined} */
  let open;
  return {
    line(text) {
      const notOk = /^( *)not ok \d+ - (.*)$/.exec(text);
      if (notOk) {
        const depth = notOk[1].length / 4;
        const name = notOk[2].replace(/ # (?:SKIP|TODO)\b.*$/i, '');
        open = undefined;
        if (/ # TODO\b/i.test(notOk[2])) return; // an expected failure
        const children = failures.filter((f) => f.depth > depth);
        if (children.length > 0) {
          for (const f of children) {
            f.path.unshift(name);
            f.depth = depth;
          }
          return;
        }
        const entry = { path: [name], depth };
        failures.push(entry);
        open = entry;
        return;
      }
      if (!open) return;
      const location = /^\s+location: '(.*)'$/.exec(text);
      // The file (tsx compiles each file to one line, so line:column say little).
      if (location) open.location = location[1].replace(`${process.cwd()}/`, '').replace(/(?::\d+)+$/, '');
      const error = /^\s+error: '(.*)'$/.exec(text);
      if (error && open.error === undefined) open.error = error[1];
      if (/^\s+\.\.\.$/.test(text)) open = undefined;
    },
    failures: () => failures,
  };
}

function failureLines(failures) {
  if (failures.length === 0) return ['# Failed tests: none'];
  return [
    `# Failed tests (${failures.length}):`,
    ...failures.map((f) => `#   ${f.location ?? '?'}  ${f.path.join(' > ')}${f.error ? `  (${f.error.slice(0, 160)})` : ''}`),
  ];
}

const child = spawn(
  process.execPath,
  // The per-test timeout also bounds each file; big snapshot files take minutes when every
  // core is busy, so it only catches a hang (TEST_TIMEOUT_MS changes it).
  ['--test', '--test-reporter=tap', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`, `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? '600000'}`, ...files],
  { stdio: ['inherit', 'pipe', 'inherit'], env },
);
const collector = createFailureCollector();
const held = [];
const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
lines.on('line', (line) => {
  collector.line(line);
  // Node's closing summary: top-level comment lines from `# tests N` on.
  if (held.length > 0 || /^# tests \d+$/.test(line)) held.push(line);
  else process.stdout.write(`${line}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await new Promise((resolve) => (lines.closed ? resolve() : lines.once('close', resolve)));
process.stdout.write(`${[...failureLines(collector.failures()), ...held].join('\n')}\n`);
process.exitCode = status;
