#!/usr/bin/env node
// scc-responder: the command-line face of the responder.
//   triage FILE        run the playbook for one notification file (local adapters by default)
//   policy check P [F] validate a policy file and show what it decides for each finding file
//   policy schema      print the policy file's JSON Schema
// Exit codes: 0 ok, 2 bad input (usage, malformed message, invalid policy), 1 failure.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { previewGuards, explainPlan } from '../../shared/contain/explain.js';
import { decodeMessage } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import { explain } from '../../shared/policy/decide.js';
import { policyJsonSchema } from '../../shared/policy/schema.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { inertReport } from '../../shared/respond/inert-report.js';
import { render, type OutputFormat } from '../../shared/respond/render.js';
import { ConfigError, parseEvidenceLocation } from '../../shared/config.js';
import { createRuntime, loadPolicyFile, PolicyFileError } from '../composition/runtime.js';
import type { ResponderConfig } from '../../shared/config.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

const USAGE = `Usage:
  scc-responder triage FILE [--format text|markdown|json] [--policy FILE] [--kube-context CTX]
                            [--evidence DIR|gs://BUCKET/PREFIX|none] [--offline] [--dry-run] [--verbose]
  scc-responder policy check POLICY [FILE...] [--format text|json]
  scc-responder policy schema

FILE is an SCC notification, a Pub/Sub message or a Pub/Sub CloudEvent (JSON).
triage uses your kubeconfig (current context unless --kube-context) to reach the cluster,
stores evidence under ./.evidence unless --evidence says otherwise, and never writes to the
cluster in --dry-run. --offline makes no call at all: the report is built from the finding.
Exit codes: 0 ok, 2 bad input, 1 failure.`;

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function parseJsonInput(file: string): unknown {
  const text = readInput(file);
  // decodeMessage accepts the raw text too, but parsing here gives a clearer CLI message.
  return text;
}

function formatOf(value: string | undefined, allowed: readonly OutputFormat[]): OutputFormat {
  const f = (value ?? 'text') as OutputFormat;
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(', ')}`);
  return f;
}

async function triage(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      policy: { type: 'string' },
      'kube-context': { type: 'string' },
      evidence: { type: 'string' },
      offline: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('triage takes exactly one FILE');
  const file = positionals[0] as string;
  const format = formatOf(values.format, ['text', 'markdown', 'json']);
  const overrides: Partial<ResponderConfig> = { logLevel: values.verbose ? 'info' : 'warn' };
  if (values.policy) overrides.policyFile = values.policy;
  if (values['kube-context']) overrides.kubeContext = values['kube-context'];
  if (values.evidence) overrides.evidence = parseEvidenceLocation(values.evidence, 'cli');
  if (values.offline) Object.assign(overrides, { clusterAccess: 'none', logs: false, marks: false, confirm: false, evidence: { kind: 'none' } } satisfies Partial<ResponderConfig>);
  const input = parseJsonInput(file);
  // Audit entries go to stderr so stdout carries only the report.
  const runtime = createRuntime({
    surface: 'cli',
    env: io.env,
    configOverrides: overrides,
    auditDestination: { write: (s: string) => io.stderr(s) },
    forceDryRun: values['dry-run'],
  });
  const result = await handleMessage(input, runtime);
  if (result.disposition === 'rejected') {
    io.stderr(`scc-responder: ${file}: ${result.message}\n`);
    return EXIT_BAD_INPUT;
  }
  const report =
    result.report ??
    (result.incident && result.decision ? inertReport(result.incident, result.decision, { runId: randomUUID(), ...(result.envelope ? { envelope: result.envelope } : {}) }) : undefined);
  if (result.disposition === 'not-confirmed') io.stderr(`scc-responder: ${result.message}: nothing was done\n`);
  if (result.disposition === 'already-handled') io.stderr(`scc-responder: ${result.message}: showing the stored report (use another --evidence location to run again)\n`);
  if (report) io.stdout(render(report, format));
  else io.stdout(`${result.disposition}: ${result.message}\n`);
  await runtime.audit.flush();
  return result.retry || result.disposition === 'failed' ? EXIT_FAILURE : EXIT_OK;
}

async function policyCheck(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { format: { type: 'string' } } });
  const format = formatOf(values.format, ['text', 'json']);
  const [policyFile, ...files] = positionals;
  if (!policyFile) throw new UsageError('policy check takes a POLICY file');
  const { policy, source } = loadPolicyFile(policyFile);
  const results: unknown[] = [];
  let exit = EXIT_OK;
  if (format === 'text') io.stdout(`${source}: valid (${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'})\n`);
  for (const f of files) {
    const decoded = decodeMessage(readInput(f));
    const built = decoded.ok ? toIncident(decoded.message) : undefined;
    if (!decoded.ok || !built?.ok) {
      const message = !decoded.ok ? decoded.error.message : built && !built.ok ? built.error.message : 'unreadable';
      exit = EXIT_BAD_INPUT;
      results.push({ file: f, error: message });
      if (format === 'text') io.stdout(`\n${f}: rejected: ${message}\n`);
      continue;
    }
    const incident = built.incident;
    const explanation = explain(incident, policy);
    const plan = explainPlan(explanation.decision, previewGuards(incident, explanation.decision, { protectedNamespaces: policy.protectedNamespaces }));
    results.push({ file: f, finding: incident.findingName, decision: explanation.decision, rules: explanation.rules, plan });
    if (format === 'text') {
      io.stdout(`\n${f}: ${incident.category} (${incident.severity}) ${incident.namespace ?? '?'}/${incident.pod ?? '?'}\n`);
      for (const r of explanation.rules) io.stdout(`  ${r.matched ? 'MATCH  ' : 'no     '} ${r.rule}${r.reasons.length ? `: ${r.reasons.join('; ')}` : ''}\n`);
      io.stdout(`${plan.text.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
    }
  }
  if (format === 'json') io.stdout(`${JSON.stringify({ policy: source, valid: true, results }, null, 2)}\n`);
  return exit;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  try {
    const [command, sub, ...rest] = argv;
    if (command === 'triage') return await triage(argv.slice(1), io);
    if (command === 'policy' && sub === 'check') return await policyCheck(rest, io);
    if (command === 'policy' && sub === 'schema') {
      io.stdout(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
      return EXIT_OK;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${USAGE}\n`);
      return EXIT_OK;
    }
    throw new UsageError(command ? `unknown command: ${[command, sub].filter(Boolean).join(' ')}` : 'no command given');
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr(`scc-responder: ${err.message}\n\n${USAGE}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof PolicyFileError || err instanceof ConfigError) {
      io.stderr(`scc-responder: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr(`scc-responder: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /(?:^|[/\\])(?:main\.[jt]s|scc-responder)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
  }).then((code) => {
    process.exitCode = code;
  });
}
