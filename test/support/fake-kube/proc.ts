// The fake's process model: what an ephemeral debug container that targets a container sees
// through /proc (the target's pid namespace is shared with it), and the busybox commands the
// trusted collector runs there (`ls`, `ls -ln`, `head -v -c N FILE...`, `cat`, and
// `find /proc -mindepth 2 -maxdepth 2 -name LEAF -exec CMD... {} +`), with BusyBox's output
// formats, messages and exit codes as verified on a real BusyBox (test/contract/
// busybox-proc.test.ts runs both over the same tree). Not modelled: the short-lived processes
// of the commands themselves (a real `find` sees itself in /proc) and races between a listing
// and the read of what it listed.
//
// The kernel's ptrace access rule is modelled, because it is where a real collector fails:
// /proc/<pid>/exe, /proc/<pid>/root, /proc/<pid>/fd and /proc/<pid>/maps need
// PTRACE_MODE_READ: the same uid as the process and the process dumpable, or CAP_SYS_PTRACE.
// cmdline, status, stat and net/* are world-readable.
import { generatedStream } from './generated.js';
import type { FakeContainerSpec, FakeEphemeralContainer, FakeFile, FakePodSpec, FakeProcess, FakeSocket } from './types.js';

/** The /proc/<pid> entries `find` is used on. */
const PROC_LEAVES = new Set(['exe', 'cmdline', 'status', 'stat', 'fd']);

export interface ProcChannel {
  stdout(buf: Buffer): Promise<void>;
  stderr(text: string): Promise<void>;
}

const FRAME = 64 * 1024;
const DEFAULT_EXE = '/usr/local/bin/app';
/** pid of the debug container's own `sleep` in the shared namespace. */
const DEBUG_PID = 4194;
/** Date column of `ls -l` (a /proc link's mtime is when it was first looked at). */
const LS_DATE = 'Dec  1 21:00';

/** BusyBox prints names and link targets through printable_string(): control characters become '?'. */
export function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\x00-\x1f\x7f]/g, '?');
}

/** One `ls -ln` line: mode, links, uid, gid, size, date, name (widths as BusyBox prints them). */
export function lsLine(mode: string, uid: number, size: number, name: string): string {
  return `${mode.padEnd(10)} ${String(1).padStart(4)} ${String(uid).padEnd(8)} ${String(0).padEnd(8)} ${String(size).padStart(9)} ${LS_DATE} ${printable(name)}`;
}

/** strcmp order (BusyBox ls sorts its arguments by name). */
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Gives every process its executable inode, taken from the container's files now. */
export function initProcesses(pod: FakePodSpec): void {
  for (const c of pod.containers) {
    c.processes ??= [{ pid: c.pid ?? 1, exe: DEFAULT_EXE, cmdline: [DEFAULT_EXE], exeFile: { content: Buffer.from(`fake main process of ${c.name}\n`) } }];
    for (const p of c.processes) p.exeFile ??= c.files?.[p.exe];
  }
}

function linkOf(c: FakeContainerSpec, p: FakeProcess): string {
  const current = c.files?.[p.exe];
  return current !== undefined && current === p.exeFile ? p.exe : `${p.exe} (deleted)`;
}

function uidOf(c: FakeContainerSpec, p: FakeProcess): number {
  return p.uid ?? c.uid ?? 0;
}

function fileBytes(f: FakeFile): AsyncIterable<Buffer> | Buffer {
  if (f.generated) return generatedStream(f.generated.size, f.generated.seed, FRAME) as AsyncIterable<Buffer>;
  return f.content ?? Buffer.alloc(0);
}

const hexPort = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

/** `10.0.0.5:443` -> `0500000A:01BB` (the kernel prints each 32-bit word in host order). */
function kernelAddress(addr: string, v6: boolean): string {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`fake proc: bad address ${addr}`);
  const ip = m[1] ?? '';
  const port = hexPort(Number(m[2]));
  if (!v6) {
    const b = ip.split('.').map(Number);
    return `${Buffer.from(b.reverse()).toString('hex').toUpperCase()}:${port}`;
  }
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0'));
  const bytes = Buffer.from(groups.join(''), 'hex');
  let out = '';
  for (let i = 0; i < 16; i += 4) out += Buffer.from(bytes.subarray(i, i + 4)).reverse().toString('hex').toUpperCase();
  return `${out}:${port}`;
}

