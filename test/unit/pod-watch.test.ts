// The pod watch's reading of the event stream (shared/kube/pod-watch.ts), fed byte chunks cut
// wherever the network may cut them. The wire itself (client-node to the fake API server) is
// covered by test/integration/kube-debug-watch.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { earlyPodWatch, podWatchUrl } from '../../shared/kube/pod-watch.js';

const pod = (name: string, phase: string): V1Pod => ({ metadata: { name }, status: { phase } });
const line = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;

/** A stream of these byte chunks, then the end (or nothing more, when `open`). */
function streamOf(chunks: (string | Uint8Array)[], open = false): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(typeof ch === 'string' ? new TextEncoder().encode(ch) : ch);
      if (!open) c.close();
    },
  });
}

const runningPhase = (p: V1Pod): string | undefined => (p.status?.phase === 'Running' ? p.metadata?.name : undefined);
/** A watch asked at once (as addDebugContainer does when it opens its own): the pod's name once it runs. */
const watchRunning = (open: Parameters<typeof earlyPodWatch>[0], signal?: AbortSignal) => earlyPodWatch(open, signal).decideWith(runningPhase);

describe('pod watch: reading the event stream', () => {
  test('skips BOOKMARKs and states not yet wanted; a line split across chunks (inside a multi-byte character) is whole', async () => {
    const text = line('BOOKMARK', { metadata: { resourceVersion: '9' } }) + line('MODIFIED', pod('a', 'Pending')) + line('MODIFIED', pod('ä-pod', 'Running'));
    const bytes = new TextEncoder().encode(text);
    const cut = bytes.indexOf(0xa4); // the second byte of "ä"
    const w = watchRunning(async () => streamOf([bytes.subarray(0, cut), bytes.subarray(cut)], true));
    assert.deepEqual(await w.result, { kind: 'decided', value: 'ä-pod' });
    await w.close();
  });

  test('ends (for the fallback) on DELETED, an ERROR Status, an unknown type, an unreadable line, or the end of the stream', async () => {
    const cases: [string[], RegExp][] = [
      [[line('DELETED', pod('a', 'Running'))], /the pod was deleted/],
      [[line('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (9)' })], /410 Expired: too old resource version: 5 \(9\)/],
      [[line('SURPRISE', {})], /unknown watch event type "SURPRISE"/],
      [['{"type":"MODIF\n'], /unreadable watch event/],
      [[line('MODIFIED', pod('a', 'Pending'))], /the server closed the stream/],
      [['{"type":"MODIFIED","obj'], /the stream ended inside an event/],
    ];
    for (const [chunks, reason] of cases) {
      const w = watchRunning(async () => streamOf(chunks));
      const r = await w.result;
      assert.equal(r.kind, 'ended');
      assert.match(r.kind === 'ended' ? r.reason : '', reason);
      await w.close();
    }
  });

  test('a refused open ends it with the error; close() aborts a stream that is still open', async () => {
    const refused = watchRunning(() => Promise.reject(new Error('HTTP 403 Forbidden')));
    assert.deepEqual(await refused.result, { kind: 'ended', reason: 'HTTP 403 Forbidden' });
    let seen: AbortSignal | undefined;
    const open = watchRunning(async (signal) => {
      seen = signal;
      return streamOf([line('MODIFIED', pod('a', 'Pending'))], true);
    });
    await open.close();
    assert.equal(seen?.aborted, true, 'the request signal was aborted');
    assert.equal((await open.result).kind, 'ended');
  });

  test("the caller's abort reaches the request", async () => {
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const w = watchRunning(async (signal) => {
      seen = signal;
      return streamOf([], true);
    }, ac.signal);
    ac.abort(new Error('deadline'));
    assert.equal(seen?.aborted, true);
    await w.close();
  });

  test('the URL: one pod by field selector, from the version, timeoutSeconds rounded up to at least 1', () => {
    const u = new URL(podWatchUrl('https://10.0.0.1/', { namespace: 'a b', name: 'web-1', resourceVersion: '42', timeoutSeconds: 0.2 }));
    assert.equal(u.pathname, '/api/v1/namespaces/a%20b/pods');
    assert.deepEqual(Object.fromEntries(u.searchParams), { watch: 'true', fieldSelector: 'metadata.name=web-1', resourceVersion: '42', timeoutSeconds: '1' });
    assert.equal(new URL(podWatchUrl('https://h', { namespace: 'n', name: 'p', timeoutSeconds: 29.1 })).searchParams.get('timeoutSeconds'), '30');
    assert.equal(new URL(podWatchUrl('https://h', { namespace: 'n', name: 'p', timeoutSeconds: 5 })).searchParams.has('resourceVersion'), false);
  });
});

describe('pod watch opened before the question (earlyPodWatch)', () => {
  /** A stream the test writes lines into as it goes. */
  function liveStream(): { stream: ReadableStream<Uint8Array>; push: (text: string) => void } {
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
    return { stream, push: (text) => ctl.enqueue(new TextEncoder().encode(text)) };
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  test('the latest state received before decideWith answers at once; an earlier one alone does not', async () => {
    const live = liveStream();
    const w = earlyPodWatch(async () => live.stream);
    live.push(line('ADDED', pod('a', 'Pending')) + line('MODIFIED', pod('a', 'Running')));
    await tick();
    const decided = w.decideWith(runningPhase);
    assert.deepEqual(await decided.result, { kind: 'decided', value: 'a' });
    await decided.close();
    // Negative control: only a Pending state seen so far, the answer waits for the next event.
    const live2 = liveStream();
    const w2 = earlyPodWatch(async () => live2.stream);
    live2.push(line('ADDED', pod('b', 'Pending')));
    await tick();
    const later = w2.decideWith(runningPhase);
    let settled = false;
    void later.result.then(() => (settled = true));
    await tick();
    assert.equal(settled, false, 'Pending decides nothing');
    live2.push(line('MODIFIED', pod('b', 'Running')));
    assert.deepEqual(await later.result, { kind: 'decided', value: 'b' });
    await later.close();
  });

  test('a watch that ended before decideWith reports why; decideWith is once only; close() aborts the request', async () => {
    const refused = earlyPodWatch(() => Promise.reject(new Error('HTTP 403 Forbidden')));
    await tick();
    assert.deepEqual(await refused.decideWith(runningPhase).result, { kind: 'ended', reason: 'HTTP 403 Forbidden' });
    assert.throws(() => refused.decideWith(runningPhase), /already/);
    let seen: AbortSignal | undefined;
    const unused = earlyPodWatch(async (signal) => {
      seen = signal;
      return liveStream().stream;
    });
    await tick();
    await unused.close();
    assert.equal(seen?.aborted, true, 'the request signal was aborted');
  });
});
