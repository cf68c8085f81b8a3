// `scc-responder approvals [--expire]`: the pending approvals of the evidence store, newest
// first, and (with --expire) the closing of those past their expiry that nobody decided
// (shared/respond/approval-sweep.ts). Meant to run on a schedule beside the function: the
// function only notices an expiry when a decision mark arrives. Never touches a cluster.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseEvidenceLocation, type ResponderConfig } from '../../shared/config.js';
import type { Incident } from '../../shared/finding/types.js';
import type { RespondContext } from '../../shared/respond/context.js';
import { expireOne, listApprovals, type ApprovalRow, type SweepDeps, type SweepOutcome } from '../../shared/respond/approval-sweep.js';
import { createRuntime, type Runtime } from '../composition/runtime.js';

export const APPROVALS_USAGE = `Usage: scc-responder approvals [options]

Lists the pending approvals (approve mode) stored in the evidence store, newest first: finding,
run id, rule, pod, pending actions, created and expiry times, and status: pending,
expired-unclosed (past its expiry, nobody decided) or closed (approved, denied, expired, refused).
--expire closes every expired-unclosed record as the function closes an expired approval: under
the same approval claim (a decision delivery racing it executes or expires, never both), after
SCC's copy confirms it still awaits that run with no decision mark (with SCC access; otherwise
closed unconfirmed, and the report says so), with the decision report stored beside it, the
marks scc_responder_state=expired (SCC_RESPONDER_MARKS=true) and an audit entry. Run it on a
schedule. It never touches a cluster.
Options:
  --evidence DIR|gs://BUCKET/PREFIX   the evidence store (default ./.evidence)
  --expire                            close the expired-unclosed records
  --format text|json                  output format (default text)
  --verbose                           audit log entries (JSON) on stderr
  -h, --help                          this help
Exit codes: 0 done (including "nothing to close" and records left to the function),
1 a record could not be closed or the store could not be read, 2 bad input.`;

export class ApprovalsInputError extends Error {}

interface ApprovalsIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** The clock that decides expiry (tests move it instead of sleeping). */
  now?: () => Date;
}

type Values = Record<string, string | boolean | undefined>;

