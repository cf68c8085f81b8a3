// `npm start` as a user runs it: the real npm, the real script, a real process tree. GET
// answers a health line (not a 500 with a stack trace), other methods 405, a posted CloudEvent
// is acknowledged (204; unconfirmed by SCC here, so nothing is done), and SIGTERM to npm alone stops the server: the port is free afterwards.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const dir = mkdtempSync(path.join(os.tmpdir(), 'scc-npm-start-'));
let npm: ChildProcess | undefined;

after(() => {
  // Only if the test failed half-way: the whole group this test started.
  if (npm?.pid !== undefined && npm.exitCode === null) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^/\s]+\/)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`npm start exited (${code}) before listening:\n${out}`)));
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('npm start: health on GET, 405 on PUT, 204 on a CloudEvent, and SIGTERM to npm frees the port', { timeout: 180_000 }, async () => {
  npm = spawn('npm', ['start', '--silent'], {
    env: { ...process.env, HOME: dir, PORT: '0', SCC_RESPONDER_EVIDENCE: path.join(dir, 'evidence') },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => npm?.on('exit', (code) => resolve(code)));
  const url = await listeningUrl(npm);
  const port = Number(new URL(url).port);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'loopback by default');

  const get = await fetch(url);
  assert.equal(get.status, 200);
  assert.match(await get.text(), /^scc-responder: ok/);
  const put = await fetch(url, { method: 'PUT', body: '{}' });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET, HEAD, POST');
  await put.text();

  const event = readFileSync('test/fixtures/cloudevent.modified-malicious-binary.v1.json', 'utf8');
  const post = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: event });
  assert.equal(post.status, 204, await post.text());
  // The local function, like the deployed one, acts only on findings SCC confirms: with no SCC
  // access here the example finding is acknowledged with a WARNING, and nothing is done.
  const evidence = path.join(dir, 'evidence');
  assert.ok(!existsSync(evidence) || readdirSync(evidence, { recursive: true }).length === 0, 'an unconfirmed finding leaves nothing behind');

  assert.equal(await refused(port), false, 'listening before the signal');
  process.kill(npm.pid as number, 'SIGTERM'); // npm only, not its group
  await exited;
  // The server closes on the forwarded signal; poll instead of assuming a duration.
  let free = false;
  for (let i = 0; i < 300 && !free; i += 1) {
    free = await refused(port);
    if (!free) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(free, `port ${port} still taken after SIGTERM to npm`);
});
