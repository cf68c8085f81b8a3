// The real `terraform validate` and `terraform fmt` (Terraform 1.11, preinstalled) over
// infra/, against the google and archive providers' real schemas, at the lowest and the
// highest provider releases infra/versions.tf admits that have a schema package.
//
// No provider binary and no Terraform registry are reachable, so the providers are served
// by test/support/terraform/schema-provider.ts (tfplugin6 over gRPC on loopback, reattached
// with TF_REATTACH_PROVIDERS, which `terraform init` skips installing) from the schemas of
// the CDKTF packages on npm (scripts/prepare-provider-schemas.ts caches them outside the
// repo). Without a cached schema the test fails and names the command that fetches it.
// Negative controls: an unknown argument, a missing required argument, a wrong type, a bad
// attribute reference and an unformatted file must each be reported.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { boundsFor, derivedSchemaFile, satisfies, validationSets, type SchemaPackage } from '../support/terraform/schema-cache.js';
import type { ProviderSchema, TfBlock } from '../support/terraform/jsii-schema.js';

const root = join(import.meta.dirname, '..', '..');
const TERRAFORM = process.env['TERRAFORM'] ?? 'terraform';
const PROVIDER_SCRIPT = join(root, 'test', 'support', 'terraform', 'schema-provider.ts');

interface Diagnostic {
  severity: string;
  summary: string;
  detail: string;
}
interface ValidateResult {
  valid: boolean;
  diagnostics: Diagnostic[];
}

/** A running schema-only provider process (stopped by its PID). */
interface Providers {
  child: ChildProcess;
  reattach: string;
}

async function startProviders(packages: readonly SchemaPackage[]): Promise<Providers> {
  const files = packages.map((p) => derivedSchemaFile(p));
  const child = spawn(process.execPath, ['--import', 'tsx', PROVIDER_SCRIPT, '--exit-with-stdin', ...files], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += String(d)));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`schema provider exited ${code} before serving: ${stderr}`)));
    child.once('error', reject);
  });
  const reattach = JSON.parse(line) as Record<string, { Pid: number }>;
  for (const p of packages) assert.ok(reattach[p.source], `provider serves ${p.source}`);
  return { child, reattach: line };
}

function stopProviders(p: Providers | undefined): void {
  if (p?.child.pid !== undefined && p.child.exitCode === null) process.kill(p.child.pid, 'SIGTERM');
}

/** A scratch Terraform home: CLI config without checkpoint calls, nothing inherited. */
async function terraformEnv(reattach: string): Promise<NodeJS.ProcessEnv> {
  const home = await mkdtemp(join(tmpdir(), 'scc-tf-home-'));
  await writeFile(join(home, 'terraformrc'), 'disable_checkpoint = true\n');
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TF_CLI_CONFIG_FILE: join(home, 'terraformrc'),
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    TF_REATTACH_PROVIDERS: reattach,
  };
}

