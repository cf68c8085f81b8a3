// Volatile state, read first (RFC 3227 order of volatility) by the trusted collector from the
// kernel's /proc in the target's pid namespace: the process table (pid, ppid, uid, state,
// start time, exe link, cmdline with secrets redacted), the suspect's open files and mapped
// files, and the pod's sockets (/proc/<pid>/net/{tcp,tcp6,udp,udp6}) with their inodes mapped
// to the pids holding them. A handful of execs of busybox `ls` and `head -c`, each bounded.
import { redactString } from '../finding/redact.js';
import type { Incident } from '../finding/types.js';
import { execText, type TextExec } from './exec-text.js';
import { isRemotePeer, parseCmdline, parseExeLinks, parseNetTable, parsePidList, parseStartTime, parseStatus, socketInode, splitHeadOutput, type NetSocket } from './proc-parse.js';

export const VOLATILE_SCHEMA = 'scc-container-responder/volatile-state/v1' as const;
/** Processes read in detail (a pod rarely has more; a fork bomb must not slow us down). */
const MAX_PIDS = 256;
/** Per-command output cap. */
const MAX_OUTPUT = 512 * 1024;
/** Size cap of the stored JSON. */
export const MAX_VOLATILE_BYTES = 1024 * 1024;

export interface ProcessEntry {
  pid: number;
  ppid?: number;
  uid?: number;
  state?: string;
  startTime?: number;
  /** Link target of /proc/<pid>/exe (" (deleted)" when the file is gone); absent when unreadable. */
  exe?: string;
  cmdline: string[];
}

export interface VolatileState {
  schema: typeof VOLATILE_SCHEMA;
  findingName: string;
  collectedAt: string;
  processes: ProcessEntry[];
  /** Pids matching the finding's binary path (and arguments), best first. */
  suspects: number[];
  suspect?: { pid: number; fds: { fd: number; target: string }[]; mappedFiles: string[] };
  sockets: (NetSocket & { pids: number[] })[];
  /** What could not be read, and caps that cut the data. */
  problems: string[];
  truncated: boolean;
}

const stripDeleted = (link: string): string => link.replace(/ \(deleted\)$/, '');

/** Finding processes first: exe link (or argv[0]) equal to the path; equal arguments break ties. */
export function findSuspects(processes: readonly ProcessEntry[], incident: Incident, path: string): number[] {
  const args = incident.args;
  const scored = processes
    .map((p) => {
      const exeMatch = p.exe !== undefined && stripDeleted(p.exe) === path;
      const argvMatch = p.cmdline[0] === path;
      if (!exeMatch && !argvMatch) return undefined;
      // SCC's args may or may not include argv[0].
      const want = JSON.stringify(args.map(redactString));
      const argsMatch = args.length > 0 && (JSON.stringify(p.cmdline) === want || JSON.stringify(p.cmdline.slice(1)) === want);
      return { pid: p.pid, score: (exeMatch ? 2 : 0) + (argsMatch ? 1 : 0) };
    })
    .filter((x): x is { pid: number; score: number } => x !== undefined);
  return scored.sort((a, b) => b.score - a.score || a.pid - b.pid).map((x) => x.pid);
}

function files(pids: readonly number[], leaf: string): string[] {
  return pids.map((p) => `/proc/${p}/${leaf}`);
}

async function headAll(x: TextExec, paths: string[], perFile: number, problems: string[]): Promise<Map<string, Buffer>> {
  if (paths.length === 0) return new Map();
  const r = await execText(x, ['head', '-c', String(perFile), ...paths], MAX_OUTPUT);
  if (r.error !== undefined) problems.push(`head ${paths[0] ?? ''}...: ${String(r.error instanceof Error ? r.error.message : r.error)}`);
  if (r.cut) problems.push(`head output cut at ${MAX_OUTPUT} bytes`);
  return splitHeadOutput(r.stdout, paths.length === 1 ? paths[0] : undefined);
}

