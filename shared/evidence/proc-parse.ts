// Parsers for what the trusted collector reads from /proc inside the debug container. All of
// it is text the kernel generates, but the names in it (exe links, cmdlines, fd targets) are
// the attacker's choice: parsers never interpret them beyond splitting, and every output is
// bounded by the caller.

/**
 * The fields `ls -ln` prints before a name (mode, links, uid, gid, size, date): all of them ls's
 * own, none the attacker's. Anchoring on them is what makes the name that follows ours (a path
 * find or we built), so the first " -> " after it is ls's separator, whatever the target says.
 */
const LS_LONG = /^[-lbcdps]\S{9}\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+\s(.*)$/;

export interface ExeListing {
  /** Every pid ls printed a line for, ascending (its link readable or not). */
  pids: number[];
  /** pid -> link target (" (deleted)" when the file is gone); absent when ls could not read it. */
  links: Map<number, string>;
  /** Pids with more than one line: one was forged (see parseExeListing), so neither is kept. */
  forged: number[];
}

/**
 * `ls -ln /proc/7/exe ...` -> pids and link targets. BusyBox (1.35 to 1.37) prints every name
 * and link target through printable_string(): control characters, newline included, become
 * '?', so a link target cannot start a line of its own. Should a build ever print them raw,
 * a forged line naming a pid whose own line is there too names it twice, and both are dropped;
 * one naming a pid without a line of its own (not listed, exited before ls read it, or after
 * an output cut) would be believed, so callers keep only pids they listed and drop a cut last
 * line. A link ls cannot read (another uid, a kernel thread, a zombie) is a line without
 * " -> " (and an error on stderr).
 */
export function parseExeListing(text: string): ExeListing {
  const seen = new Map<number, number>();
  const links = new Map<number, string>();
  for (const line of text.split('\n')) {
    const name = LS_LONG.exec(line)?.[1];
    const m = name === undefined ? null : /^\/proc\/(\d+)\/exe(?: -> (.*))?$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    seen.set(pid, (seen.get(pid) ?? 0) + 1);
    if (m[2] !== undefined) links.set(pid, m[2]);
  }
  const forged = [...seen].filter(([, n]) => n > 1).map(([pid]) => pid);
  for (const pid of forged) links.delete(pid);
  return { pids: [...seen.keys()].filter((p) => !forged.includes(p)).sort((a, b) => a - b), links, forged };
}

/**
 * `ls -ln /proc/A/fd /proc/B/fd` -> pid -> fds. Directories are headed `/proc/A/fd:` when ls
 * lists more than one; `single` names the one directory listed without a header. A directory
 * headed twice (only possible if names were printed raw) is dropped.
 */
export function parseFdListing(text: string, single?: number): Map<number, { fd: number; target: string }[]> {
  const out = new Map<number, { fd: number; target: string }[]>();
  const twice = new Set<number>();
  let current = single;
  if (single !== undefined) out.set(single, []);
  for (const line of text.split('\n')) {
    const header = /^\/proc\/(\d+)\/fd:$/.exec(line);
    if (header) {
      current = Number(header[1]);
      if (out.has(current)) twice.add(current);
      out.set(current, []);
      continue;
    }
    const m = /^(\d+) -> (.*)$/.exec(LS_LONG.exec(line)?.[1] ?? '');
    if (m && current !== undefined) out.get(current)?.push({ fd: Number(m[1]), target: m[2] ?? '' });
  }
  for (const pid of twice) out.delete(pid);
  return out;
}

/** Pids from `ls /proc` (a last name cut by the output cap is left out by the caller). */
export function parsePidList(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .sort((a, b) => a - b);
}

export interface HeadFiles {
  /** File -> its bytes (at most `maxPerFile`). */
  files: Map<string, Buffer>;
  /** Files headed more than once: one header was written by a process, so neither is kept. */
  forged: string[];
}

/**
 * Splits `head -v -c N FILE...` output (`==> FILE <==` before each file, after a newline from
 * the second argument on) into file -> bytes. The bytes are the processes' own (a cmdline is
 * whatever a process wrote into its argv) and may hold header lines of their own.
 *
 * A header is matched after a newline without consuming it: a forged header that head -c cut
 * right before its own newline then ends at head's separator, and the real header after that
 * separator is still matched. So every header head printed is seen, whatever the bytes before
 * it, and what holds is:
 *   - a file headed twice is kept in neither place (whichever header was real);
 *   - every header ends the bytes before it, less the separator newline (a forged one cuts its
 *     writer's own bytes short);
 *   - a forged header for a file head did not print (a pid that does not exist, or one listed
 *     but whose file head never printed: it exited first, its read failed, or the output cap
 *     cut the listing before it) is believed: callers keep only pids they listed, and record
 *     failures and cuts. A forgery can therefore put chosen bytes on another listed pid only
 *     when that pid's own file is missing from the output.
 * No header is lost to a cut file: head prints at most `maxPerFile` bytes of each, which bounds
 * every entry too.
 */
