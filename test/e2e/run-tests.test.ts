// `npm test`'s runner ends its output with the list of failed tests, and node's closing
// summary (`# tests N` ... `# fail N`) still comes last, where CI reads it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const SAMPLE = 'test/fixtures/run-tests/failing.sample.ts';
// A runner started from inside a test file must not think it is one of this run's children.
const env = { ...process.env };
delete env['NODE_TEST_CONTEXT'];

test('a failing run ends with the failed tests (suite path, file, error), then the summary', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', SAMPLE], { encoding: 'utf8', timeout: 170_000, env });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const start = lines.indexOf('# Failed tests (3):');
  assert.ok(start > 0, r.stdout.slice(-2000));
  assert.deepEqual(lines.slice(start + 1, start + 4), [
    `#   ${SAMPLE}  outer suite > inner suite > a failing leaf`,
    `#   ${SAMPLE}  outer suite > a throwing test  (boom)`,
    `#   ${SAMPLE}  a top-level failure`,
  ]);
  const summary = lines.slice(start + 4);
  assert.equal(summary[0], '# tests 5');
  assert.ok(summary.includes('# pass 1') && summary.includes('# fail 3') && summary.includes('# todo 1'), summary.join('\n'));
  assert.match(summary.at(-1) ?? '', /^# duration_ms /);
  assert.equal(lines.filter((l) => /^# tests \d+$/.test(l)).length, 1, 'the summary once, at the end');
});

test('a passing run says so before the summary (negative control for the list)', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/unit/version.test.ts'], { encoding: 'utf8', timeout: 170_000, env });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const at = lines.indexOf('# Failed tests: none');
  assert.ok(at > 0);
  assert.match(lines[at + 1] ?? '', /^# tests \d+$/);
  assert.ok(lines.includes('# fail 0'));
});