function parse(args: string[]): Values | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { evidence: { type: 'string' }, expire: { type: 'boolean' }, format: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    // node:util's sentences, made one plain sentence as main.ts does for the other commands.
    const code = (err as { code?: string }).code ?? '';
    const option = /'(-[^' ]*)/.exec((err as Error).message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new ApprovalsInputError(`unknown option ${option}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new ApprovalsInputError(`option ${option} ${/argument missing/.test((err as Error).message) ? 'needs a value' : 'takes no value'}`);
    throw new ApprovalsInputError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 0) throw new ApprovalsInputError(`approvals takes no positional arguments (got ${JSON.stringify(positionals[0]?.slice(0, 200))})`);
  if (values.evidence === 'none') throw new ApprovalsInputError('approvals reads the evidence store: --evidence none has nothing to list');
  if (values.format !== undefined && values.format !== 'text' && values.format !== 'json') throw new ApprovalsInputError(`--format must be text or json (got ${values.format})`);
  return values;
}

function statusWord(r: ApprovalRow): string {
  return r.status === 'closed' ? `closed(${r.closedAs ?? 'decided'})` : r.status;
}

function renderText(location: string, rows: readonly ApprovalRow[], unreadable: readonly string[], swept: readonly SweepOutcome[] | undefined): string {
  const count = (s: ApprovalRow['status']): number => rows.filter((r) => r.status === s).length;
  const lines = [`approvals in ${location}: ${rows.length} record(s), ${count('pending')} pending, ${count('expired-unclosed')} expired-unclosed, ${count('closed')} closed`];
  for (const r of rows) {
    lines.push(`  ${statusWord(r).padEnd(17)} ${r.findingName}`);
    lines.push(`    run ${r.runId}  rule ${r.rule}  pod ${r.pod.namespace}/${r.pod.name} (uid ${r.pod.uid})`);
    lines.push(`    pending ${r.actions.join(', ') || 'none'}  created ${r.createdAt}  expires ${r.expiresAt}`);
  }
  for (const k of unreadable) lines.push(`  unreadable        ${k} (not a pending-approval record)`);
  if (swept) {
    lines.push(swept.length === 0 ? 'expire: nothing to close' : `expire: ${swept.filter((s) => s.result === 'closed').length} closed, ${swept.filter((s) => s.result === 'skipped').length} skipped, ${swept.filter((s) => s.result === 'failed').length} failed`);
    for (const s of swept) lines.push(`  ${s.result.padEnd(8)} ${s.findingName} (run ${s.runId}): ${s.detail}${s.report ? `\n           report ${s.report}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What closing one record needs: the runtime's adapters, settings and clock, an audit per finding. */
async function sweepDeps(runtime: Runtime, now: () => Date): Promise<SweepDeps> {
  const [adapters, base, idem] = await Promise.all([runtime.adapters(), runtime.respondContext(), runtime.idempotency()]);
  if (!adapters.evidence) throw new ApprovalsInputError('approvals reads the evidence store: none is configured');
  const audit = (findingName: string, incident?: Incident): ReturnType<Runtime['audit']['forFinding']> =>
    runtime.audit.forFinding(findingName, incident?.cluster ? { cluster: incident.cluster.name, project: incident.cluster.project, ...(incident.namespace ? { namespace: incident.namespace } : {}), ...(incident.pod ? { pod: incident.pod } : {}) } : {}, { runId: randomUUID() });
  // The sweep never reaches a cluster: no directory in its context, whatever is configured.
  const { directory: _directory, ...noCluster } = adapters;
  const context = (incident: Incident, confirmation: { confirmed: boolean; notes: string[] }): RespondContext => ({ ...base, adapters: noCluster, audit: audit(incident.findingName, incident), confirmation, now });
  return { store: adapters.evidence, ...(adapters.findings ? { reader: adapters.findings } : {}), idem, context, audit };
}

async function runApprovals(values: Values, runtime: Runtime, io: ApprovalsIO): Promise<number> {
  const now = io.now ?? (() => new Date());
  const deps = await sweepDeps(runtime, now);
  const { rows, unreadable } = await listApprovals(deps.store, now());
  let swept: SweepOutcome[] | undefined;
  if (values['expire']) {
    swept = [];
    // One at a time: each closing is a claim, a report and a marks write; a schedule has time.
    for (const row of rows.filter((r) => r.status === 'expired-unclosed')) {
      const outcome = await expireOne(row, deps);
      swept.push(outcome);
      if (outcome.result === 'closed') Object.assign(row, { status: 'closed', closedAs: 'expired' });
    }
  }
  const failed = swept?.some((s) => s.result === 'failed') === true;
  if (values['format'] === 'json') io.stdout(`${JSON.stringify({ store: deps.store.location, records: rows, unreadable, ...(swept ? { expire: swept } : {}) }, null, 2)}\n`);
  else io.stdout(renderText(deps.store.location, rows, unreadable, swept));
  if (failed) io.stderr(`scc-responder: approvals: ${swept?.filter((s) => s.result === 'failed').length} record(s) could not be closed (see above)\n`);
  return failed ? 1 : 0;
}

export async function approvals(args: string[], io: ApprovalsIO): Promise<number> {
  const values = parse(args);
  if (values === 'help') {
    io.stdout(`${APPROVALS_USAGE}\n`);
    return 0;
  }
  // No cluster access: the sweep never needs one, and building it would read a kubeconfig.
  const overrides: Partial<ResponderConfig> = { logLevel: values['verbose'] ? 'info' : (io.env['LOG_LEVEL'] ?? 'silent'), logs: false, clusterAccess: 'none' };
  if (typeof values['evidence'] === 'string') overrides.evidence = parseEvidenceLocation(values['evidence'], 'cli', '--evidence');
  const runtime = createRuntime({ surface: 'cli', env: io.env, configOverrides: overrides, auditDestination: { write: (s: string) => io.stderr(s) }, ...(io.now ? { now: io.now } : {}) });
  try {
    return await runApprovals(values, runtime, io);
  } finally {
    await runtime.audit.flush();
  }
}