export function splitHeadOutput(buf: Buffer, maxPerFile = Number.POSITIVE_INFINITY): HeadFiles {
  const text = buf.toString('latin1');
  const re = /(?<=^|\n)==> ([^\n]*?) <==\n/g;
  const marks: { file: string; start: number; headerStart: number }[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) marks.push({ file: m[1] ?? '', start: m.index + m[0].length, headerStart: m.index });
  const count = new Map<string, number>();
  for (const mark of marks) count.set(mark.file, (count.get(mark.file) ?? 0) + 1);
  const files = new Map<string, Buffer>();
  marks.forEach((mark, i) => {
    if ((count.get(mark.file) ?? 0) > 1) return;
    // The next header's own newline (head's separator, or the writer's) is not the file's.
    const next = marks[i + 1];
    const end = Math.min(next === undefined ? text.length : next.headerStart - 1, mark.start + maxPerFile);
    files.set(mark.file, buf.subarray(mark.start, Math.max(mark.start, end)));
  });
  return { files, forged: [...count].filter(([, n]) => n > 1).map(([f]) => f) };
}

export interface ProcStatus {
  name?: string;
  state?: string;
  ppid?: number;
  uid?: number;
}

export function parseStatus(text: string): ProcStatus {
  const field = (k: string): string | undefined => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const ppid = field('PPid');
  const uid = field('Uid')?.split(/\s+/)[0];
  const name = field('Name');
  const state = field('State');
  return {
    ...(name === undefined ? {} : { name }),
    ...(state === undefined ? {} : { state }),
    ...(ppid === undefined || !/^\d+$/.test(ppid) ? {} : { ppid: Number(ppid) }),
    ...(uid === undefined || !/^\d+$/.test(uid) ? {} : { uid: Number(uid) }),
  };
}

/** Start time in clock ticks since boot: field 22 of /proc/<pid>/stat (after the `(comm)`). */
export function parseStartTime(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const v = rest[19]; // fields 3.. follow the comm; 22 - 3 = 19
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** NUL-separated argv. */
export function parseCmdline(buf: Buffer): string[] {
  const parts = buf.toString('utf8').split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export interface NetSocket {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  local: string;
  remote: string;
  state: string;
  inode: number;
  uid: number;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING', '0C': 'NEW_SYN_RECV',
};

/** `0500000A:01BB` -> `10.0.0.5:443`; IPv6 words are in host (little-endian) order too. */
export function decodeAddress(hex: string, v6: boolean): string {
  const [addr = '', port = '0'] = hex.split(':');
  const p = parseInt(port, 16);
  const bytes = Buffer.from(addr, 'hex');
  if (!v6) return `${[...bytes].reverse().join('.')}:${p}`;
  const fixed = Buffer.alloc(16);
  for (let i = 0; i < 16; i += 4) Buffer.from(bytes.subarray(i, i + 4)).reverse().copy(fixed, i);
  if (fixed.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))) return `${[...fixed.subarray(12)].join('.')}:${p}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(fixed.readUInt16BE(i).toString(16));
  return `[${compressIpv6(groups)}]:${p}`;
}

/** RFC 5952: the longest run (2+) of zero groups becomes `::`. */
function compressIpv6(groups: readonly string[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j += 1;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** /proc/net/{tcp,tcp6,udp,udp6} -> sockets (at most `max` rows). */
export function parseNetTable(text: string, proto: NetSocket['proto'], max = 1000): NetSocket[] {
  const v6 = proto.endsWith('6');
  const out: NetSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    if (out.length >= max) break;
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const st = (f[3] ?? '').toUpperCase();
    out.push({
      proto,
      local: decodeAddress(f[1] ?? '', v6),
      remote: decodeAddress(f[2] ?? '', v6),
      state: proto.startsWith('tcp') ? (TCP_STATES[st] ?? st) : st === '07' ? 'UNCONN' : st === '01' ? 'ESTABLISHED' : st,
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** `socket:[12345]` -> 12345. */
export function socketInode(target: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

/** Whether a remote address is a real peer (not 0.0.0.0:0 or [::]:0). */
export function isRemotePeer(addr: string): boolean {
  return !/^(0\.0\.0\.0|\[::\]):0$/.test(addr);
}
