// `scc-responder undo FINDING_NAME`: reverts what a response to that finding did and can be
// reverted (shared/respond/undo.ts decides and checks ownership). It finds the finding's
// folder in the evidence store by its id, reads the newest stored report and the effect
// records beside it, reverts against the cluster the report names, writes an audit entry
// per item and, when something was reverted, the `reverted` marks.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseEvidenceLocation, type ResponderConfig } from '../../shared/config.js';
import { keySegment } from '../../shared/ledger/keys.js';
import type { EvidenceStore } from '../../shared/ports.js';
import { readLatestReport } from '../../shared/record/idempotency.js';
import { readReport } from '../../shared/record/report-object.js';
import { keysIn } from '../../shared/ledger/layout.js';
import { undoMarks } from '../../shared/record/marks.js';
import { loadPriorEffects } from '../../shared/respond/prior-effects.js';
import { REPORT_SCHEMA_VERSION, type TriageReport } from '../../shared/respond/report.js';
import { executeUndo, planUndo, type UndoResult } from '../../shared/respond/undo.js';
import { createRuntime } from '../composition/runtime.js';

export const UNDO_USAGE = `Usage: scc-responder undo FINDING_NAME [options]

Reverts what the responder did for this finding and can be reverted: removes the quarantine
NetworkPolicy and label, uncordons the node it cordoned, removes its labels/annotations.
It touches only what its own records (the stored report and effect records) say it created
and what still carries its ownership labels and values; a deleted pod cannot be undone.
With SCC_RESPONDER_MARKS=true it marks the finding scc_responder_state=reverted.
Options:
  --evidence DIR|gs://BUCKET/PREFIX   where the finding's report is stored (default ./.evidence)
  --kube-context CTX                  kubeconfig context (default: the current context)
  --format text|json                  output format (default text)
  --verbose                           audit log entries (JSON) on stderr
  -h, --help                          this help
Exit codes: 0 done (including "nothing to revert"), 1 a revert failed or no record, 2 bad input.`;

export class UndoInputError extends Error {}

interface UndoIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

function parse(args: string[]): { findingName: string; values: Record<string, string | boolean | undefined> } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { evidence: { type: 'string' }, 'kube-context': { type: 'string' }, format: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    throw new UndoInputError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UndoInputError(positionals.length === 0 ? 'undo needs a FINDING_NAME' : `undo takes exactly one FINDING_NAME (got ${positionals.length})`);
  const findingName = positionals[0] as string;
  if (!/^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/(locations\/[^/]+\/)?findings\/[A-Za-z0-9_-]+$/.test(findingName)) {
    throw new UndoInputError(`not an SCC finding name: ${JSON.stringify(findingName.slice(0, 200))} (expected organizations/O/sources/S/[locations/L/]findings/F)`);
  }
  if (values.format !== undefined && values.format !== 'text' && values.format !== 'json') throw new UndoInputError(`--format must be text or json (got ${values.format})`);
  return { findingName, values };
}

/** The finding's folder: `<project>/<cluster>/<namespace>/<pod>/<finding-id>` holding a report. */
async function findFolder(store: EvidenceStore, findingId: string): Promise<string[]> {
  const seg = keySegment(findingId);
  const folders = new Set<string>();
  for (const key of await store.list('')) {
    const m = /^(.*)\/report(?:-\d+)?\.json$/.exec(key);
    if (m?.[1] && m[1].split('/').at(-1) === seg) folders.add(m[1]);
  }
  return [...folders];
}

async function loadRecords(store: EvidenceStore, findingName: string): Promise<{ report: TriageReport; folder: string } | string> {
  const findingId = findingName.split('/').at(-1) ?? '';
  const folders = await findFolder(store, findingId);
  const found: { report: TriageReport; folder: string }[] = [];
  for (const folder of folders) {
    const latest = await readLatestReport(store, folder);
    const r = latest?.report;
    if (r && r['schemaVersion'] === REPORT_SCHEMA_VERSION && r['findingName'] === findingName) found.push({ report: r as unknown as TriageReport, folder });
  }
  if (found.length === 1 && found[0]) return { report: await withApproved(store, found[0]), folder: found[0].folder };
  return found.length === 0 ? `no stored report of ${findingName} under ${store.location}` : `${found.length} stored folders claim ${findingName}: ${found.map((f) => f.folder).join(', ')}; refusing to guess`;
}

