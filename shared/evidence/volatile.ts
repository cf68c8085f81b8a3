// Volatile state, read first (RFC 3227 order of volatility) by the trusted collector from the
// kernel's /proc in the target's pid namespace: the process table (pid, ppid, uid, state,
// start time, exe link, cmdline with secrets redacted), the suspect's open files and mapped
// files, and the pod's sockets (/proc/<pid>/net/{tcp,tcp6,udp,udp6}) with their inodes mapped
// to the pids holding them. A handful of execs of busybox `find`, `ls` and `head -c`, each
// bounded, the independent ones at once (startVolatile).
import { redactString } from '../finding/redact.js';
import type { Incident } from '../finding/types.js';
import { Deadline } from './deadline.js';
import { execText, type TextExec } from './exec-text.js';
import { isRemotePeer, parseCmdline, parseNetTable, parsePidList, parseStartTime, parseStatus, socketInode, splitHeadOutput, type NetSocket } from './proc-parse.js';
import { listedReads, MAX_OUTPUT, MAX_PIDS, sweptReads, type Fd, type PidReads } from './proc-reads.js';

export const VOLATILE_SCHEMA = 'scc-container-responder/volatile-state/v1' as const;
export { MAX_PIDS } from './proc-reads.js';
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

/** `head -v -c N` of a few files named here. */
async function headAll(x: TextExec, paths: string[], perFile: number, problems: string[]): Promise<Map<string, Buffer>> {
  if (paths.length === 0) return new Map();
  const r = await execText(x, ['head', '-v', '-c', String(perFile), ...paths], MAX_OUTPUT);
  if (r.error !== undefined) problems.push(`head ${paths[0] ?? ''}...: ${String(r.error instanceof Error ? r.error.message : r.error)}`);
  if (r.cut) problems.push(`head output cut at ${MAX_OUTPUT} bytes`);
  return splitHeadOutput(r.stdout, perFile).files;
}

/** Our own exec into our own container failed (RBAC, API, a broken image): not the target's doing. */
export class CollectorExecError extends Error {
  constructor(override readonly cause: unknown, readonly result?: { stderr: string; message?: string }) {
    super(`the collector could not list /proc: ${cause instanceof Error ? cause.message : String(cause ?? result?.message ?? result?.stderr ?? 'no output')}`);
  }
}

/** Every pid of the namespace (`ls /proc`: one readdir, however many there are); its failure is ours. */
async function listPids(x: TextExec): Promise<number[]> {
  const listed = await execText(x, ['ls', '/proc'], MAX_OUTPUT);
  if (listed.error !== undefined) throw new CollectorExecError(listed.error);
  if (listed.result && listed.result.exitCode !== 0) throw new CollectorExecError(undefined, listed.result);
  const text = listed.stdout.toString('latin1');
  // Cut by the cap (a flood): the last name may be cut in half.
  return parsePidList(listed.cut ? text.slice(0, text.lastIndexOf('\n') + 1) : text);
}

/** What finds the finding's process: each pid's exe link and cmdline. */
interface Identity {
  exe: Map<number, string>;
  cmdlines: Map<number, Buffer>;
}

function identityOf(pid: number, id: Identity): Pick<ProcessEntry, 'exe' | 'cmdline'> {
  const link = id.exe.get(pid);
  return { ...(link === undefined ? {} : { exe: link }), cmdline: parseCmdline(id.cmdlines.get(pid) ?? Buffer.alloc(0)).map(redactString) };
}

