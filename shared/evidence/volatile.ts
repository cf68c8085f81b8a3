// Volatile state, read first (RFC 3227 order of volatility) by the trusted collector from the
// kernel's /proc in the target's pid namespace: the process table (pid, ppid, uid, state,
// start time, exe link, cmdline with secrets redacted), the suspect's open files and mapped
// files, and the pod's sockets (/proc/<pid>/net/{tcp,tcp6,udp,udp6}) with their inodes mapped
// to the pids holding them. A handful of execs of busybox `ls` and `head -c`, each bounded,
// the independent ones at once (startVolatile).
import { redactString } from '../finding/redact.js';
import type { Incident } from '../finding/types.js';
import { Deadline } from './deadline.js';
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

/** Our own exec into our own container failed (RBAC, API, a broken image): not the target's doing. */
export class CollectorExecError extends Error {
  constructor(override readonly cause: unknown, readonly result?: { stderr: string; message?: string }) {
    super(`the collector could not list /proc: ${cause instanceof Error ? cause.message : String(cause ?? result?.message ?? result?.stderr ?? 'no output')}`);
  }
}

/** The pids of the namespace (the one read both the volatile state and the binary copy need). */
async function listPids(x: TextExec, problems: string[]): Promise<number[]> {
  const listed = await execText(x, ['ls', '/proc'], MAX_OUTPUT);
  if (listed.error !== undefined) throw new CollectorExecError(listed.error);
  if (listed.result && listed.result.exitCode !== 0) throw new CollectorExecError(undefined, listed.result);
  const pids = parsePidList(listed.stdout.toString('latin1'));
  if (pids.length <= MAX_PIDS) return pids;
  problems.push(`${pids.length} processes: only the first ${MAX_PIDS} were read`);
  return pids.slice(0, MAX_PIDS);
}

/** Exe links (`ls -l` over every pid's exe: the only read here that needs ptrace access). */
async function readExeLinks(x: TextExec, pids: readonly number[], problems: string[]): Promise<Map<number, string>> {
  const links = await execText(x, ['ls', '-l', ...files(pids, 'exe')], MAX_OUTPUT);
  if (links.error !== undefined) problems.push(`ls -l /proc/<pid>/exe: ${String(links.error instanceof Error ? links.error.message : links.error)}`);
  const denied = (links.result?.stderr ?? '').split('\n').filter((l) => /Permission denied/.test(l)).length;
  if (denied > 0) problems.push(`${denied} exe link(s) unreadable (ptrace access: the collector's uid differs from the process's, or it is not dumpable)`);
  return parseExeLinks(links.stdout.toString('utf8'));
}

/** What finds the finding's process: each pid's exe link and cmdline. */
interface Identity {
  exe: Map<number, string>;
  cmdlines: Map<string, Buffer>;
}

function identityOf(pid: number, id: Identity): Pick<ProcessEntry, 'exe' | 'cmdline'> {
  const link = id.exe.get(pid);
  return { ...(link === undefined ? {} : { exe: link }), cmdline: parseCmdline(id.cmdlines.get(`/proc/${pid}/cmdline`) ?? Buffer.alloc(0)).map(redactString) };
}

