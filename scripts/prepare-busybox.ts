// Fetches a real BusyBox for test/contract/busybox-proc.test.ts (the fake's find/ls/head
// against the real ones): Debian's busybox-static through apt-get's own client (`apt-get
// download`, no root), unpacked with dpkg-deb into the cache outside the repository; only
// bin/busybox is kept. Idempotent: a cached binary is not fetched again.
//
//   npx tsx scripts/prepare-busybox.ts     # .ci/run and scripts/run-tests.mjs run it
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxBinary, busyboxCacheDir } from '../test/support/busybox-cache.js';

function run(cmd: string, args: readonly string[], cwd: string): string {
  const env = { ...process.env };
  delete env['NODE_OPTIONS']; // not the test runner's tsx and network guard
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout: 120_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status)}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout;
}

const dir = busyboxCacheDir();
const bin = busyboxBinary(dir);
if (existsSync(bin)) {
  console.log(`busybox: cached at ${bin}`);
} else {
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(dir, '.fetch-'));
  try {
    run('apt-get', ['download', 'busybox-static'], tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static produced no .deb');
    run('dpkg-deb', ['-x', deb, 'x'], tmp);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    renameSync(join(tmp, 'x', 'bin', 'busybox'), bin);
    console.log(`busybox: ${run(bin, [], tmp).split('\n')[0] ?? ''} at ${bin}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
