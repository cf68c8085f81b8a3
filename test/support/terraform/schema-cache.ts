// Which provider schemas `terraform validate` runs against, and where they are kept.
//
// The schemas come from the prebuilt CDKTF bindings on the npm registry (the Terraform
// registry and provider binaries are out of reach here). SCHEMA_PACKAGES records which npm
// release was generated from which provider release (the package's own
// package.json `cdktf.provider.version`, checked again when it is fetched); the test runs
// against the lowest and the highest of them that infra/versions.tf admits.
//
// Cache (outside the repository): $SCC_PROVIDER_SCHEMA_CACHE, default
// ~/.cache/scc-responder/provider-schemas/
//   <npm name>@<version>/package/.jsii, package.json   extracted by scripts/prepare-provider-schemas.ts
//   derived/<provider>-<version>-<converter hash>.json  the converted schema (jsii-schema.ts)
// The derived file's name carries a hash of the converter, so a change to the converter
// re-derives instead of serving a stale schema.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { schemaFromJsii, type JsiiAssembly } from './jsii-schema.js';

export interface SchemaPackage {
  /** Provider source address as Terraform spells it. */
  source: string;
  providerVersion: string;
  npmName: string;
  npmVersion: string;
}

const GOOGLE = 'registry.terraform.io/hashicorp/google';
const ARCHIVE = 'registry.terraform.io/hashicorp/archive';

/** npm releases and the provider release each was generated from (npm view <pkg>@<v> cdktf.provider). */
export const SCHEMA_PACKAGES: readonly SchemaPackage[] = [
  { source: GOOGLE, providerVersion: '5.43.1', npmName: '@cdktf/provider-google', npmVersion: '13.32.1' },
  { source: GOOGLE, providerVersion: '6.1.0', npmName: '@cdktf/provider-google', npmVersion: '14.0.0' },
  { source: GOOGLE, providerVersion: '6.50.0', npmName: '@cdktf/provider-google', npmVersion: '16.12.1' },
  { source: ARCHIVE, providerVersion: '2.4.0', npmName: '@cdktf/provider-archive', npmVersion: '9.0.0' },
  { source: ARCHIVE, providerVersion: '2.7.1', npmName: '@cdktf/provider-archive', npmVersion: '11.0.1' },
];

// ------------------------------------------------------------------ version constraints

function parts(v: string): number[] {
  const nums = v.trim().split('.').map((x) => Number(x));
  if (nums.length === 0 || nums.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`not a version: ${JSON.stringify(v)}`);
  return nums;
}

export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Terraform's version constraint syntax (`>= 6.0, < 8.0`, `~> 6.1`, `= 6.2.0`, `!= 6.3.0`). */
export function satisfies(version: string, constraint: string): boolean {
  return constraint.split(',').every((raw) => {
    const m = /^\s*(>=|<=|>|<|=|!=|~>)?\s*([0-9][0-9.]*)\s*$/.exec(raw);
    if (!m) throw new Error(`unsupported version constraint ${JSON.stringify(raw)} in ${JSON.stringify(constraint)}`);
    const op = m[1] ?? '=';
    const bound = m[2] as string;
    const c = compareVersions(version, bound);
    if (op === '~>') {
      // ~> 6.1 allows 6.x >= 6.1; ~> 6.1.2 allows 6.1.x >= 6.1.2: all but the last part fixed.
      const fixed = parts(bound).slice(0, -1);
      return c >= 0 && fixed.every((n, i) => parts(version)[i] === n);
    }
    return { '>=': c >= 0, '<=': c <= 0, '>': c > 0, '<': c < 0, '=': c === 0, '!=': c !== 0 }[op] as boolean;
  });
}

/** The lowest and highest recorded schema packages a constraint admits, for one provider. */
export function boundsFor(source: string, constraint: string, table: readonly SchemaPackage[] = SCHEMA_PACKAGES): { lowest: SchemaPackage; highest: SchemaPackage } {
  const admitted = table.filter((p) => p.source === source && satisfies(p.providerVersion, constraint)).sort((a, b) => compareVersions(a.providerVersion, b.providerVersion));
  const lowest = admitted[0];
  const highest = admitted[admitted.length - 1];
  if (!lowest || !highest) throw new Error(`no recorded schema package for ${source} satisfies ${JSON.stringify(constraint)} (SCHEMA_PACKAGES in test/support/terraform/schema-cache.ts)`);
  return { lowest, highest };
}

// ------------------------------------------------------------------ cache