function netTable(sockets: readonly FakeSocket[], proto: FakeSocket['proto']): string {
  const v6 = proto.endsWith('6');
  const header = proto.startsWith('tcp')
    ? '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
    : '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
  const rows = sockets
    .filter((s) => s.proto === proto)
    .map((s, i) => `  ${String(i).padStart(2)}: ${kernelAddress(s.local, v6)} ${kernelAddress(s.remote, v6)} ${s.state.toString(16).toUpperCase().padStart(2, '0')} 00000000:00000000 00:00000000 00000000 ${String(s.uid ?? 0).padStart(5)}        0 ${s.inode} 1 0000000000000000 100 0 0 10 0\n`);
  return header + rows.join('');
}

/** What a debug container that targets `target` sees and may do. */
export class DebugProc {
  private readonly uid: number;
  private readonly ptraceCap: boolean;

  constructor(private readonly target: FakeContainerSpec, debug: FakeEphemeralContainer) {
    this.uid = debug.uid ?? 0;
    this.ptraceCap = (debug.capabilities ?? []).includes('SYS_PTRACE');
    const sleep = debug.command ?? ['sleep', '600'];
    this.self = { pid: DEBUG_PID, ppid: 0, exe: `/bin/${sleep[0] ?? 'sleep'}`, cmdline: sleep, exeFile: { content: Buffer.from('busybox') } };
  }

  /** The collector's own `sleep` (it is in the namespace it reads). */
  private readonly self: FakeProcess;

  private proc(pid: number): FakeProcess | undefined {
    if (pid === DEBUG_PID) return this.self;
    return this.target.processes?.find((p) => p.pid === pid && p.state !== 'Z');
  }

  private uidOf(p: FakeProcess): number {
    return p === this.self ? this.uid : uidOf(this.target, p);
  }

  private link(p: FakeProcess): string {
    return p === this.self ? p.exe : linkOf(this.target, p);
  }

  /** PTRACE_MODE_READ: same uid and dumpable, or CAP_SYS_PTRACE. */
  private mayTrace(p: FakeProcess): boolean {
    return this.ptraceCap || (this.uidOf(p) === this.uid && p.dumpable !== false);
  }

  private sockets(): FakeSocket[] {
    return (this.target.processes ?? []).flatMap((p) => p.sockets ?? []);
  }

  /** Reads a small /proc file: text, or an errno message. */
  private readSmall(path: string): { text: string } | { error: string } {
    const m = /^\/proc\/(\d+)\/(cmdline|status|stat|maps|net\/(tcp6?|udp6?))$/.exec(path);
    if (!m) return { error: 'No such file or directory' };
    const pid = Number(m[1]);
    const p = this.proc(pid);
    if (!p) return { error: 'No such file or directory' };
    const uid = this.uidOf(p);
    const comm = (p.exe.split('/').pop() ?? 'app').slice(0, 15);
    switch (m[2]) {
      case 'cmdline':
        return { text: (p.cmdline ?? [p.exe]).map((a) => `${a}\0`).join('') };
      case 'status':
        return { text: `Name:\t${comm}\nState:\t${p.state ?? 'S'} (sleeping)\nTgid:\t${pid}\nPid:\t${pid}\nPPid:\t${p.ppid ?? 0}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n` };
      case 'stat': {
        const fields = [pid, `(${comm})`, p.state ?? 'S', p.ppid ?? 0, ...Array<number>(17).fill(0), p.startTime ?? 1000, 0, 0];
        return { text: `${fields.join(' ')}\n` };
      }
      case 'maps':
        if (!this.mayTrace(p)) return { error: 'Permission denied' };
        return { text: (p.maps ?? []).map((l) => `${l}\n`).join('') };
      default:
        return { text: netTable(this.sockets(), m[3] as FakeSocket['proto']) };
    }
  }

