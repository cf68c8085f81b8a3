#!/usr/bin/env node
// scc-responder: the command-line face of the responder.
//   triage FILE        run the playbook for one notification file (local adapters by default;
//                      --show-stored shows the stored report, --rerun runs a completed finding again)
//   policy check P [F] validate a policy file and show what it decides for each finding file
//   policy schema      print the policy file's JSON Schema
//   undo FINDING_NAME  revert what the responder did and can be reverted (functions/cli/undo.ts)
//   approvals          list pending approvals; --expire closes those nobody decided (functions/cli/approvals.ts)
//   policy backtest P  what the policy would have done for the organization's findings in SCC
//   backfill           publish unhandled ACTIVE findings from before the deploy to the findings topic
// Exit codes: 0 ok, 2 bad input (usage, malformed message, invalid policy), 1 failure.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { previewGuards, explainPlan } from '../../shared/contain/explain.js';
import { decodeMessage } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import { explain } from '../../shared/policy/decide.js';
import { policyJsonSchema } from '../../shared/policy/schema.js';
import { approvalFlow, DEFAULT_APPROVAL, type ApprovalFlow } from '../../shared/policy/approval.js';
import type { Policy } from '../../shared/policy/schema.js';
import type { ActionType } from '../../shared/policy/actions.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { inertReport } from '../../shared/respond/inert-report.js';
import { render, type OutputFormat } from '../../shared/respond/render.js';
import { ConfigError, parseEvidenceLocation } from '../../shared/config.js';
import { createRuntime, loadPolicyFile, PolicyFileError, type Runtime } from '../composition/runtime.js';
import type { ResponderConfig } from '../../shared/config.js';
import type { Incident } from '../../shared/finding/types.js';
import { readLatestReport } from '../../shared/record/idempotency.js';
import { findingFolder } from '../../shared/ledger/layout.js';
import { REPORT_SCHEMA_VERSION, type TriageReport } from '../../shared/respond/report.js';
import { undo, UndoInputError, UNDO_USAGE } from './undo.js';
import { approvals, ApprovalsInputError, APPROVALS_USAGE } from './approvals.js';
import { loadConfig } from '../../shared/config.js';
import { VERSION } from '../../shared/common/product.js';
import { sccClientOptions, topicPublisher } from '../composition/adapters.js';
import { runBacktest } from './backtest.js';
import { liveClusters } from './backtest-clusters.js';
import { runBackfill } from './backfill.js';
import { parseSince } from './scc-read.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

const TRIAGE_USAGE = `Usage: scc-responder triage FILE [options]
  (from a clone: npm run triage -- FILE [options]; add -s, npm run -s, for clean JSON on stdout)

FILE is an SCC notification, a Pub/Sub message or a Pub/Sub CloudEvent (JSON), or - for stdin.
Options:
  --format text|markdown|json   output format (default text)
  --policy FILE                 policy file (default: the bundled dry-run policy)
  --kube-context CTX            kubeconfig context (default: the current context)
  --evidence DIR|gs://BUCKET/PREFIX|none
                                where evidence and reports are stored (default ./.evidence)
  --offline                     make no call at all: the report is built from the finding
  --dry-run                     never write to the cluster, whatever the policy says
  --show-stored                 show the newest stored report of this finding; run nothing
  --rerun                       run again even if an earlier run of this finding took effects
                                (effects already taken are not repeated)
  --verbose                     audit log entries (JSON) on stderr
  -h, --help                    this help

A run that took no effect (dry-run: nothing written to the cluster, no marks) does not
block the next one: triage the same finding again after adding a kubeconfig or changing
the policy and it reads everything again. Once a run has taken effects, later runs show its
stored report unless --rerun.`;