export function cacheDir(): string {
  return process.env['SCC_PROVIDER_SCHEMA_CACHE'] ?? join(homedir(), '.cache', 'scc-responder', 'provider-schemas');
}

export function packageDir(pkg: SchemaPackage, dir: string = cacheDir()): string {
  return join(dir, `${pkg.npmName.replace('/', '+')}@${pkg.npmVersion}`);
}

export function hasPackage(pkg: SchemaPackage, dir: string = cacheDir()): boolean {
  const p = packageDir(pkg, dir);
  return existsSync(join(p, 'package', '.jsii')) && existsSync(join(p, 'package', 'package.json'));
}

/** Hash of the converter source: part of the derived file's name. */
function converterHash(): string {
  return createHash('sha256').update(readFileSync(join(import.meta.dirname, 'jsii-schema.ts'))).digest('hex').slice(0, 12);
}

function derivedName(pkg: SchemaPackage): string {
  return `${pkg.source.replace(/[^A-Za-z0-9]+/g, '_')}-${pkg.providerVersion}`;
}

export const PREPARE_COMMAND = 'npx tsx scripts/prepare-provider-schemas.ts';

/**
 * The converted schema of a cached package (derived from the .jsii when missing or made by
 * another converter). Throws, naming the prepare command, when the package is not cached:
 * the validation test must fail, never skip, without its schema.
 */
export function derivedSchemaFile(pkg: SchemaPackage, dir: string = cacheDir()): string {
  const derivedDir = join(dir, 'derived');
  const file = join(derivedDir, `${derivedName(pkg)}-${converterHash()}.json`);
  if (existsSync(file)) return file;
  if (!hasPackage(pkg, dir)) {
    throw new Error(
      `provider schema ${pkg.source} ${pkg.providerVersion} (npm ${pkg.npmName}@${pkg.npmVersion}) is not in the cache ${dir}: ` +
        `run \`${PREPARE_COMMAND}\` (it fetches the package from the npm registry; .ci/run and npm test do this first)`,
    );
  }
  const base = join(packageDir(pkg, dir), 'package');
  const packageJson = JSON.parse(readFileSync(join(base, 'package.json'), 'utf8')) as { cdktf?: { provider?: { name?: string; version?: string } } };
  const schema = schemaFromJsii(JSON.parse(readFileSync(join(base, '.jsii'), 'utf8')) as JsiiAssembly, packageJson);
  if (schema.source !== pkg.source || schema.version !== pkg.providerVersion) {
    throw new Error(`${pkg.npmName}@${pkg.npmVersion} was generated from ${schema.source} ${schema.version}, not ${pkg.source} ${pkg.providerVersion}: fix SCHEMA_PACKAGES`);
  }
  mkdirSync(derivedDir, { recursive: true });
  for (const old of readdirSync(derivedDir)) if (old.startsWith(`${derivedName(pkg)}-`)) rmSync(join(derivedDir, old), { force: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(schema));
  renameSync(tmp, file);
  return file;
}

/** `required_providers` of a configuration's versions.tf: source address -> version constraint. */
export async function requiredProviders(versionsTf: string): Promise<Record<string, string>> {
  const { parse } = await import('@cdktn/hcl2json');
  const json = (await parse('versions.tf', readFileSync(versionsTf, 'utf8'))) as { terraform?: { required_providers?: Record<string, { source?: string; version?: string }>[] }[] };
  const out: Record<string, string> = {};
  for (const block of json.terraform ?? []) {
    for (const providers of block.required_providers ?? []) {
      for (const [name, req] of Object.entries(providers)) {
        if (!req.source || !req.version) throw new Error(`${versionsTf}: required_providers.${name} needs source and version`);
        out[`registry.terraform.io/${req.source}`] = req.version;
      }
    }
  }
  return out;
}

/**
 * The provider sets to validate against: every provider at its lowest admitted schema, then
 * every provider at its highest (deduplicated when both are the same).
 */
export async function validationSets(versionsTf: string): Promise<{ label: string; packages: SchemaPackage[] }[]> {
  const required = await requiredProviders(versionsTf);
  const bounds = Object.entries(required).map(([source, constraint]) => boundsFor(source, constraint));
  const sets = [
    { label: 'lowest', packages: bounds.map((b) => b.lowest) },
    { label: 'highest', packages: bounds.map((b) => b.highest) },
  ];
  return sets[0]?.packages.every((p, i) => p === sets[1]?.packages[i]) ? sets.slice(0, 1) : sets;
}
