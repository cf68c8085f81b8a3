// Loaded into every test process (see scripts/run-tests.mjs). Any attempt to open a
// connection to, or resolve, a host outside loopback throws and fails the test process:
// tests and fakes must never reach Google (metadata server included) or anything else.
import dns from 'node:dns';
import net from 'node:net';

const violations: string[] = [];

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '' || host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === '::1' || h === '0:0:0:0:0:0:0:1' || h.endsWith('.localhost')) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

function refuse(what: string): never {
  const message = `network-guard: refused ${what}: tests may only talk to loopback`;
  violations.push(message);
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}

type ConnectArgs = unknown[];
function targetOf(args: ConnectArgs): { host?: string; path?: string } {
  let first = args[0];
  if (Array.isArray(first)) first = first[0]; // net internals pass normalised [options, cb]
  if (typeof first === 'object' && first !== null) {
    const o = first as { host?: string; path?: string };
    return { host: o.host, path: o.path };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first };
  return { host: typeof args[1] === 'string' ? args[1] : undefined };
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: ConnectArgs) {
  const { host, path } = targetOf(args);
  if (path === undefined && !isLoopbackHost(host)) refuse(`connect to ${String(host)}`);
  return (originalConnect as (...a: ConnectArgs) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;

const originalLookup = dns.lookup;
const guardedLookup = function (hostname: string, ...rest: unknown[]) {
  if (!isLoopbackHost(hostname)) refuse(`DNS lookup of ${hostname}`);
  return (originalLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
};
dns.lookup = guardedLookup as typeof dns.lookup;
const originalPromiseLookup = dns.promises.lookup;
dns.promises.lookup = (async (hostname: string, ...rest: unknown[]) => {
  if (!isLoopbackHost(hostname)) refuse(`DNS lookup of ${hostname}`);
  return (originalPromiseLookup as (...a: unknown[]) => Promise<unknown>)(hostname, ...rest);
}) as typeof dns.promises.lookup;

process.on('exit', () => {
  if (violations.length > 0) {
    process.stderr.write(`network-guard: ${violations.length} refused connection(s)\n`);
    process.exitCode = 1;
  }
});

export function networkViolations(): readonly string[] {
  return violations;
}