const POLICY_USAGE = `Usage: scc-responder policy check POLICY [FILE...] [--format text|json]
       scc-responder policy backtest POLICY --organization ORG [--since 30d] [--filter EXPR]
                                    [--format text|markdown|json|csv] [--api v1|v2] [--page-size N]
                                    [--live [--kube-context CTX]]
       scc-responder policy schema

  check     validate a policy file and show what it decides for each finding file
  backtest  read the organization's findings of the policy's categories from SCC (the filter
            Terraform deploys, every state) and show, per finding, the rule, mode, actions and
            the guards judged from the finding alone (guards that need the live pod are marked
            as such), then a summary: findings per rule, actions per type, refusals by guard,
            blast-radius degradations replayed over the event times. Read-only.
            --since 30d|12h|90m|RFC3339 (default 30d), --filter ANDs an SCC filter expression,
            json is one JSON object per line (findings, then the summary), csv's summary goes
            to stderr. A progress line per page on stderr; throttling is retried and reported.
            --live also judges the guards that need the live pod (pod gone, identity, pod
            scope, owner chain / requireController, node) on the clusters, read-only (get and
            list only, 4 pods at a time): per finding's cluster the kubeconfig context named
            gke_PROJECT_LOCATION_CLUSTER, or --kube-context (SCC_RESPONDER_CLUSTER_ACCESS=gke:
            through GKE). A cluster it cannot reach is reported per finding as not judged.
  schema    print the policy file's JSON Schema`;

const BACKFILL_USAGE = `Usage: scc-responder backfill --organization ORG --topic projects/P/topics/T [--policy FILE]
                              [--since 30d] [--dry-run] [--rate N] [--api v1|v2] [--page-size N]

Publishes to the findings topic the ACTIVE findings that the policy matches and that carry none
of our marks (scc_responder_state), as the SCC NotificationMessage JSON the notification config
sends (v1 or v2 as --api, which must be the config's), so the deployed function handles them
with all its guards. Never acts on a cluster. --policy must be the deployed policy (default:
the bundled one); --rate messages per second (default 10); --dry-run lists what it would publish.
Run it once after the first apply (infra/README.md).`;

const USAGE = `Usage:
  scc-responder triage FILE [--format text|markdown|json] [--policy FILE] [--kube-context CTX]
                            [--evidence DIR|gs://BUCKET/PREFIX|none] [--offline] [--dry-run]
                            [--show-stored | --rerun] [--verbose]
  scc-responder policy check POLICY [FILE...] [--format text|json]
  scc-responder policy backtest POLICY --organization ORG [--since 30d] [--filter EXPR]
                                [--format text|markdown|json|csv] [--live [--kube-context CTX]]
  scc-responder policy schema
  scc-responder undo FINDING_NAME [--evidence DIR|gs://BUCKET/PREFIX] [--kube-context CTX] [--format text|json]
  scc-responder approvals [--evidence DIR|gs://BUCKET/PREFIX] [--expire] [--format text|json]
  scc-responder backfill --organization ORG --topic TOPIC [--since 30d] [--dry-run]
  scc-responder COMMAND --help

From a clone: npm run triage -- FILE ..., npm run cli -- policy ... (npm run -s for clean stdout).
FILE is an SCC notification, a Pub/Sub message or a Pub/Sub CloudEvent (JSON).
triage uses your kubeconfig (current context unless --kube-context) to reach the cluster,
stores evidence and its report under ./.evidence unless --evidence says otherwise, and never
writes to the cluster in --dry-run. --offline makes no call at all: the report is built from
the finding.
Exit codes: 0 ok, 2 bad input, 1 failure.`;

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** The clock of `approvals` (expiry); tests move it instead of sleeping. Default: the system clock. */
  now?: () => Date;
}

/** Bad command line: the message and a pointer to the help of `command`. */
class UsageError extends Error {
  constructor(message: string, readonly command = '') {
    super(message);
  }
}

/** Bad input that is not about the command line (unreadable file): the message alone. */
class InputError extends Error {}

const ERRNO_WORDS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${file}: ${code ? `${ERRNO_WORDS[code] ?? code} (${code})` : String(err)}`);
  }
}

function formatOf(value: string | undefined, allowed: readonly OutputFormat[], command: string): OutputFormat {
  const f = (value ?? 'text') as OutputFormat;
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(', ')}`, command);
  return f;
}

