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
// attribute reference and an unformatted file must each be reported. (terraform test with
// mocked providers: terraform-plan.test.ts.)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundsFor, derivedSchemaFile, satisfies, validationSets } from '../support/terraform/schema-cache.js';
import type { ProviderSchema, TfBlock } from '../support/terraform/jsii-schema.js';
import { root, terraform, terraformSession, validateCopy, type ValidateResult } from '../support/terraform/terraform-cli.js';

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
    let session: Awaited<ReturnType<typeof terraformSession>> | undefined;
    let label = '';

    before(async () => {
      const set = (await validationSets(versionsTf)).find((s) => s.label === bound);
      assert.ok(set, `a ${bound} provider set`);
      label = set.packages.map((p) => `${p.source} ${p.providerVersion}`).join(', ');
      session = await terraformSession(set.packages);
    });
    after(() => session?.close());

    test('infra/ is valid', async () => {
      assert.ok(session);
      const r = await validateCopy(session.env);
      assert.equal(r.valid, true, `terraform validate (${label}):\n${summaries(r)}`);
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.summary), [], `warnings (${label})`);
    });

    if (bound !== 'highest') return;

    // One copy carries the four broken constructs (separate files, independent of each
    // other): Terraform reports every one of them, and each test requires its own error.
    let broken: ValidateResult | undefined;
    const negatives = async (): Promise<ValidateResult> => {
      assert.ok(session);
      broken ??= await validateCopy(session.env, {
        'negative-unknown.tf': 'resource "google_pubsub_topic" "negative" {\n  name          = "n"\n  not_an_option = true\n}\n',
        'negative-missing.tf': 'resource "google_pubsub_subscription" "negative_missing" {\n  name = "n"\n}\n',
        'negative-type.tf':
          'resource "google_pubsub_subscription" "negative_type" {\n  name                 = "n"\n  topic                = google_pubsub_topic.findings.id\n  ack_deadline_seconds = "sixty"\n}\n',
        'negative-reference.tf': 'output "negative" {\n  value = google_service_account.responder.mail\n}\n',
      });
      return broken;
    };

    test('negative control: an unknown argument', async () => {
      assertRejected(await negatives(), 'Unsupported argument', /"not_an_option"/);
    });

    test('negative control: a missing required argument', async () => {
      assertRejected(await negatives(), 'Missing required argument', /"topic" is required/);
    });

    test('negative control: a wrong type', async () => {
      assertRejected(await negatives(), 'Incorrect attribute value type', /"ack_deadline_seconds": a number is required/);
    });

    test('negative control: a reference to an attribute the resource does not have', async () => {
      assertRejected(await negatives(), 'Unsupported attribute', /named "mail"/);
      assert.equal((await negatives()).diagnostics.filter((d) => d.severity === 'error').length, 4, summaries(await negatives()));
    });
  });
}
