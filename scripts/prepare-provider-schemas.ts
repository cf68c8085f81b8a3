// Fetches the provider schemas `terraform validate` runs against (test/integration/
// terraform-validate.test.ts) into the cache outside the repository, from the npm registry
// only: `npm pack` of the CDKTF package, then only `package/.jsii` and `package/package.json`
// are extracted (the tarball and the rest of the ~99 MB package are dropped) and the schema
// is converted once. Idempotent; a cached package is not fetched again.
//
//   npx tsx scripts/prepare-provider-schemas.ts     # .ci/run and scripts/run-tests.mjs run it
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, derivedSchemaFile, hasPackage, packageDir, validationSets, type SchemaPackage } from '../test/support/terraform/schema-cache.js';

function run(cmd: string, args: readonly string[], cwd: string): string {
  // npm must not inherit a test runner's NODE_OPTIONS (tsx, network guard).
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

function fetchPackage(pkg: SchemaPackage, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(dir, '.fetch-'));
  try {
    run('npm', ['pack', `${pkg.npmName}@${pkg.npmVersion}`, '--pack-destination', tmp, '--loglevel=error'], tmp);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${pkg.npmName}@${pkg.npmVersion} produced no tarball`);
    const target = packageDir(pkg, dir);
    const staging = join(tmp, 'extract');
    mkdirSync(staging);
    run('tar', ['-xzf', join(tmp, tgz), '-C', staging, 'package/.jsii', 'package/package.json'], tmp);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    run('mv', [join(staging, 'package'), join(target, 'package')], tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const root = join(import.meta.dirname, '..');
  const dir = cacheDir();
  const started = Date.now();
  const sets = await validationSets(join(root, 'infra', 'versions.tf'));
  const packages = [...new Set(sets.flatMap((s) => s.packages))];
  for (const pkg of packages) {
    const t = Date.now();
    const cached = hasPackage(pkg, dir);
    if (!cached) fetchPackage(pkg, dir);
    derivedSchemaFile(pkg, dir);
    console.log(`prepare-provider-schemas: ${pkg.source} ${pkg.providerVersion} (${pkg.npmName}@${pkg.npmVersion}) ${cached ? 'cached' : 'fetched'}, ready in ${Date.now() - t} ms`);
  }
  console.log(`prepare-provider-schemas: ${packages.length} schema(s) in ${dir}, ${Date.now() - started} ms`);
}

main().catch((error: unknown) => {
  console.error(`prepare-provider-schemas: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