/** node:util parseArgs with its errors turned into one plain sentence each. */
function parseCommandLine<O extends ParseArgsConfig['options']>(args: string[], options: O, command: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h' } } });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw err;
    const option = /'(-[^' ]*)/.exec((err as Error).message)?.[1] ?? '';
    const message =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown option ${option}` :
      code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? `option ${option} ${/argument missing/.test((err as Error).message) ? 'needs a value' : 'takes no value'}` :
      (err as Error).message;
    throw new UsageError(message, command);
  }
}

function displayUri(uri: string): string {
  return uri.startsWith('file://') ? fileURLToPath(uri) : uri;
}

/** Where the report is: in the text report itself, on stderr for JSON and markdown (stdout stays the document). */
function sayStored(io: CliIO, format: OutputFormat, where: string, what: string): void {
  if (format === 'text') io.stdout(`\n${what} ${displayUri(where)}\n`);
  else io.stderr(`scc-responder: ${what} ${displayUri(where)}\n`);
}

interface TriageOptions {
  file: string;
  format: OutputFormat;
  values: Record<string, string | boolean | undefined>;
}

function triageOverrides(values: TriageOptions['values'], env: NodeJS.ProcessEnv): Partial<ResponderConfig> {
  // Without --verbose the CLI says everything itself (report, stderr lines): no JSON entries.
  const overrides: Partial<ResponderConfig> = { logLevel: values['verbose'] ? 'info' : (env['LOG_LEVEL'] ?? 'silent') };
  if (typeof values['policy'] === 'string') overrides.policyFile = values['policy'];
  if (typeof values['kube-context'] === 'string') overrides.kubeContext = values['kube-context'];
  if (typeof values['evidence'] === 'string') overrides.evidence = parseEvidenceLocation(values['evidence'], 'cli', '--evidence');
  if (values['offline']) Object.assign(overrides, { clusterAccess: 'none', logs: false, marks: false, confirm: false, evidence: { kind: 'none' } } satisfies Partial<ResponderConfig>);
  return overrides;
}

function parseTriage(args: string[]): TriageOptions | 'help' {
  const { values, positionals } = parseCommandLine(args, {
    format: { type: 'string' },
    policy: { type: 'string' },
    'kube-context': { type: 'string' },
    evidence: { type: 'string' },
    offline: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'show-stored': { type: 'boolean' },
    rerun: { type: 'boolean' },
    verbose: { type: 'boolean' },
  }, 'triage');
  if (values['help']) return 'help';
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'triage needs a FILE' : `triage takes exactly one FILE (got ${positionals.length})`, 'triage');
  if (values['show-stored'] && values['rerun']) throw new UsageError('--show-stored and --rerun exclude each other', 'triage');
  if (values['show-stored'] && values['offline']) throw new UsageError('--show-stored reads the evidence store, which --offline turns off', 'triage');
  return { file: positionals[0] as string, format: formatOf(values['format'] as string | undefined, ['text', 'markdown', 'json'], 'triage'), values };
}

async function triage(args: string[], io: CliIO): Promise<number> {
  const parsed = parseTriage(args);
  if (parsed === 'help') {
    io.stdout(`${TRIAGE_USAGE}\n`);
    return EXIT_OK;
  }
  const { file, format, values } = parsed;
  const overrides = triageOverrides(values, io.env);
  const input = readInput(file);
  // Audit entries (with --verbose) go to stderr so stdout carries only the report.
  const runtime = createRuntime({
    surface: 'cli',
    env: io.env,
    configOverrides: overrides,
    auditDestination: { write: (s: string) => io.stderr(s) },
    forceDryRun: values['dry-run'] === true,
    rerun: values['rerun'] === true,
  });
  try {
    return values['show-stored'] ? await showStored(input, file, format, runtime, io) : await runTriage(input, file, format, runtime, io);
  } finally {
    await runtime.audit.flush();
  }
}

async function runTriage(input: string, file: string, format: OutputFormat, runtime: Runtime, io: CliIO): Promise<number> {
  const result = await handleMessage(input, runtime);
  if (result.disposition === 'rejected') {
    io.stderr(`scc-responder: ${file}: ${result.message}\n`);
    return EXIT_BAD_INPUT;
  }
  if (result.disposition === 'already-handled' && result.incident) {
    const latest = await latestStored(runtime, result.incident);
    io.stderr(`scc-responder: an earlier run of this finding took effects (${result.message}): showing its stored report; --rerun runs it again without repeating them\n`);
    // No stored report (the finding carries our marks, or there is no store): its reading.
    const shown = latest?.report ?? result.report ?? inertReport(result.incident, result.decision ?? { matched: false, reason: result.message }, { runId: randomUUID() });
    io.stdout(render(shown, format));
    if (latest) sayStored(io, format, latest.uri, 'Stored report:');
    return EXIT_OK;
  }
  let report = result.report;
  if (!report && result.incident && result.decision) {
    report = inertReport(result.incident, result.decision, { runId: randomUUID(), ...(result.envelope ? { envelope: result.envelope } : {}) });
    if (result.disposition === 'failed' || result.disposition === 'retry') {
      // Nothing ran (the store or the adapters could not be reached): the reason belongs in the report.
      report = { ...report, outcome: { ...report.outcome, verdict: 'failed', summary: `not run: ${result.message}` } };
      io.stderr(`scc-responder: the response did not run: ${result.message}\n`);
    }
  }
  if (result.disposition === 'not-confirmed') io.stderr(`scc-responder: ${result.message}: nothing was done\n`);
  if (report) io.stdout(render(report, format));
  else io.stdout(`${result.disposition}: ${result.message}\n`);
  if (result.stored) sayStored(io, format, result.stored.markdown ?? result.stored.json, 'Report stored at');
  return result.retry || result.disposition === 'failed' ? EXIT_FAILURE : EXIT_OK;
}

/** The newest stored report of the finding, if the evidence store has one. */
async function latestStored(runtime: Runtime, incident: Incident): Promise<{ report: TriageReport; uri: string } | null> {
  const store = (await runtime.adapters()).evidence;
  if (!store) return null;
  const latest = await readLatestReport(store, findingFolder(incident));
  return latest && latest.report['schemaVersion'] === REPORT_SCHEMA_VERSION ? { report: latest.report as unknown as TriageReport, uri: latest.uri } : null;
}

async function showStored(input: string, file: string, format: OutputFormat, runtime: Runtime, io: CliIO): Promise<number> {
  const screened = runtime.screen(input, {});
  if (screened.stage === 'decode' || screened.stage === 'incident') {
    io.stderr(`scc-responder: ${file}: ${screened.error.message}\n`);
    return EXIT_BAD_INPUT;
  }
  if (screened.stage !== 'decide') throw new Error('the CLI decodes every finding fully'); // screen() is decideMessage for the CLI
  if (runtime.config.evidence.kind === 'none') throw new UsageError('--show-stored needs an evidence store (not --evidence none)', 'triage');
  const latest = await latestStored(runtime, screened.incident);
  const where = runtime.config.evidence.kind === 'local' ? runtime.config.evidence.dir : `gs://${runtime.config.evidence.bucket}/${runtime.config.evidence.prefix}`;
  if (!latest) {
    io.stderr(`scc-responder: no stored report for ${screened.incident.findingName} under ${where}\n`);
    return EXIT_FAILURE;
  }
  io.stdout(render(latest.report, format));
  sayStored(io, format, latest.uri, 'Stored report:');
  return EXIT_OK;
}