  /** Pid directories, in /proc's readdir order (ascending). */
  private pids(): number[] {
    return [...(this.target.processes ?? []).filter((p) => p.state !== 'Z').map((p) => p.pid), DEBUG_PID].sort((a, b) => a - b);
  }

  async run(argv: readonly string[], ch: ProcChannel): Promise<number> {
    const tool = (argv[0] ?? '').split('/').pop() ?? '';
    const args = argv.slice(1);
    switch (tool) {
      case 'ls':
        return this.ls(args, ch);
      case 'head':
        return this.head(args, ch);
      case 'cat':
        return this.cat(args, ch);
      case 'find':
        return this.find(args, ch);
      default:
        await ch.stderr(`exec: "${argv[0] ?? ''}": executable file not found in $PATH\n`);
        return 127;
    }
  }

  /**
   * `find /proc -mindepth 2 -maxdepth 2 -name LEAF -exec CMD... {} +`, the one shape the
   * collector uses (anything else fails loudly, as an unknown primary does in BusyBox): every
   * /proc/<pid>/LEAF in readdir order (pids ascending; symlinks such as /proc/self are not
   * entered, depth 3 such as task/ never reached), all given to one CMD (they fit in ARG_MAX).
   * find exits 1 when that CMD exits non-zero.
   */
  private async find(args: readonly string[], ch: ProcChannel): Promise<number> {
    const head = ['/proc', '-mindepth', '2', '-maxdepth', '2', '-name'];
    const leaf = args[6] ?? '';
    const plus = args.length - 2;
    const ok = head.every((a, i) => args[i] === a) && args[7] === '-exec' && args[plus] === '{}' && args[plus + 1] === '+' && plus > 8 && PROC_LEAVES.has(leaf);
    if (!ok) {
      await ch.stderr(`find: the fake supports only find ${head.join(' ')} <${[...PROC_LEAVES].join('|')}> -exec CMD... {} + (got: ${args.join(' ')})\n`);
      return 1;
    }
    const files = this.pids().map((pid) => `/proc/${pid}/${leaf}`);
    if (files.length === 0) return 0;
    const exit = await this.run([...args.slice(8, plus), ...files], ch);
    return exit === 0 ? 0 : 1;
  }

  /** `ls /proc`, `ls -ln /proc/<pid>/exe...`, `ls -ln /proc/<pid>/fd...`: non-directories first, then directories, each sorted by name. */
  private async ls(args: readonly string[], ch: ProcChannel): Promise<number> {
    const flags = args.filter((a) => a.startsWith('-')).join('');
    const long = flags.includes('l');
    const paths = args.filter((a) => !a.startsWith('-'));
    let exit = 0;
    const dirs: { path: string; p: FakeProcess }[] = [];
    const lines: string[] = [];
    for (const path of [...paths].sort(byName)) {
      if (path === '/proc') {
        dirs.push({ path, p: this.self });
        continue;
      }
      const exe = /^\/proc\/(\d+)\/exe$/.exec(path);
      const fd = /^\/proc\/(\d+)\/fd\/?$/.exec(path);
      const p = exe ? this.proc(Number(exe[1])) : fd ? this.proc(Number(fd[1])) : undefined;
      if (!p) {
        await ch.stderr(`ls: ${path}: No such file or directory\n`);
        exit = 1;
      } else if (fd) {
        dirs.push({ path, p });
      } else if (!long) {
        lines.push(printable(path));
      } else if (this.mayTrace(p)) {
        lines.push(`${lsLine('lrwxrwxrwx', this.uidOf(p), 0, path)} -> ${printable(this.link(p))}`);
      } else {
        // readlink refused: BusyBox warns and still prints the line, without a target (exit 0).
        await ch.stderr(`ls: ${path}: cannot read link: Permission denied\n`);
        lines.push(lsLine('lrwxrwxrwx', this.uidOf(p), 0, path));
      }
    }
    // As BusyBox's scan_and_display_dirs_recur: with several arguments each directory gets a
    // header (a blank line before it unless it is the first thing printed), and `-l` prints
    // "total" even when the directory could not be opened.
    if (lines.length > 0) await ch.stdout(Buffer.from(lines.map((l) => `${l}\n`).join('')));
    let first = lines.length === 0;
    for (const d of dirs) {
      if (paths.length > 1) await ch.stdout(Buffer.from(`${first ? '' : '\n'}${printable(d.path)}:\n`));
      first = false;
      if (d.path !== '/proc' && !this.mayTrace(d.p)) {
        await ch.stderr(`ls: can't open '${d.path}': Permission denied\n`);
        if (long) await ch.stdout(Buffer.from('total 0\n'));
        exit = 1;
        continue;
      }
      await ch.stdout(Buffer.from(this.dirListing(d.path, d.p, long)));
    }
    return exit;
  }