/** The process table (everything but the exe links needs no ptrace access). */
/** Our own exec into our own container failed (RBAC, API, a broken image): not the target's doing. */
export class CollectorExecError extends Error {
  constructor(override readonly cause: unknown, readonly result?: { stderr: string; message?: string }) {
    super(`the collector could not list /proc: ${cause instanceof Error ? cause.message : String(cause ?? result?.message ?? result?.stderr ?? 'no output')}`);
  }
}

async function readProcesses(x: TextExec, problems: string[]): Promise<ProcessEntry[]> {
  const listed = await execText(x, ['ls', '/proc'], MAX_OUTPUT);
  if (listed.error !== undefined) throw new CollectorExecError(listed.error);
  if (listed.result && listed.result.exitCode !== 0) throw new CollectorExecError(undefined, listed.result);
  let pids = parsePidList(listed.stdout.toString('latin1'));
  if (pids.length > MAX_PIDS) {
    problems.push(`${pids.length} processes: only the first ${MAX_PIDS} were read`);
    pids = pids.slice(0, MAX_PIDS);
  }
  const links = await execText(x, ['ls', '-l', ...files(pids, 'exe')], MAX_OUTPUT);
  const denied = (links.result?.stderr ?? '').split('\n').filter((l) => /Permission denied/.test(l)).length;
  if (denied > 0) problems.push(`${denied} exe link(s) unreadable (ptrace access: the collector's uid differs from the process's, or it is not dumpable)`);
  const exe = parseExeLinks(links.stdout.toString('utf8'));
  const cmdlines = await headAll(x, files(pids, 'cmdline'), 4096, problems);
  const statuses = await headAll(x, files(pids, 'status'), 2048, problems);
  const stats = await headAll(x, files(pids, 'stat'), 1024, problems);
  return pids
    .filter((pid) => statuses.has(`/proc/${pid}/status`))
    .map((pid) => {
      const st = parseStatus(statuses.get(`/proc/${pid}/status`)?.toString('utf8') ?? '');
      const start = parseStartTime(stats.get(`/proc/${pid}/stat`)?.toString('utf8') ?? '');
      const link = exe.get(pid);
      return {
        pid,
        ...(st.ppid === undefined ? {} : { ppid: st.ppid }),
        ...(st.uid === undefined ? {} : { uid: st.uid }),
        ...(st.state === undefined ? {} : { state: st.state }),
        ...(start === undefined ? {} : { startTime: start }),
        ...(link === undefined ? {} : { exe: link }),
        cmdline: parseCmdline(cmdlines.get(`/proc/${pid}/cmdline`) ?? Buffer.alloc(0)).map(redactString),
      };
    });
}

/** `ls -l /proc/A/fd /proc/B/fd` -> pid -> fds (headers `/proc/A/fd:` separate the listings). */
function parseFdListing(text: string): Map<number, { fd: number; target: string }[]> {
  const out = new Map<number, { fd: number; target: string }[]>();
  let current: number | undefined;
  for (const line of text.split('\n')) {
    const header = /^\/proc\/(\d+)\/fd:?$/.exec(line.trim());
    if (header) {
      current = Number(header[1]);
      out.set(current, []);
      continue;
    }
    const m = /\s(\d+) -> (.*)$/.exec(line);
    if (m && current !== undefined) out.get(current)?.push({ fd: Number(m[1]), target: m[2] ?? '' });
  }
  return out;
}