/** Each approve-mode rule's flow: what runs at once, what waits, the expiry. */
function approvalFlows(policy: Policy): ApprovalFlow[] {
  return policy.rules.flatMap((rule, i) => {
    const actions = rule.actions.map((a) => ({ type: a.type as ActionType, params: {} }));
    const flow = approvalFlow(rule.name ?? `rules[${i}]`, { mode: rule.mode, actions, approval: { expiresAfterHours: rule.approval?.expiresAfterHours ?? DEFAULT_APPROVAL.expiresAfterHours, beforeApproval: rule.approval?.beforeApproval ?? [] } });
    return flow ? [flow] : [];
  });
}

async function policyCheck(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { format: { type: 'string' } }, 'policy');
  if (values['help']) {
    io.stdout(`${POLICY_USAGE}\n`);
    return EXIT_OK;
  }
  const format = formatOf(values['format'] as string | undefined, ['text', 'json'], 'policy');
  const [policyFile, ...files] = positionals;
  if (!policyFile) throw new UsageError('policy check needs a POLICY file', 'policy');
  const { policy, source } = loadPolicyFile(policyFile);
  const results: unknown[] = [];
  let exit = EXIT_OK;
  if (format === 'text') io.stdout(`${source}: valid (${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'})\n`);
  const flows = approvalFlows(policy);
  if (format === 'text') for (const f of flows) io.stdout(`  ${f.text}\n`);
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
  if (format === 'json') io.stdout(`${JSON.stringify({ policy: source, valid: true, ...(flows.length > 0 ? { approvalFlows: flows } : {}), results }, null, 2)}\n`);
  return exit;
}

