// Where the real BusyBox the contract test runs lives: Debian's busybox-static, fetched by
// scripts/prepare-busybox.ts (apt-get download, no root) into a cache outside the repository.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const PREPARE_BUSYBOX = 'npx tsx scripts/prepare-busybox.ts';

export function busyboxCacheDir(): string {
  return process.env['SCC_BUSYBOX_CACHE'] ?? join(homedir(), '.cache', 'scc-responder', 'busybox');
}

export function busyboxBinary(dir: string = busyboxCacheDir()): string {
  return join(dir, 'bin', 'busybox');
}

/** The cached binary; throws, naming the prepare command, when it is not there (the test fails, never skips). */
export function requireBusybox(): string {
  const bin = busyboxBinary();
  if (!existsSync(bin)) throw new Error(`no real BusyBox at ${bin}: run \`${PREPARE_BUSYBOX}\` (apt-get download busybox-static; scripts/run-tests.mjs and .ci/run do it)`);
  return bin;
}