async function readSockets(x: TextExec, pids: readonly number[], problems: string[]): Promise<{ fds: Map<number, { fd: number; target: string }[]>; sockets: (NetSocket & { pids: number[] })[] }> {
  const first = pids[0];
  if (first === undefined) return { fds: new Map(), sockets: [] };
  const fdDirs = files(pids.slice(0, 64), 'fd');
  const listing = await execText(x, ['ls', '-l', ...fdDirs], MAX_OUTPUT);
  let text = listing.stdout.toString('utf8');
  if (fdDirs.length === 1) text = `${fdDirs[0] ?? ''}:\n${text}`;
  const fds = parseFdListing(text);
  const protos = ['tcp', 'tcp6', 'udp', 'udp6'] as const;
  const tables = await headAll(x, protos.map((p) => `/proc/${first}/net/${p}`), 256 * 1024, problems);
  const byInode = new Map<number, number[]>();
  for (const [pid, list] of fds) {
    for (const f of list) {
      const inode = socketInode(f.target);
      if (inode !== undefined) byInode.set(inode, [...(byInode.get(inode) ?? []), pid]);
    }
  }
  const sockets = protos.flatMap((p) => parseNetTable(tables.get(`/proc/${first}/net/${p}`)?.toString('latin1') ?? '', p).map((s) => ({ ...s, pids: byInode.get(s.inode) ?? [] })));
  return { fds, sockets };
}

/**
 * Reads the volatile state. What cannot be read is listed in `problems`; only a failure of
 * the very first exec (our RBAC, the API, our image) throws CollectorExecError.
 */
export async function collectVolatile(x: TextExec, incident: Incident, path: string): Promise<VolatileState> {
  const problems: string[] = [];
  // The table includes the collector's own `sleep` (it shares the namespace): listed as seen,
  // since any filter by name would also hide an attacker's process of that name.
  const table = await readProcesses(x, problems);
  const suspects = findSuspects(table, incident, path);
  const { fds, sockets } = await readSockets(x, table.map((p) => p.pid), problems);
  const main = suspects[0];
  let suspect: VolatileState['suspect'];
  if (main !== undefined) {
    const maps = await headAll(x, [`/proc/${main}/maps`], 256 * 1024, problems);
    const mapped = [...new Set((maps.get(`/proc/${main}/maps`)?.toString('utf8') ?? '').split('\n').map((l) => l.trim().split(/\s+/).slice(5).join(' ')).filter((f) => f.startsWith('/')))];
    suspect = { pid: main, fds: fds.get(main) ?? [], mappedFiles: mapped.slice(0, 500) };
  }
  return { schema: VOLATILE_SCHEMA, findingName: incident.findingName, collectedAt: new Date().toISOString(), processes: table, suspects, ...(suspect ? { suspect } : {}), sockets, problems, truncated: false };
}

/** JSON of at most MAX_VOLATILE_BYTES: long lists are cut (and `truncated` set) until it fits. */
export function boundedJson(state: VolatileState): Buffer {
  let s = state;
  for (let keep = 1000; ; keep = Math.floor(keep / 2)) {
    const buf = Buffer.from(`${JSON.stringify(s, null, 1)}\n`);
    if (buf.length <= MAX_VOLATILE_BYTES || keep < 1) return buf.subarray(0, MAX_VOLATILE_BYTES);
    s = { ...state, processes: state.processes.slice(0, keep), sockets: state.sockets.slice(0, keep), truncated: true, ...(state.suspect ? { suspect: { ...state.suspect, fds: state.suspect.fds.slice(0, keep), mappedFiles: state.suspect.mappedFiles.slice(0, keep) } } : {}) };
  }
}

/** For the report: remote endpoints first ("where did it talk to"), then listeners. */
export function summariseSockets(state: VolatileState): { remoteEndpoints: string[]; listening: string[] } {
  const who = (s: { pids: number[] }): string => (s.pids.length > 0 ? ` pid ${s.pids.join(',')}` : '');
  const remote = state.sockets
    .filter((s) => isRemotePeer(s.remote) && s.state !== 'LISTEN')
    .sort((a, b) => Number(b.pids.some((p) => state.suspects.includes(p))) - Number(a.pids.some((p) => state.suspects.includes(p))))
    .map((s) => `${s.remote} ${s.proto} ${s.state} from ${s.local}${who(s)}`);
  const listening = state.sockets.filter((s) => s.state === 'LISTEN' || (s.proto.startsWith('udp') && !isRemotePeer(s.remote))).map((s) => `${s.local} ${s.proto}${who(s)}`);
  return { remoteEndpoints: remote.slice(0, 50), listening: listening.slice(0, 50) };
}
