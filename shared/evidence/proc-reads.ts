// The per-process reads of the trusted collector, in two forms that give the same answer:
//   - swept: `find /proc -mindepth 2 -maxdepth 2 -name LEAF -exec CMD {} +` names the files
//     itself, so these reads need no pid list first (one exec round fewer on the way to the
//     binary). find does not follow symlinks (/proc/self, /proc/thread-self, /proc/net are
//     not entered) and stops at depth 2 (/proc/<pid>/task/... is never read); it visits /proc
//     in readdir order (pids ascending) and passes every name to one CMD while they fit in
//     ARG_MAX (about 80,000 pids), so CMD's output is one listing;
//   - listed: the same commands over /proc/<pid>/LEAF for pids already known (`ls /proc`),
//     used when the namespace has more than MAX_PIDS processes (find would stat ~55 entries
//     of every one of them before printing anything: a fork bomb must not slow us down) or
//     when find cannot be used.
// argv only, one exec each, each with its own output cap. Verified on BusyBox 1.35 (Debian's
// busybox-static) and against the 1.37 source (test/contract/busybox-proc.test.ts).
import { execText, type TextExec, type TextResult } from './exec-text.js';
import { parseExeListing, parseFdListing, splitHeadOutput, type ExeListing } from './proc-parse.js';

/** Per-command output cap. */
export const MAX_OUTPUT = 512 * 1024;
/**
 * Processes read in detail (a pod rarely has more; a fork bomb must not slow us down): with
 * more in the namespace, only the MAX_PIDS lowest pids are read, by name (listedReads).
 */
export const MAX_PIDS = 256;
/** Longest `==> /proc/<pid>/<leaf> <==` header and its separators, with room to spare. */
const HEAD_HEADER_BYTES = 64;

export type Fd = { fd: number; target: string };

export interface PidReads {
  /** Exe links; undefined when the command could not list anything (find unusable). */
  exe: Promise<ExeListing | undefined>;
  cmdlines: Promise<Map<number, Buffer>>;
  statuses: Promise<Map<number, Buffer>>;
  stats: Promise<Map<number, Buffer>>;
  fds: Promise<Map<number, Fd[]>>;
}

/** Bytes kept of each file (head -c): a cmdline is the process's own, the rest the kernel's. */
export const HEAD_BYTES = { cmdline: 4096, status: 2048, stat: 1024 } as const;

const errorText = (e: unknown): string => String(e instanceof Error ? e.message : e);

/** `find /proc -mindepth 2 -maxdepth 2 -name LEAF -exec CMD... {} +` */
export function sweepCommand(leaf: string, cmd: readonly string[]): string[] {
  return ['find', '/proc', '-mindepth', '2', '-maxdepth', '2', '-name', leaf, '-exec', ...cmd, '{}', '+'];
}

function noteRead(what: string, r: TextResult, problems: string[], cap = MAX_OUTPUT): void {
  if (r.error !== undefined) problems.push(`${what}: ${errorText(r.error)}`);
  if (r.cut) problems.push(`${what}: output cut at ${cap} bytes`);
}

/**
 * The listing's text, without its last line when the cap cut it: a cut exe link or fd target
 * is a prefix of the real one (a link cut right at the finding's path would be a false match).
 * noteRead records the cut.
 */
function wholeLines(r: TextResult): string {
  const text = r.stdout.toString('utf8');
  return r.cut ? text.slice(0, text.lastIndexOf('\n') + 1) : text;
}

/**
 * The cap of a `head` read: MAX_PIDS files at HEAD_BYTES each always fit, so an attacker's
 * long cmdlines alone cannot make the cap cut the listing (256 x 4 KiB is twice MAX_OUTPUT).
 */
export function headCap(leaf: keyof typeof HEAD_BYTES): number {
  return Math.max(MAX_OUTPUT, MAX_PIDS * (HEAD_BYTES[leaf] + HEAD_HEADER_BYTES));
}

/**
 * `head -v -c N` output -> pid -> bytes, for files /proc/<pid>/<leaf> only. A cut listing
 * (more than MAX_PIDS files: processes started between `ls /proc` and find) keeps nothing: a
 * header a process printed inside its own cmdline is caught when the real one follows (headed
 * twice, see splitHeadOutput), but the cut may fall between the two, and which header is real
 * cannot be told from the bytes.
 */
