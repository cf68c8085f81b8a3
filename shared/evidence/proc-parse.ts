// Parsers for what the trusted collector reads from /proc inside the debug container. All of
// it is text the kernel generates, but the names in it (exe links, cmdlines, fd targets) are
// the attacker's choice: parsers never interpret them beyond splitting, and every output is
// bounded by the caller.

/** `ls -l /proc/7/exe ...` lines -> pid -> link target (with " (deleted)" when the file is gone). */
export function parseExeLinks(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /\/proc\/(\d+)\/exe -> (.*)$/.exec(line);
    if (m) out.set(Number(m[1]), m[2] ?? '');
  }
  return out;
}

/** `ls -l /proc/P/fd` lines -> fd -> target (`socket:[123]`, `/dev/null`, ...). */
export function parseFdLinks(text: string): { fd: number; target: string }[] {
  const out: { fd: number; target: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /\s(\d+) -> (.*)$/.exec(line);
    if (m) out.push({ fd: Number(m[1]), target: m[2] ?? '' });
  }
  return out;
}

/** Pids from `ls /proc`. */
export function parsePidList(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Splits `head -c N FILE...` output (several files: `==> FILE <==` headers) into file -> bytes.
 * With one file there is no header: pass its name as `single`.
 */
export function splitHeadOutput(buf: Buffer, single?: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (single !== undefined) {
    out.set(single, buf);
    return out;
  }
  const text = buf.toString('latin1');
  const re = /(?:^|\n)==> (\/proc\/[^\n]*?) <==\n/g;
  const marks: { file: string; start: number; headerStart: number }[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) marks.push({ file: m[1] ?? '', start: m.index + m[0].length, headerStart: m.index });
  marks.forEach((mark, i) => {
    const end = i + 1 < marks.length ? (marks[i + 1]?.headerStart ?? text.length) : text.length;
    out.set(mark.file, buf.subarray(mark.start, end));
  });
  return out;
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