/** The process table: the pids whose status could be read, with ids, state and start time. */
function processTable(pids: readonly number[], id: Identity, statuses: Map<string, Buffer>, stats: Map<string, Buffer>): ProcessEntry[] {
  return pids
    .filter((pid) => statuses.has(`/proc/${pid}/status`))
    .map((pid) => {
      const st = parseStatus(statuses.get(`/proc/${pid}/status`)?.toString('utf8') ?? '');
      const start = parseStartTime(stats.get(`/proc/${pid}/stat`)?.toString('utf8') ?? '');
      const { exe, cmdline } = identityOf(pid, id);
      return {
        pid,
        ...(st.ppid === undefined ? {} : { ppid: st.ppid }),
        ...(st.uid === undefined ? {} : { uid: st.uid }),
        ...(st.state === undefined ? {} : { state: st.state }),
        ...(start === undefined ? {} : { startTime: start }),
        ...(exe === undefined ? {} : { exe }),
        cmdline,
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

const NET_PROTOS = ['tcp', 'tcp6', 'udp', 'udp6'] as const;

/** Open fds of every process and the pod's sockets (the net tables of the first pid), read at once. */
async function readSockets(x: TextExec, pids: readonly number[], problems: string[]): Promise<{ fds: Map<number, { fd: number; target: string }[]>; sockets: (NetSocket & { pids: number[] })[] }> {
  const first = pids[0];
  if (first === undefined) return { fds: new Map(), sockets: [] };
  const fdDirs = files(pids.slice(0, 64), 'fd');
  const [listing, tables] = await Promise.all([
    execText(x, ['ls', '-l', ...fdDirs], MAX_OUTPUT),
    headAll(x, NET_PROTOS.map((p) => `/proc/${first}/net/${p}`), 256 * 1024, problems),
  ]);
  if (listing.error !== undefined) problems.push(`ls -l /proc/<pid>/fd: ${String(listing.error instanceof Error ? listing.error.message : listing.error)}`);
  let text = listing.stdout.toString('utf8');
  if (fdDirs.length === 1) text = `${fdDirs[0] ?? ''}:\n${text}`;
  const fds = parseFdListing(text);
  const byInode = new Map<number, number[]>();
  for (const [pid, list] of fds) {
    for (const f of list) {
      const inode = socketInode(f.target);
      if (inode !== undefined) byInode.set(inode, [...(byInode.get(inode) ?? []), pid]);
    }
  }
  const sockets = NET_PROTOS.flatMap((p) => parseNetTable(tables.get(`/proc/${first}/net/${p}`)?.toString('latin1') ?? '', p).map((s) => ({ ...s, pids: byInode.get(s.inode) ?? [] })));
  return { fds, sockets };
}

/** What the binary copy needs, ready before the rest of the volatile state. */
export interface ProcessSearch {
  /** The listed pids whose exe link or cmdline could be read (no status yet). */
  processes: ProcessEntry[];
  /** Pids matching the finding, best first (findSuspects). */
  suspects: number[];
}

export interface VolatileRun {
  /** Resolves once exe links and cmdlines are read. Rejects (CollectorExecError) when /proc cannot be listed. */
  search: Promise<ProcessSearch>;
  /** The whole state; rejects as `search` does. */
  state: Promise<VolatileState>;
}

const ignore = (): void => undefined;

/** The suspect's mapped files (`head -c` of its maps). */
async function readMaps(x: TextExec, pid: number | undefined, problems: string[]): Promise<string[]> {
  if (pid === undefined) return [];
  const maps = await headAll(x, [`/proc/${pid}/maps`], 256 * 1024, problems);
  const lines = (maps.get(`/proc/${pid}/maps`)?.toString('utf8') ?? '').split('\n');
  return [...new Set(lines.map((l) => l.trim().split(/\s+/).slice(5).join(' ')).filter((f) => f.startsWith('/')))].slice(0, 500);
}

/**
 * Reads the volatile state, the reads that do not depend on each other at once (one exec and
 * one WebSocket each, argv only, each with its own output cap):
 *   1. `ls /proc`: the pids; its failure is ours (RBAC, API, image) and rejects both promises;
 *   2. together: `ls -l` of the exe links, `head -c` of cmdline, status, stat, `ls -l` of the
 *      fd directories, `head -c` of the net tables;
 *   3. as soon as exe links and cmdlines name the suspect (`search`): `head -c` of its maps,
 *      while the caller already reads the binary.
 * Reads after the first have `boundMs` at most: a read the target can stall (a /proc file whose
 * reader waits on the process's mmap lock) costs the state that read, listed in `problems`,
 * never the binary or containment.
 */
export function startVolatile(x: TextExec, incident: Incident, path: string, boundMs: number): VolatileRun {
  const problems: string[] = [];
  const pids = listPids(x, problems);
  const bounded = new Deadline(boundMs, x.deadline.signal, 'reading volatile state');
  const y: TextExec = { ...x, deadline: bounded };
  const reads = pids.then((list) => ({
    exe: readExeLinks(y, list, problems),
    cmdlines: headAll(y, files(list, 'cmdline'), 4096, problems),
    statuses: headAll(y, files(list, 'status'), 2048, problems),
    stats: headAll(y, files(list, 'stat'), 1024, problems),
    sockets: readSockets(y, list, problems),
  }));
  const identity = reads.then(async (r): Promise<Identity> => ({ exe: await r.exe, cmdlines: await r.cmdlines }));
  const search = Promise.all([pids, identity]).then(([list, id]): ProcessSearch => {
    const processes = list.filter((pid) => id.exe.has(pid) || id.cmdlines.has(`/proc/${pid}/cmdline`)).map((pid) => ({ pid, ...identityOf(pid, id) }));
    return { processes, suspects: findSuspects(processes, incident, path) };
  });
  const main = search.then((s) => s.suspects[0]);
  const mapped = main.then((pid) => readMaps(y, pid, problems));
  const state = (async (): Promise<VolatileState> => {
    const r = await reads;
    const [list, id, statuses, stats, { fds, sockets }, pid, mappedFiles] = await Promise.all([pids, identity, r.statuses, r.stats, r.sockets, main, mapped]);
    // The table includes the collector's own `sleep` (it shares the namespace): listed as seen,
    // since any filter by name would also hide an attacker's process of that name.
    const table = processTable(list, id, statuses, stats);
    const suspect = pid === undefined ? undefined : { pid, fds: fds.get(pid) ?? [], mappedFiles };
    return { schema: VOLATILE_SCHEMA, findingName: incident.findingName, collectedAt: new Date().toISOString(), processes: table, suspects: findSuspects(table, incident, path), ...(suspect ? { suspect } : {}), sockets, problems, truncated: false };
  })().finally(() => bounded.dispose());
  // When /proc cannot be listed every promise here rejects with that one error, which the caller
  // reads from `search` (and may stop there): none of them is left unhandled.
  for (const p of [pids, reads, identity, search, main, mapped, state]) p.catch(ignore);
  return { search, state };
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