export function headByPid(what: string, r: TextResult, leaf: keyof typeof HEAD_BYTES, problems: string[]): Map<number, Buffer> {
  noteRead(what, r, problems, headCap(leaf));
  if (r.cut) {
    problems.push(`${what}: not kept, the output was cut (a forged header could not be told from the real one)`);
    return new Map();
  }
  const split = splitHeadOutput(r.stdout, HEAD_BYTES[leaf]);
  if (split.forged.length > 0) problems.push(`${what}: ${split.forged.slice(0, 10).join(', ')} headed more than once (a process printed a header of its own); not kept`);
  const out = new Map<number, Buffer>();
  for (const [file, bytes] of split.files) {
    const m = /^\/proc\/(\d+)\/([a-z]+)$/.exec(file);
    if (m && m[2] === leaf) out.set(Number(m[1]), bytes);
  }
  return out;
}

/** `ls -ln` of exe links -> the listing; unreadable links and forged lines noted in `problems`. */
export function exeListing(what: string, r: TextResult, problems: string[]): ExeListing {
  noteRead(what, r, problems);
  const denied = (r.result?.stderr ?? '').split('\n').filter((l) => /Permission denied/.test(l)).length;
  if (denied > 0) problems.push(`${denied} exe link(s) unreadable (ptrace access: the collector's uid differs from the process's, or it is not dumpable)`);
  const listing = parseExeListing(wholeLines(r));
  if (listing.forged.length > 0) problems.push(`exe links of pid ${listing.forged.join(', ')} listed more than once; not kept`);
  return listing;
}

/** `ls -ln` of fd directories -> pid -> fds (`single`: see parseFdListing). */
export function fdListing(what: string, r: TextResult, problems: string[], single?: number): Map<number, Fd[]> {
  noteRead(what, r, problems);
  return parseFdListing(wholeLines(r), single);
}

/** The reads named by find: nothing needs to be known first. */
export function sweptReads(x: TextExec, problems: string[]): PidReads {
  const head = (leaf: keyof typeof HEAD_BYTES): Promise<Map<number, Buffer>> =>
    execText(x, sweepCommand(leaf, ['head', '-v', '-c', String(HEAD_BYTES[leaf])]), headCap(leaf)).then((r) => headByPid(`head /proc/*/${leaf}`, r, leaf, problems));
  return {
    exe: execText(x, sweepCommand('exe', ['ls', '-ln']), MAX_OUTPUT).then((r) => {
      const listing = exeListing('find /proc/*/exe', r, problems);
      // There is always a process to list (the collector's own sleep): nothing at all plus a
      // failure means find itself could not run (missing, or options this build lacks).
      if (listing.pids.length > 0 || (r.error === undefined && r.result?.exitCode === 0)) return listing;
      const said = (r.result?.stderr ?? r.result?.message ?? '').split('\n')[0]?.slice(0, 300) ?? '';
      problems.push(`find could not list /proc/*/exe (${r.error !== undefined ? errorText(r.error) : `exit ${String(r.result?.exitCode)}: ${said}`}); read by pid instead`);
      return undefined;
    }),
    cmdlines: head('cmdline'),
    statuses: head('status'),
    stats: head('stat'),
    fds: execText(x, sweepCommand('fd', ['ls', '-ln']), MAX_OUTPUT).then((r) => fdListing('ls -ln /proc/*/fd', r, problems)),
  };
}

const files = (pids: readonly number[], leaf: string): string[] => pids.map((p) => `/proc/${p}/${leaf}`);

/** The same reads over pids already listed (at most MAX_PIDS of them; fds of the first 64). */
export function listedReads(x: TextExec, pids: readonly number[], problems: string[]): PidReads {
  const head = async (leaf: keyof typeof HEAD_BYTES): Promise<Map<number, Buffer>> => {
    if (pids.length === 0) return new Map();
    const r = await execText(x, ['head', '-v', '-c', String(HEAD_BYTES[leaf]), ...files(pids, leaf)], headCap(leaf));
    return headByPid(`head /proc/<pid>/${leaf}`, r, leaf, problems);
  };
  const fdPids = pids.slice(0, 64);
  return {
    exe: pids.length === 0 ? Promise.resolve({ pids: [], links: new Map(), forged: [] }) : execText(x, ['ls', '-ln', ...files(pids, 'exe')], MAX_OUTPUT).then((r) => exeListing('ls -ln /proc/<pid>/exe', r, problems)),
    cmdlines: head('cmdline'),
    statuses: head('status'),
    stats: head('stat'),
    fds:
      fdPids.length === 0
        ? Promise.resolve(new Map())
        : execText(x, ['ls', '-ln', ...files(fdPids, 'fd')], MAX_OUTPUT).then((r) => fdListing('ls -ln /proc/<pid>/fd', r, problems, fdPids.length === 1 ? fdPids[0] : undefined)),
  };
}
