// `terraform test` over infra/ (test/support/terraform/infra-plan.tftest.hcl): real plans
// with mocked providers, whose schema comes from the schema-only provider at the highest
// admitted release (see terraform-validate.test.ts). That is where Terraform evaluates the
// variable validations, counts and conditionals of a first apply; each expect_failures run
// fails unless its validation rejects the value. Negative control: with the
// service_account_id validation removed, terraform test must fail.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { validationSets } from '../support/terraform/schema-cache.js';
import { planTests, root, terraformSession } from '../support/terraform/terraform-cli.js';

describe('terraform test with mocked providers (highest admitted provider schemas)', () => {
  let session: Awaited<ReturnType<typeof terraformSession>> | undefined;

  before(async () => {
    const set = (await validationSets(join(root, 'infra', 'versions.tf'))).find((s) => s.label === 'highest');
    assert.ok(set, 'a highest provider set');
    session = await terraformSession(set.packages);
  });
  after(() => session?.close());

  test('plans accept the defaults and a given build account and VPC connector, and reject bad variables', async () => {
    assert.ok(session);
    const r = await planTests(session.env);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Success! \d+ passed, 0 failed/);
    for (const run of ['defaults_plan', 'own_build_account_and_vpc_connector', 'bad_variables', 'short_service_account_id_and_digit_mark_key', 'upper_case_service_account_id']) {
      assert.match(r.output, new RegExp(`run "${run}"\\.\\.\\. pass`), run);
    }
  });

  test('negative control: without the service_account_id validation, terraform test fails', async () => {
    assert.ok(session);
    const r = await planTests(
      session.env,
      (file, text) => {
        if (file !== 'variables.tf') return text;
        const cut = text.replace(/(variable "service_account_id" \{[\s\S]*?)\n {2}validation \{[\s\S]*?\n {2}\}\n\}/, '$1\n}');
        assert.notEqual(cut, text, 'fixture: the validation block was removed');
        return cut;
      },
      'upper_case_service_account_id',
    );
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /run "upper_case_service_account_id"\.\.\. fail/);
  });
});