function terraform(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TERRAFORM, ['-chdir=' + cwd, ...args], { encoding: 'utf8', env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing ? `${TERRAFORM} not found on PATH: the image ships Terraform 1.11 at /usr/local/bin/terraform` : `${TERRAFORM}: ${r.error.message}`);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A scratch copy of infra/ (extra files added, `edit` applied to the .tf text), initialised
 * with `terraform init`, handed to `use`, then removed.
 */
async function withInitialisedCopy<T>(
  env: NodeJS.ProcessEnv,
  use: (dir: string) => T,
  extra: Record<string, string> = {},
  edit?: (file: string, text: string) => string,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'scc-tf-infra-'));
  try {
    await cp(join(root, 'infra'), dir, { recursive: true, filter: (src) => !src.includes('.terraform') });
    if (edit) {
      for (const f of (await readdir(dir)).filter((x) => x.endsWith('.tf'))) await writeFile(join(dir, f), edit(f, await readFile(join(dir, f), 'utf8')));
    }
    for (const [name, text] of Object.entries(extra)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    const init = terraform(['init', '-input=false', '-backend=false', '-no-color'], dir, env);
    assert.equal(init.status, 0, `terraform init failed:\n${init.stdout}\n${init.stderr}`);
    return use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function validateCopy(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Promise<ValidateResult> {
  return withInitialisedCopy(env, (dir) => JSON.parse(terraform(['validate', '-json', '-no-color'], dir, env).stdout) as ValidateResult, extra);
}

/** `terraform test` with test/support/terraform/infra-plan.tftest.hcl over a copy of infra/. */
async function planTests(env: NodeJS.ProcessEnv, edit?: (file: string, text: string) => string, onlyRun?: string): Promise<{ status: number | null; output: string }> {
  let tftest = await readFile(join(root, 'test', 'support', 'terraform', 'infra-plan.tftest.hcl'), 'utf8');
  if (onlyRun !== undefined) {
    // The providers and variables, and that one run block (each plan costs seconds).
    const run = new RegExp(`\\nrun "${onlyRun}" \\{[\\s\\S]*?\\n\\}\\n`).exec(tftest);
    assert.ok(run, `fixture: run "${onlyRun}" in infra-plan.tftest.hcl`);
    tftest = tftest.slice(0, tftest.indexOf('\nrun "')) + run[0];
  }
  return withInitialisedCopy(
    env,
    (dir) => {
      // source_dir: a tree with policies/default.yaml (the repository root) for the filter locals.
      const r = terraform(['test', '-no-color', `-var=source_dir=${root}`], dir, env);
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    },
    { 'tests/infra-plan.tftest.hcl': tftest },
    edit,
  );
}

const summaries = (r: ValidateResult): string => r.diagnostics.map((d) => `${d.severity}: ${d.summary}: ${d.detail}`).join('\n') || '(no diagnostics)';

function assertRejected(r: ValidateResult, summary: string, detail: RegExp): void {
  assert.equal(r.valid, false, `validate accepted the broken configuration:\n${summaries(r)}`);
  assert.ok(
    r.diagnostics.some((d) => d.severity === 'error' && d.summary === summary && detail.test(d.detail)),
    `expected an error "${summary}" matching ${detail}, got:\n${summaries(r)}`,
  );
}

const versionsTf = join(root, 'infra', 'versions.tf');

describe('provider schema packages against infra/versions.tf', () => {
  test('the lowest and highest admitted google and archive releases with a schema are picked', async () => {
    const sets = await validationSets(versionsTf);
    const versions = sets.map((s) => s.packages.map((p) => `${p.source.split('/').pop()} ${p.providerVersion}`).sort());
    assert.deepEqual(versions, [
      ['archive 2.4.0', 'google 6.1.0'],
      ['archive 2.7.1', 'google 6.50.0'],
    ]);
    // 5.43.1 has a package but is outside ">= 6.0": a constraint change moves the bounds.
    assert.equal(boundsFor('registry.terraform.io/hashicorp/google', '>= 5.0, < 8.0').lowest.providerVersion, '5.43.1');
    assert.throws(() => boundsFor('registry.terraform.io/hashicorp/google', '>= 7.0'), /no recorded schema package/);
    assert.equal(satisfies('6.50.0', '~> 6.1'), true);
    assert.equal(satisfies('7.0.0', '~> 6.1'), false);
    assert.equal(satisfies('6.1.5', '~> 6.1.2'), true);
    assert.equal(satisfies('6.2.0', '~> 6.1.2'), false);
  });

  test('the converted schema carries what validation relies on (arguments, required, computed, blocks)', async () => {
    const { highest } = boundsFor('registry.terraform.io/hashicorp/google', '>= 6.0, < 8.0');
    const schema = JSON.parse(await readFile(derivedSchemaFile(highest), 'utf8')) as ProviderSchema;
    const attr = (b: TfBlock | undefined, name: string) => b?.attributes.find((a) => a.name === name);
    const nested = (b: TfBlock | undefined, name: string) => b?.blockTypes.find((x) => x.typeName === name);
    const sub = schema.resources['google_pubsub_subscription'];
    assert.equal(attr(sub, 'topic')?.required, true);
    assert.deepEqual(attr(sub, 'ack_deadline_seconds')?.type, 'number');
    assert.deepEqual(attr(sub, 'labels')?.type, ['map', 'string']);
    assert.equal(attr(schema.resources['google_service_account'], 'email')?.computed, true);
    const bucket = schema.resources['google_storage_bucket'];
    assert.equal(nested(bucket, 'lifecycle_rule')?.maxItems, 0, 'repeated block');
    assert.equal(nested(bucket, 'versioning')?.maxItems, 1, 'single block');
    assert.equal(attr(nested(schema.resources['google_cloudfunctions2_function'], 'event_trigger')?.block, 'trigger')?.computed, true, 'computed attribute inside a block');
    assert.ok(schema.dataSources['google_storage_project_service_account'], 'data source present');
    assert.ok(attr(schema.provider, 'project'), 'provider configuration');
    assert.ok(Object.keys(schema.resources).length > 1000);
  });
});

describe('terraform fmt', () => {
  test('infra/ is formatted (terraform fmt -check -recursive)', () => {
    const r = terraform(['fmt', '-check', '-recursive', '-diff', '-no-color'], join(root, 'infra'), { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CHECKPOINT_DISABLE: '1' });
    assert.equal(r.status, 0, `terraform fmt would change:\n${r.stdout}${r.stderr}`);
  });

  test('negative control: an unformatted file is reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scc-tf-fmt-'));
    try {
      await writeFile(join(dir, 'bad.tf'), 'variable "x" {\ntype=string\n    default   = "a"\n}\n');
      const r = terraform(['fmt', '-check', '-recursive', '-no-color'], dir, { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CHECKPOINT_DISABLE: '1' });
      assert.notEqual(r.status, 0);
      assert.match(r.stdout, /bad\.tf/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

for (const bound of ['lowest', 'highest'] as const) {
  describe(`terraform validate, ${bound} admitted provider schemas`, () => {
    let providers: Providers | undefined;
    let env: NodeJS.ProcessEnv = {};
    let label = '';

    before(async () => {
      const set = (await validationSets(versionsTf)).find((s) => s.label === bound);
      assert.ok(set, `a ${bound} provider set`);
      label = set.packages.map((p) => `${p.source} ${p.providerVersion}`).join(', ');
      providers = await startProviders(set.packages);
      env = await terraformEnv(providers.reattach);
    });
    after(async () => {
      stopProviders(providers);
      if (env['HOME']) await rm(env['HOME'], { recursive: true, force: true });
    });

    test('infra/ is valid', async () => {
      const r = await validateCopy(env);
      assert.equal(r.valid, true, `terraform validate (${label}):\n${summaries(r)}`);
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.summary), [], `warnings (${label})`);
    });

    if (bound !== 'highest') return;

    test('negative control: an unknown argument', async () => {
      const r = await validateCopy(env, { 'negative.tf': 'resource "google_pubsub_topic" "negative" {\n  name          = "n"\n  not_an_option = true\n}\n' });
      assertRejected(r, 'Unsupported argument', /"not_an_option"/);
    });

    test('negative control: a missing required argument', async () => {
      const r = await validateCopy(env, { 'negative.tf': 'resource "google_pubsub_subscription" "negative" {\n  name = "n"\n}\n' });
      assertRejected(r, 'Missing required argument', /"topic" is required/);
    });

    test('negative control: a wrong type', async () => {
      const r = await validateCopy(env, {
        'negative.tf': 'resource "google_pubsub_subscription" "negative" {\n  name                 = "n"\n  topic                = google_pubsub_topic.findings.id\n  ack_deadline_seconds = "sixty"\n}\n',
      });
      assertRejected(r, 'Incorrect attribute value type', /"ack_deadline_seconds": a number is required/);
    });

    test('negative control: a reference to an attribute the resource does not have', async () => {
      const r = await validateCopy(env, { 'negative.tf': 'output "negative" {\n  value = google_service_account.responder.mail\n}\n' });
      assertRejected(r, 'Unsupported attribute', /named "mail"/);
    });

    test('terraform test: plans with mocked providers accept the defaults and reject bad variables', async () => {
      const r = await planTests(env);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /Success! \d+ passed, 0 failed/);
      for (const run of ['defaults_plan', 'service_account_id_too_long_for_trigger', 'mark_key_with_dash', 'mark_key_leading_digit']) {
        assert.match(r.output, new RegExp(`run "${run}"\\.\\.\\. pass`), run);
      }
    });

    test('negative control: without the service_account_id validation, terraform test fails', async () => {
      const r = await planTests(env, (file, text) => {
        if (file !== 'variables.tf') return text;
        const cut = text.replace(/(variable "service_account_id" \{[\s\S]*?)\n {2}validation \{[\s\S]*?\n {2}\}\n\}/, '$1\n}');
        assert.notEqual(cut, text, 'fixture: the validation block was removed');
        return cut;
      }, 'service_account_id_too_long_for_trigger');
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /run "service_account_id_too_long_for_trigger"\.\.\. fail/);
    });
  });
}