const LISTING_OPTIONS = {
  organization: { type: 'string' },
  since: { type: 'string' },
  api: { type: 'string' },
  'page-size': { type: 'string' },
} as const;

interface ListingValues {
  organization: string;
  version: 'v1' | 'v2';
  since: Date;
  pageSize?: number;
}

function listingValues(values: Record<string, string | boolean | undefined>, command: string): ListingValues {
  const organization = values['organization'];
  if (typeof organization !== 'string' || !/^[0-9]{1,32}$/.test(organization)) throw new UsageError('--organization needs the numeric organization id', command);
  const api = values['api'] ?? 'v2';
  if (api !== 'v1' && api !== 'v2') throw new UsageError('--api must be v1 or v2', command);
  const since = parseSince(typeof values['since'] === 'string' ? values['since'] : '30d', new Date());
  if (!since) throw new UsageError('--since must be like 30d, 12h, 90m or an RFC 3339 time', command);
  const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size']);
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)) throw new UsageError('--page-size must be 1-1000', command);
  return { organization, version: api, since, ...(pageSize === undefined ? {} : { pageSize }) };
}

async function policyBacktest(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { ...LISTING_OPTIONS, filter: { type: 'string' }, format: { type: 'string' }, live: { type: 'boolean' }, 'kube-context': { type: 'string' } }, 'policy');
  if (values['help']) {
    io.stdout(`${POLICY_USAGE}\n`);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError('policy backtest needs exactly one POLICY file', 'policy');
  const format = (values['format'] ?? 'text') as 'text' | 'markdown' | 'json' | 'csv';
  if (!['text', 'markdown', 'json', 'csv'].includes(format)) throw new UsageError('--format must be one of text, markdown, json, csv', 'policy');
  const listing = listingValues(values, 'policy');
  const { policy, source } = loadPolicyFile(positionals[0]);
  if (typeof values['kube-context'] === 'string' && values['live'] !== true) throw new UsageError('--kube-context needs --live', 'policy');
  const config = loadConfig(io.env, 'cli', VERSION);
  if (typeof values['kube-context'] === 'string') config.kubeContext = values['kube-context'];
  const clientOptions = await sccClientOptions(config);
  const filter = typeof values['filter'] === 'string' ? values['filter'] : undefined;
  const live = values['live'] === true ? await liveClusters(config, io.env) : undefined;
  const out = await runBacktest({ policy, policySource: source, ...listing, format, ...(filter ? { filter } : {}), ...(clientOptions ? { clientOptions } : {}), ...backoffFromEnv(io.env), ...(live ? { live } : {}) }, io);
  const judged = live ? `; --live: ${out.judged} judged on the live pod, ${out.notJudged} not judged` : '';
  io.stderr(`scc-responder: ${out.findings} findings in ${out.seconds.toFixed(1)} s${judged}\n`);
  return EXIT_OK;
}

/** Tests shorten the throttling backoff (SCC_RESPONDER_BACKOFF_MS, loopback endpoints only). */
function backoffFromEnv(env: NodeJS.ProcessEnv): { backoffMs?: number } {
  const v = Number(env['SCC_RESPONDER_BACKOFF_MS']);
  return env['SCC_RESPONDER_ENDPOINT_SCC'] && Number.isInteger(v) && v >= 0 ? { backoffMs: v } : {};
}

