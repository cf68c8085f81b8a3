// sharedReads(): which reads one response shares, and when a write makes it read again.
// The pod list cache exists for one hand-off (the pipeline prefetches the controller's pods
// while the snapshot streams; deletePod's "pods before the delete" then costs no round trip);
// after a delete, lists must reach the API (the replacement watch polls for change).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PodView, Workloads } from '../../shared/ports.js';
import { sharedReads } from '../../shared/respond/shared-reads.js';

const NS = 'payments';
const SELECTOR = 'pod-template-hash=7d9f8b6c5d';

function counting(): { inner: Workloads; calls: string[]; listed: () => number } {
  const calls: string[] = [];
  let generation = 0;
  const pod = (uid: string): PodView => ({ namespace: NS, name: uid, uid, labels: {}, annotations: {}, ownerReferences: [], containers: [] }) as unknown as PodView;
  const inner = {
    readPod: (ns: string, name: string) => {
      calls.push(`readPod ${ns}/${name}`);
      return Promise.resolve(pod(name));
    },
    listPods: (ns: string, selector: string) => {
      calls.push(`listPods ${ns} ${selector}`);
      generation += 1;
      return Promise.resolve([pod(`p${generation}`)]);
    },
    deletePod: (ns: string, name: string) => {
      calls.push(`deletePod ${ns}/${name}`);
      return Promise.resolve('deleted' as const);
    },
    patchPodMetadata: (ns: string, name: string) => {
      calls.push(`patch ${ns}/${name}`);
      return Promise.resolve();
    },
  } as unknown as Workloads;
  return { inner, calls, listed: () => calls.filter((c) => c.startsWith('listPods')).length };
}

describe('sharedReads', () => {
  test('concurrent and repeated reads of the same pod share one call', async () => {
    const { inner, calls } = counting();
    const w = sharedReads(inner);
    await Promise.all([w.readPod(NS, 'a'), w.readPod(NS, 'a'), w.readPod(NS, 'b')]);
    await w.readPod(NS, 'a');
    assert.deepEqual(calls, [`readPod ${NS}/a`, `readPod ${NS}/b`]);
  });

  test('a prefetched pod list is reused by the next lister before any write', async () => {
    const { inner, listed } = counting();
    const w = sharedReads(inner);
    const prefetch = await w.listPods(NS, SELECTOR);
    const before = await w.listPods(NS, SELECTOR);
    assert.equal(listed(), 1);
    assert.equal(before, prefetch);
  });

  test('annotations and our own labels keep the list; any other label forgets it', async () => {
    const { inner, listed } = counting();
    const w = sharedReads(inner);
    await w.listPods(NS, SELECTOR);
    await w.patchPodMetadata(NS, 'a', { uid: 'u-a', labels: { 'scc-responder/finding': 'f1' } });
    await w.patchPodMetadata(NS, 'a', { uid: 'u-a', annotations: { 'scc-responder/finding': 'organizations/1/sources/2/findings/f1' } });
    await w.listPods(NS, SELECTOR);
    assert.equal(listed(), 1, 'own labels and annotations: list kept');
    await w.patchPodMetadata(NS, 'a', { uid: 'u-a', labels: { app: 'other' } });
    await w.listPods(NS, SELECTOR);
    assert.equal(listed(), 2, 'a foreign label may change membership: listed again');
  });

  test('a metadata patch makes the next read of that pod go to the API', async () => {
    const { inner, calls } = counting();
    const w = sharedReads(inner);
    await w.readPod(NS, 'a');
    await w.patchPodMetadata(NS, 'a', { uid: 'u-a', annotations: { x: 'y' } });
    await w.readPod(NS, 'a');
    assert.equal(calls.filter((c) => c === `readPod ${NS}/a`).length, 2);
  });

  test('after a delete every list reaches the API (the replacement watch sees new pods)', async () => {
    const { inner, listed } = counting();
    const w = sharedReads(inner);
    await w.listPods(NS, SELECTOR);
    await w.deletePod(NS, 'a', { uid: 'a' });
    const first = await w.listPods(NS, SELECTOR);
    const second = await w.listPods(NS, SELECTOR);
    assert.equal(listed(), 3);
    assert.notDeepEqual(first, second, 'each poll sees the current pods');
  });

  test('a delete in one namespace leaves another namespace\'s prefetched list alone', async () => {
    const { inner, listed } = counting();
    const w = sharedReads(inner);
    await w.listPods('other', SELECTOR);
    await w.deletePod(NS, 'a', { uid: 'a' });
    await w.listPods('other', SELECTOR);
    assert.equal(listed(), 1);
  });

  test('a failed list is not cached', async () => {
    let fail = true;
    let n = 0;
    const inner = {
      listPods: () => {
        n += 1;
        if (fail) {
          fail = false;
          return Promise.reject(new Error('503'));
        }
        return Promise.resolve([]);
      },
    } as unknown as Workloads;
    const w = sharedReads(inner);
    await assert.rejects(w.listPods(NS, SELECTOR));
    await w.listPods(NS, SELECTOR);
    assert.equal(n, 2);
  });
});