/** The process table: the pids whose status could be read, with ids, state and start time. */
function processTable(pids: readonly number[], id: Identity, statuses: Map<number, Buffer>, stats: Map<number, Buffer>): ProcessEntry[] {
  return pids
    .filter((pid) => statuses.has(pid))
    .map((pid) => {
      const st = parseStatus(statuses.get(pid)?.toString('utf8') ?? '');
      const start = parseStartTime(stats.get(pid)?.toString('utf8') ?? '');
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

const NET_PROTOS = ['tcp', 'tcp6', 'udp', 'udp6'] as const;

/**
 * The pod's sockets: the net tables of pid 1 (every pid namespace has one; the collector shares
 * the target's, and the pod shares one network namespace), their inodes mapped to the pids
 * whose open fds hold them.
 */
function readNetTables(x: TextExec, problems: string[]): Promise<Map<string, Buffer>> {
  return headAll(x, NET_PROTOS.map((p) => `/proc/1/net/${p}`), 256 * 1024, problems);
}

async function readSockets(fdsRead: Promise<Map<number, Fd[]>>, tablesRead: Promise<Map<string, Buffer>>): Promise<{ fds: Map<number, Fd[]>; sockets: (NetSocket & { pids: number[] })[] }> {
  const [fds, tables] = await Promise.all([fdsRead, tablesRead]);
  const byInode = new Map<number, number[]>();
  for (const [pid, list] of fds) {
    for (const f of list) {
      const inode = socketInode(f.target);
      if (inode !== undefined) byInode.set(inode, [...(byInode.get(inode) ?? []), pid]);
    }
  }
  const sockets = NET_PROTOS.flatMap((p) => parseNetTable(tables.get(`/proc/1/net/${p}`)?.toString('latin1') ?? '', p).map((s) => ({ ...s, pids: byInode.get(s.inode) ?? [] })));
  return { fds, sockets };
}

/** What the binary copy needs, ready before the rest of the volatile state. */
export interface ProcessSearch {
  /** The listed pids whose exe link or cmdline could be read (no status yet). */
  processes: ProcessEntry[];
  /** Pids matching the finding, best first (findSuspects). */
  suspects: number[];
}

/** Where the binary will most likely be read first, known from the exe links alone. */
export interface EarlySource {
  /** `/proc/<pid>/exe`, or `/proc/<pid>/root<path>` when no process runs the file. */
  source: string;
  /** The process running it (exe sources only). */
  pid?: number;
}

export interface VolatileRun {
  /**
   * Resolves with the exe links, before the cmdlines: the one pid whose exe link is the path
   * when exactly one is (no cmdline can outrank it: findSuspects scores an exe match 2 or 3, a
   * process without one at most 1, so it is `search`'s first suspect); when none is, the file
   * under the first listed process's root, which the search reads first unless a cmdline names
   * a suspect (the caller keeps the copy only once the search confirms it). Otherwise undefined.
   */
  early: Promise<EarlySource | undefined>;
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

/** The reads in use and the pids they cover (at most MAX_PIDS). */
interface Chosen {
  pids: number[];
  reads: PidReads;
  /** Named by find (its problems belong to the state), or read by pid. */
  swept: boolean;
}

/**
 * Swept reads (find) unless `ls /proc` lists more than MAX_PIDS processes or find could not
 * list anything: then the swept ones are stopped and the first MAX_PIDS pids are read by name,
 * one round later. Pids come from both listings (a process may start or end between them), so
 * a header or line naming a pid neither listed is not believed.
 */
async function chooseReads(listing: Promise<number[]>, swept: PidReads, sweep: { stop: () => void; problems: string[] }, y: TextExec, problems: string[]): Promise<Chosen> {
  let all: number[];
  try {
    all = await listing;
  } catch (err) {
    sweep.stop();
    throw err;
  }
  if (all.length > MAX_PIDS) {
    sweep.stop();
    problems.push(`${all.length} processes: only the first ${MAX_PIDS} were read`);
    const pids = all.slice(0, MAX_PIDS);
    return { pids, reads: listedReads(y, pids, problems), swept: false };
  }
  const exe = await swept.exe;
  if (exe === undefined) {
    sweep.stop();
    problems.push(...sweep.problems);
    return { pids: all, reads: listedReads(y, all, problems), swept: false };
  }
  return { pids: pidUnion(all, exe.pids, problems), reads: { ...swept, exe: Promise.resolve(exe) }, swept: true };
}

/** Pids of `ls /proc` and of find's exe listing, ascending, the first MAX_PIDS kept. */
export function pidUnion(listed: readonly number[], found: readonly number[], problems: string[]): number[] {
  const all = [...new Set([...listed, ...found])].sort((a, b) => a - b);
  // ls /proc listed at most MAX_PIDS, but processes started before find listed its own.
  if (all.length > MAX_PIDS) problems.push(`${all.length} processes (ls /proc and find together): only the first ${MAX_PIDS} were read`);
  return all.slice(0, MAX_PIDS);
}

async function searchOf(chosen: Chosen, incident: Incident, path: string): Promise<{ search: ProcessSearch; id: Identity }> {
  const [exe, cmdlines] = await Promise.all([chosen.reads.exe, chosen.reads.cmdlines]);
  const id: Identity = { exe: exe?.links ?? new Map<number, string>(), cmdlines };
  const processes = chosen.pids.filter((pid) => id.exe.has(pid) || id.cmdlines.has(pid)).map((pid) => ({ pid, ...identityOf(pid, id) }));
  return { search: { processes, suspects: findSuspects(processes, incident, path) }, id };
}

async function earlyOf(chosen: Chosen, path: string): Promise<EarlySource | undefined> {
  const exe = await chosen.reads.exe;
  if (exe === undefined) return undefined;
  const listed = new Set(chosen.pids);
  const hits = [...exe.links].filter(([pid, link]) => listed.has(pid) && stripDeleted(link) === path);
  const pid = hits[0]?.[0];
  if (hits.length === 1 && pid !== undefined) return { pid, source: `/proc/${pid}/exe` };
  if (hits.length > 0) return undefined;
  // No process runs it (it exited): sourcesFor's file under the first process's root.
  const first = chosen.pids.find((p) => exe.links.has(p));
  return first === undefined ? undefined : { source: `/proc/${first}/root${path}` };
}

/**
 * Reads the volatile state, the reads that do not depend on each other at once (one exec and
 * one WebSocket each, argv only, each with its own output cap):
 *   1. together: `ls /proc` (the pids: its failure is ours (RBAC, API, image) and rejects every
 *      promise here; more than MAX_PIDS of them switch to reads by name), and find's sweeps
 *      (proc-reads.ts): `ls -ln` of the exe links and of the fd directories, `head -c` of
 *      cmdline, status and stat; `head -c` of the net tables;
 *   2. as soon as exe links and cmdlines name the suspect (`search`): `head -c` of its maps,
 *      while the caller already reads the binary (from `early` on when the exe links alone
 *      name it).
 * Reads after `ls /proc` have `boundMs` at most: a read the target can stall (a /proc file
 * whose reader waits on the process's mmap lock) costs the state that read, listed in
 * `problems`, never the binary or containment.
 */
export function startVolatile(x: TextExec, incident: Incident, path: string, boundMs: number): VolatileRun {
  const problems: string[] = [];
  const bounded = new Deadline(boundMs, x.deadline.signal, 'reading volatile state');
  const y: TextExec = { ...x, deadline: bounded };
  const sweepDeadline = new Deadline(boundMs, bounded.signal, 'reading /proc');
  const sweep = { problems: [] as string[], stop: (): void => sweepDeadline.controller.abort(new Error('not needed: /proc read by pid')) };
  const listing = listPids(x);
  const swept = sweptReads({ ...x, deadline: sweepDeadline }, sweep.problems);
  const tables = readNetTables(y, problems);
  const chosen = chooseReads(listing, swept, sweep, y, problems);
  const sockets = chosen.then((c) => readSockets(c.reads.fds, tables));
  const found = chosen.then((c) => searchOf(c, incident, path));
  const search = found.then((f) => f.search);
  const early = chosen.then((c) => earlyOf(c, path));
  const main = search.then((s) => s.suspects[0]);
  const mapped = main.then((pid) => readMaps(y, pid, problems));
  const state = (async (): Promise<VolatileState> => {
    const c = await chosen;
    const [{ id }, statuses, stats, { fds, sockets: socks }, pid, mappedFiles] = await Promise.all([found, c.reads.statuses, c.reads.stats, sockets, main, mapped]);
    // The table includes the collector's own processes (it shares the namespace): listed as
    // seen, since any filter by name would also hide an attacker's process of that name.
    const table = processTable(c.pids, id, statuses, stats);
    const suspect = pid === undefined ? undefined : { pid, fds: fds.get(pid) ?? [], mappedFiles };
    const all = c.swept ? [...problems, ...sweep.problems] : problems;
    return { schema: VOLATILE_SCHEMA, findingName: incident.findingName, collectedAt: new Date().toISOString(), processes: table, suspects: findSuspects(table, incident, path), ...(suspect ? { suspect } : {}), sockets: socks, problems: all, truncated: false };
  })().finally(() => {
    sweepDeadline.dispose();
    bounded.dispose();
  });
  // When /proc cannot be listed every promise here rejects with that one error, which the caller
  // reads from `search` (and may stop there): none of them is left unhandled.
  for (const p of [listing, tables, chosen, sockets, found, search, early, main, mapped, state, ...Object.values(swept)]) (p as Promise<unknown>).catch(ignore);
  return { early, search, state };
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
