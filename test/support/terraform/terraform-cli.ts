// Running the real Terraform against the schema-only providers (schema-provider.ts), for
// test/integration/terraform-validate.test.ts and terraform-plan.test.ts: start and stop the
// provider process, a scratch Terraform home, and initialised scratch copies of infra/.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { derivedSchemaFile, type SchemaPackage } from './schema-cache.js';

export const root = join(import.meta.dirname, '..', '..', '..');
const TERRAFORM = process.env['TERRAFORM'] ?? 'terraform';
const PROVIDER_SCRIPT = join(root, 'test', 'support', 'terraform', 'schema-provider.ts');

export interface Diagnostic {
  severity: string;
  summary: string;
  detail: string;
}
export interface ValidateResult {
  valid: boolean;
  diagnostics: Diagnostic[];
}

/** A running schema-only provider process (stopped by its PID). */
export interface Providers {
  child: ChildProcess;
  reattach: string;
}

export async function startProviders(packages: readonly SchemaPackage[]): Promise<Providers> {
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

export function stopProviders(p: Providers | undefined): void {
  if (p?.child.pid !== undefined && p.child.exitCode === null) process.kill(p.child.pid, 'SIGTERM');
}

/** Starts the providers of one validation set and a scratch Terraform home; `close` undoes both. */
export async function terraformSession(packages: readonly SchemaPackage[]): Promise<{ env: NodeJS.ProcessEnv; close: () => Promise<void> }> {
  const providers = await startProviders(packages);
  const env = await terraformEnv(providers.reattach);
  return {
    env,
    close: async () => {
      stopProviders(providers);
      if (env['HOME']) await rm(env['HOME'], { recursive: true, force: true });
    },
  };
}

/** A scratch Terraform home: CLI config without checkpoint calls, nothing inherited. */
export async function terraformEnv(reattach: string): Promise<NodeJS.ProcessEnv> {
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

export function terraform(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
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
export async function withInitialisedCopy<T>(
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

export async function validateCopy(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Promise<ValidateResult> {
  return withInitialisedCopy(env, (dir) => JSON.parse(terraform(['validate', '-json', '-no-color'], dir, env).stdout) as ValidateResult, extra);
}

/** `terraform test` with test/support/terraform/infra-plan.tftest.hcl over a copy of infra/. */
export async function planTests(env: NodeJS.ProcessEnv, edit?: (file: string, text: string) => string, onlyRun?: string): Promise<{ status: number | null; output: string }> {
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

