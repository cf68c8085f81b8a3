// The notification filter Terraform deploys and the filter backtest/backfill read with must be
// the same string: this evaluates infra/main.tf's own locals (copied verbatim from the file)
// with `terraform console` for a policy and compares with sccFindingFilter(). Negative
// control: a changed clause in the Terraform text is caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '../../shared/policy/load.js';
import { sccFindingFilter } from '../../shared/policy/scc-filter.js';
import { FINAL_MARK_STATES, MARK_KEYS } from '../../shared/record/marks.js';

const root = join(import.meta.dirname, '..', '..');
const LOCALS = ['policy_categories', 'finding_categories', 'category_clause', 'handled_clauses', 'notification_filter'];

/** The named locals of infra/main.tf, each `name = expression` up to the next local. */
function terraformLocals(mainTf: string): string {
  return LOCALS.map((name) => {
    const m = new RegExp(`\\n  ${name}\\s*=[\\s\\S]*?(?=\\n\\s*\\n|\\n  [a-z_]+\\s+=|\\n  #)`).exec(mainTf);
    assert.ok(m, `infra/main.tf defines local.${name}`);
    return m[0];
  }).join('\n');
}

/** handled_mark_values' default as written in infra/variables.tf. */
function handledDefault(): string {
  const tf = readFileSync(join(root, 'infra', 'variables.tf'), 'utf8');
  const m = /variable "handled_mark_values" \{[\s\S]*?default\s*=\s*(\[[^\]]*\])/.exec(tf);
  assert.ok(m?.[1], 'infra/variables.tf defines handled_mark_values with a default');
  return m[1];
}

function evaluate(mainTf: string, policyYaml: string, extra: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'scc-filter-tf-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), policyYaml);
    writeFileSync(join(dir, 'main.tf'), [
      `variable "extra_finding_categories" { default = ${JSON.stringify(extra)} }`,
      'variable "handled_mark_key" { default = "scc_responder_state" }',
      // The deployed default, read from infra/variables.tf (kept equal to FINAL_MARK_STATES below).
      `variable "handled_mark_values" { default = ${handledDefault()} }`,
      // infra/scc.tf: with no CTD source pinned (the default) the filter has no parent clause.
      'variable "ctd_source" { default = null }',
      'locals {',
      '  policy_document = yamldecode(file("${path.module}/policy.yaml"))',
      '  ctd_source_clauses = var.ctd_source == null ? [] : ["parent = \\"${var.ctd_source}\\""]',
      terraformLocals(mainTf),
      '}',
    ].join('\n'));
    const r = spawnSync('terraform', ['console'], { cwd: dir, input: 'jsonencode(local.notification_filter)\n', encoding: 'utf8', env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' }, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(JSON.parse(r.stdout.trim()) as string) as string;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const POLICY = `version: 1
rules:
  - name: a
    mode: dry-run
    match:
      categories: ["Execution: Modified Malicious Binary Executed", "Reverse \\"Shell\\""]
    actions: []
  - name: b
    mode: dry-run
    match:
      categories: ["Execution: Added Binary Executed", "Execution: Modified Malicious Binary Executed"]
    actions: []
`;

function policyOf(yaml: string) {
  const r = loadPolicy(yaml, 'test.yaml');
  assert.ok(r.ok, JSON.stringify(r));
  return r.policy;
}

test('Terraform notification filter equals sccFindingFilter() for the same policy (with extra categories and a quote)', () => {
  const mainTf = readFileSync(join(root, 'infra', 'main.tf'), 'utf8');
  const fromTerraform = evaluate(mainTf, POLICY, ['Execution: Container Escape']);
  const ours = sccFindingFilter(policyOf(POLICY), { extraCategories: ['Execution: Container Escape'] });
  assert.equal(fromTerraform, ours);
  assert.match(ours, /^\(category = "Execution: Modified Malicious Binary Executed" OR category = "Reverse \\"Shell\\"" OR /);
  // The variable defaults above are the marks vocabulary the TypeScript side uses.
  assert.equal(MARK_KEYS.state, 'scc_responder_state');
  assert.deepEqual([...FINAL_MARK_STATES], ['triaged', 'contained', 'failed', 'reverted', 'denied', 'expired']);
  assert.deepEqual(JSON.parse(handledDefault()), [...FINAL_MARK_STATES], 'infra/variables.tf handled_mark_values = FINAL_MARK_STATES (not awaiting-approval)');
});

test('negative control: a Terraform filter that drifts (another resource prefix) no longer equals it', () => {
  const mainTf = readFileSync(join(root, 'infra', 'main.tf'), 'utf8').replace('//container.googleapis.com/', '//container.googleapis.com/projects/');
  assert.notEqual(evaluate(mainTf, POLICY, []), sccFindingFilter(policyOf(POLICY)));
});