/**
 * approve mode: the actions an approval executed are in the decision's report
 * (<folder>/approval/report.json), not in the finding's: undo plans over both.
 */
async function withApproved(store: EvidenceStore, found: { report: TriageReport; folder: string }): Promise<TriageReport> {
  const decided = (await readReport(store, keysIn(found.folder).approvalFolder)) as Partial<TriageReport> | null;
  if (!decided || decided.schemaVersion !== REPORT_SCHEMA_VERSION || decided.findingName !== found.report.findingName || !Array.isArray(decided.actions)) return found.report;
  return { ...found.report, actions: [...found.report.actions, ...decided.actions] };
}

function render(findingName: string, results: readonly UndoResult[], notes: readonly string[]): string {
  const lines = [`undo ${findingName}:`];
  if (results.length === 0) lines.push('  nothing this responder changed is recorded for this finding');
  for (const r of results) lines.push(`  ${r.status.padEnd(13)} ${r.action} ${r.target}: ${r.detail}`);
  for (const n of notes) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}

export async function undo(args: string[], io: UndoIO): Promise<number> {
  const parsed = parse(args);
  if (parsed === 'help') {
    io.stdout(`${UNDO_USAGE}\n`);
    return 0;
  }
  const { findingName, values } = parsed;
  const overrides: Partial<ResponderConfig> = { logLevel: values['verbose'] ? 'info' : (io.env['LOG_LEVEL'] ?? 'silent'), logs: false };
  if (typeof values['kube-context'] === 'string') overrides.kubeContext = values['kube-context'];
  if (typeof values['evidence'] === 'string') overrides.evidence = parseEvidenceLocation(values['evidence'], 'cli', '--evidence');
  const runtime = createRuntime({ surface: 'cli', env: io.env, configOverrides: overrides, auditDestination: { write: (s: string) => io.stderr(s) } });
  try {
    const adapters = await runtime.adapters();
    if (!adapters.evidence) throw new UndoInputError('undo reads the stored report: it needs an evidence store (not --evidence none)');
    const records = await loadRecords(adapters.evidence, findingName);
    if (typeof records === 'string') {
      io.stderr(`scc-responder: ${records}\n`);
      return 1;
    }
    const { report, folder } = records;
    const plan = planUndo(report, await loadPriorEffects(adapters.evidence, folder));
    const cluster = report.incident.cluster;
    if (plan.items.length > 0 && (!cluster || !adapters.directory)) {
      io.stderr(`scc-responder: cannot reach the cluster to revert: ${adapters.noClusterAccessReason ?? 'the finding names no GKE cluster'}\n`);
      return 1;
    }
    const results = plan.items.length > 0 && cluster && adapters.directory ? await executeUndo(plan, await adapters.directory.workloads(cluster)) : [];
    const runId = randomUUID();
    const audit = runtime.audit.forFinding(findingName, { ...(cluster ? { cluster: cluster.name, project: cluster.project } : {}) }, { runId });
    for (const r of results) (r.status === 'failed' ? audit.error : r.status === 'refused' ? audit.warning : audit.info).call(audit, `undo ${r.action} ${r.target}: ${r.status}: ${r.detail}`, { undo: r });
    audit.info(`undo finished: ${results.filter((r) => r.status === 'reverted').length} reverted of ${results.length}`, { undo: { notes: plan.notes, reportRun: report.runId } });
    if (results.some((r) => r.status === 'reverted') && adapters.marks) {
      await adapters.marks.update(report.incident, undoMarks(runId, results)).catch((err: unknown) => {
        const why = err instanceof Error ? err.message : String(err);
        audit.warning(`undo marks not written: ${why}`);
        io.stderr(`scc-responder: the marks were not written: ${why}\n`);
      });
    }
    io.stdout(values['format'] === 'json' ? `${JSON.stringify({ findingName, runId, results, notes: plan.notes }, null, 2)}\n` : render(findingName, results, plan.notes));
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  } finally {
    await runtime.audit.flush();
  }
}
