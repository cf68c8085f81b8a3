// The deployable bundle (dist/bundle, what `npm run build` ships) served by the Functions
// Framework in a child process, as Cloud Functions runs it: main.js started directly (an npx
// wrapper, killed, leaves the server running) and stopped by PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { trackChild } from './child-cleanup.js';
import { freeLoopbackPort } from './pubsub-emulator.js';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const BUNDLE_DIR = path.join(ROOT, 'dist/bundle');
const BUNDLE_ENTRY = path.join(BUNDLE_DIR, 'index.mjs');
const FF_MAIN = path.join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * dist/bundle as `npm run build` makes it. CI builds before testing; a clean clone's
 * `npm test` (or a bundle older than the sources) gets it rebuilt here with the same script,
 * so the test never runs stale code.
 */
export function ensureBundle(): void {
  const fresh = existsSync(BUNDLE_ENTRY) && statSync(BUNDLE_ENTRY).mtimeMs >= Math.max(newestSource(path.join(ROOT, 'functions')), newestSource(path.join(ROOT, 'shared')));
  if (!fresh) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/bundle.mjs')], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    if (r.status !== 0) throw new Error(`building dist/bundle failed (node scripts/bundle.mjs, exit ${r.status}): ${r.stderr}`);
  }
}

function canConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

export interface FunctionProcess {
  url: string;
  port: number;
  pid: number;
  /** Everything the function printed (its JSON log lines), for assertions and failure messages. */
  output(): string;
  /** The process's exit code once it has exited (null while it runs or when a signal ended it). */
  exitCode(): number | null;
  stop(): Promise<void>;
}

/**
 * Starts `functions-framework --target=T --source=ROOT` (or another `source`, e.g. the staged
 * artefact): the framework loads package.json's `main` (dist/bundle/index.mjs), as it does
 * from the deployed source. Resolves once the server accepts connections.
 */
export async function startFunctionProcess(target: string, env: NodeJS.ProcessEnv, deadlineMs = 60_000, source = ROOT): Promise<FunctionProcess> {
  ensureBundle();
  const port = await freeLoopbackPort();
  const child: ChildProcess = spawn(process.execPath, [FF_MAIN, `--target=${target}`, `--source=${source}`, `--port=${port}`, '--signature-type=cloudevent'], {
    cwd: ROOT, // the test runner's NODE_OPTIONS (network guard) name files relative to the repository
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (d: Buffer): void => {
    out += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      child.kill('SIGTERM');
    });
  trackChild(child);
  const url = `http://127.0.0.1:${port}/`;
  const started = performance.now();
  // A TCP connect, not a request: a bare GET makes the CloudEvent middleware log a TypeError.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`functions-framework exited with ${child.exitCode} before serving: ${out.slice(-2000)}`);
    try {
      await canConnect(port);
      break;
    } catch {
      if (performance.now() - started > deadlineMs) {
        await stop();
        throw new Error(`functions-framework did not answer on ${url} within ${deadlineMs} ms: ${out.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, port, pid: child.pid as number, output: () => out, exitCode: () => child.exitCode, stop };
}