async function backfill(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { ...LISTING_OPTIONS, topic: { type: 'string' }, policy: { type: 'string' }, 'dry-run': { type: 'boolean' }, rate: { type: 'string' } }, 'backfill');
  if (values['help']) {
    io.stdout(`${BACKFILL_USAGE}\n`);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError('backfill takes no positional arguments', 'backfill');
  const listing = listingValues(values, 'backfill');
  const topic = values['topic'];
  if (typeof topic !== 'string' || !/^projects\/[^/]+\/topics\/[^/]+$/.test(topic)) throw new UsageError('--topic needs the findings topic as projects/P/topics/T', 'backfill');
  const rate = values['rate'] === undefined ? 10 : Number(values['rate']);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1000) throw new UsageError('--rate must be a number of messages per second, 0-1000', 'backfill');
  const { policy } = loadPolicyFile(typeof values['policy'] === 'string' ? values['policy'] : undefined);
  const config = loadConfig(io.env, 'cli', VERSION);
  const clientOptions = await sccClientOptions(config);
  const dryRun = values['dry-run'] === true;
  const publisher = dryRun ? undefined : await topicPublisher(config, topic);
  try {
    const summary = await runBackfill({ policy, ...listing, topic, dryRun, rate, ...(clientOptions ? { clientOptions } : {}), ...backoffFromEnv(io.env) }, publisher, io);
    return summary.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await publisher?.close();
  }
}

async function policy(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'check') return policyCheck(rest, io);
  if (sub === 'backtest') return policyBacktest(rest, io);
  if (sub === 'schema') {
    const { values, positionals } = parseCommandLine(rest, {}, 'policy');
    if (values['help']) io.stdout(`${POLICY_USAGE}\n`);
    else if (positionals.length > 0) throw new UsageError('policy schema takes no arguments', 'policy');
    else io.stdout(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
    return EXIT_OK;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(`${POLICY_USAGE}\n`);
    return EXIT_OK;
  }
  io.stderr(`scc-responder: policy ${sub === undefined ? 'needs a subcommand' : `has no subcommand ${JSON.stringify(sub)}`}: check, backtest or schema\n\n${POLICY_USAGE}\n`);
  return EXIT_BAD_INPUT;
}

function help(topic: string | undefined, io: CliIO): number {
  io.stdout(`${topic === 'triage' ? TRIAGE_USAGE : topic === 'policy' ? POLICY_USAGE : topic === 'undo' ? UNDO_USAGE : topic === 'backfill' ? BACKFILL_USAGE : topic === 'approvals' ? APPROVALS_USAGE : USAGE}\n`);
  return EXIT_OK;
}

function reportError(err: unknown, io: CliIO): number {
  if (err instanceof UsageError) {
    io.stderr(`scc-responder: ${err.message}\n${err.command ? `Run 'scc-responder ${err.command} --help' (npm run ${err.command === 'triage' ? 'triage' : 'cli'} -- ${err.command === 'triage' ? '' : `${err.command} `}--help) for usage.` : `\n${USAGE}`}\n`);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof UndoInputError || err instanceof ApprovalsInputError) {
    const command = err instanceof UndoInputError ? 'undo' : 'approvals';
    io.stderr(`scc-responder: ${err.message}\nRun 'scc-responder ${command} --help' (npm run cli -- ${command} --help) for usage.\n`);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof InputError || err instanceof PolicyFileError || err instanceof ConfigError) {
    io.stderr(`scc-responder: ${err.message}\n`);
    return EXIT_BAD_INPUT;
  }
  io.stderr(`scc-responder: failed: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_FAILURE;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === 'triage') return await triage(rest, io);
    if (command === 'policy') return await policy(rest, io);
    if (command === 'undo') return await undo(rest, io);
    if (command === 'approvals') return await approvals(rest, io);
    if (command === 'backfill') return await backfill(rest, io);
    if (command === '--help' || command === '-h' || command === 'help') return help(rest[0], io);
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'no command given');
  } catch (err) {
    return reportError(err, io);
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
