// Google's Pub/Sub emulator (a real peer, preinstalled with the Google Cloud SDK) on
// loopback, for tests that must meet the service's own behaviour rather than our fake's.
//
// We start the emulator's own launcher, never `gcloud beta emulators pubsub start`: gcloud
// may try the network (update checks, usage reporting), and stopping gcloud leaves its Java
// server running. The launcher execs Java, so the PID we spawn is the server's; it runs in
// its own process group, which stop() (and child-cleanup's exit/signal hooks) end as a whole.
//
// Missing emulator or Java is an error that names what is missing: never a silent skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { killChild, trackChild } from './child-cleanup.js';

export interface PubsubEmulator {
  /** `127.0.0.1:PORT`: the value for `PUBSUB_EMULATOR_HOST` or PubSub's `apiEndpoint`. */
  host: string;
  port: number;
  projectId: string;
  /** PID of the emulator's Java server (the launcher execs Java). */
  pid: number;
  /** Ends the server (its whole process group); idempotent. */
  stop(): Promise<void>;
}

/** Overrides the Google Cloud SDK root (the directory holding `bin/gcloud` and `platform/`). */
export const SDK_ROOT_ENV = 'SCC_GCLOUD_SDK_ROOT';
const LAUNCHER = 'platform/pubsub-emulator/bin/cloud-pubsub-emulator';
const DEFAULT_SDK_ROOT = '/usr/lib/google-cloud-sdk';
/** Ready in ~10 s on an idle machine, 15-20 s on a busy one: generous on purpose. */
const READY_TIMEOUT_MS = Number(process.env['SCC_PUBSUB_EMULATOR_READY_MS'] ?? 90_000);
const STOP_GRACE_MS = 10_000;
const OUTPUT_TAIL = 4000;

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The SDK root and how it was found (for error messages). */
export function resolveSdkRoot(env: NodeJS.ProcessEnv = process.env): { root: string; from: string } {
  const override = env[SDK_ROOT_ENV];
  if (override) return { root: path.resolve(override), from: `$${SDK_ROOT_ENV}` };
  const gcloud = onPath('gcloud', env);
  if (gcloud) return { root: path.dirname(path.dirname(realpathSync(gcloud))), from: `gcloud on PATH (${gcloud})` };
  return { root: DEFAULT_SDK_ROOT, from: 'the default location (no gcloud on PATH)' };
}

/**
 * Where the emulator's launcher and Java are; throws an error naming what is missing.
 * The launcher itself needs `java` on PATH or `$JAVA_HOME/bin/java`.
 */
export function locateEmulator(env: NodeJS.ProcessEnv = process.env): { launcher: string; java: string } {
  const { root, from } = resolveSdkRoot(env);
  const launcher = path.join(root, LAUNCHER);
  if (!existsSync(launcher)) {
    throw new Error(
      `Pub/Sub emulator not found: ${launcher} does not exist (Google Cloud SDK root ${root}, from ${from}). ` +
        `Install the google-cloud-cli-pubsub-emulator package, or set ${SDK_ROOT_ENV} to the SDK root.`,
    );
  }
  if (!isExecutable(launcher)) throw new Error(`Pub/Sub emulator launcher ${launcher} is not executable`);
  const javaHome = env['JAVA_HOME'];
  const java = javaHome ? path.join(javaHome, 'bin', 'java') : onPath('java', env);
  if (java === undefined || !isExecutable(java)) {
    throw new Error(
      `Java not found: the Pub/Sub emulator (${launcher}) needs a Java runtime (17 here), ` +
        (javaHome ? `but JAVA_HOME=${javaHome} has no executable bin/java.` : 'but there is no `java` on PATH and JAVA_HOME is unset.'),
    );
  }
  return { launcher, java };
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- start / stop

class StartFailure extends Error {
  constructor(message: string, readonly portTaken: boolean) {
    super(message);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const grace = setTimeout(() => killChild(child, 'SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(grace);
      resolve();
    });
    killChild(child, 'SIGTERM');
  });
}

/** Spawns the launcher and waits for "Server started, listening on PORT" (or failure). */
function startOnce(launcher: string, port: number): Promise<ChildProcess> {
  const child = spawn(launcher, ['--host=127.0.0.1', `--port=${port}`], {
    detached: true, // own process group, so stop() can end everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child, { group: true });
  let output = '';
  const ready = `Server started, listening on ${port}`;
  return new Promise<ChildProcess>((resolve, reject) => {
    const fail = (why: string): void => {
      cleanup();
      const tail = output.slice(-OUTPUT_TAIL).trim();
      const portTaken = /BindException|Address already in use/i.test(output);
      void stopChild(child).then(() => reject(new StartFailure(`Pub/Sub emulator (${launcher}, port ${port}) ${why}${tail ? `; its output:\n${tail}` : ''}`, portTaken)));
    };
    const onData = (d: Buffer): void => {
      output = (output + d.toString()).slice(-OUTPUT_TAIL * 4);
      if (output.includes(ready)) {
        cleanup();
        // Keep draining its output so a chatty emulator never blocks on a full pipe, but let
        // a test process that forgot stop() end (its exit hook then kills the emulator)
        // instead of hanging on the child and its pipes.
        for (const stream of [child.stdout, child.stderr]) {
          stream?.resume();
          (stream as unknown as { unref?: () => void } | null)?.unref?.();
        }
        child.unref();
        resolve(child);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited (${signal ?? `code ${code}`}) before it was ready`);
    const onError = (err: Error): void => fail(`could not be started: ${err.message}`);
    const timer = setTimeout(() => fail(`was not ready within ${READY_TIMEOUT_MS / 1000} s (no "${ready}")`), READY_TIMEOUT_MS);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/**
 * Starts the emulator on a free loopback port and resolves once it serves. Start it once
 * per test file (it costs 10-20 s) and stop it in `after()`; child-cleanup.ts kills it
 * when a test process ends without that (a crash, a runner timeout).
 */
export async function startPubsubEmulator(opts: { projectId?: string } = {}): Promise<{
  host: string;
  port: number;
  projectId: string;
  pid: number;
  stop(): Promise<void>;
}> {
  const { launcher } = locateEmulator();
  const projectId = opts.projectId ?? 'scc-responder-emulator';
  // The port is free when we look and taken by the emulator a few seconds later: another
  // process may win it in between, so a bind failure is retried on a new port.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freeLoopbackPort();
    try {
      const child = await startOnce(launcher, port);
      const pid = child.pid as number;
      let stopped: Promise<void> | undefined;
      const emulator: PubsubEmulator = { host: `127.0.0.1:${port}`, port, projectId, pid, stop: () => (stopped ??= stopChild(child)) };
      return emulator;
    } catch (err) {
      if (!(err instanceof StartFailure && err.portTaken && attempt < 3)) throw err;
    }
  }
}