  private dirListing(path: string, p: FakeProcess, long: boolean): string {
    if (path === '/proc') return `${[...this.pids().map(String), 'net', 'self', 'sys', 'thread-self'].sort(byName).join('\n')}\n`;
    const fds = Object.entries(p.fds ?? {}).sort(([a], [b]) => byName(a, b));
    if (!long) return fds.map(([n]) => `${n}\n`).join('');
    return `total 0\n${fds.map(([n, t]) => `${lsLine('lrwx------', this.uidOf(p), 64, n)} -> ${printable(t)}\n`).join('')}`;
  }

  /** `head [-v] -c N FILE...`: a header before each file (with -v or several files), after a newline from the second argument on. */
  private async head(args: readonly string[], ch: ProcChannel): Promise<number> {
    const c = args.indexOf('-c');
    const limit = c >= 0 ? Number(args[c + 1]) : 10 * 80;
    const files = args.filter((a, i) => !a.startsWith('-') && i !== c + 1);
    const headers = args.includes('-v') || files.length > 1;
    let exit = 0;
    for (const [i, f] of files.entries()) {
      const r = this.readSmall(f);
      if ('error' in r) {
        await ch.stderr(`head: ${f}: ${r.error}\n`);
        exit = 1;
        continue;
      }
      if (headers) await ch.stdout(Buffer.from(`${i === 0 ? '' : '\n'}==> ${f} <==\n`));
      await ch.stdout(Buffer.from(r.text).subarray(0, limit));
    }
    return exit;
  }

  private async cat(args: readonly string[], ch: ProcChannel): Promise<number> {
    const paths = args.filter((a) => a !== '--');
    let exit = 0;
    for (const path of paths) {
      const f = this.open(path);
      if (typeof f === 'string') {
        await ch.stderr(`cat: can't open '${path}': ${f}\n`);
        exit = 1;
        continue;
      }
      const body = fileBytes(f);
      if (Buffer.isBuffer(body)) {
        for (let off = 0; off < body.length; off += FRAME) await ch.stdout(body.subarray(off, off + FRAME));
      } else {
        for await (const chunk of body) await ch.stdout(chunk);
      }
    }
    return exit;
  }

  /** Opens /proc/<pid>/exe or /proc/<pid>/root<path>: the file, or an errno message. */
  private open(path: string): FakeFile | string {
    const m = /^\/proc\/(\d+)\/(exe|root(\/.*))$/.exec(path);
    if (!m) {
      const small = this.readSmall(path);
      return 'error' in small ? small.error : { content: Buffer.from(small.text) };
    }
    const p = this.proc(Number(m[1]));
    if (!p) return 'No such file or directory';
    if (!this.mayTrace(p)) return 'Permission denied';
    if (m[2] === 'exe') return p.exeFile ?? 'No such file or directory';
    const f = this.target.files?.[m[3] ?? ''];
    if (!f) return 'No such file or directory';
    return f.unreadable ? 'Permission denied' : f;
  }
}
