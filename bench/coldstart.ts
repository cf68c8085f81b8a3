// Cold start: process start -> first acked non-matching CloudEvent, ours against a bare
// Functions Framework "hello" function started the same way, alternating runs so machine
// noise hits both alike. Ours runs from the build output (dist/), as deployed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { firstAck, median, ROOT, startFunction, type Row } from './lib.js';

function event(fixture: string): string {
  const notification = readFileSync(path.join(ROOT, 'test/fixtures', fixture), 'utf8');
  const id = `bench-${Math.random().toString(36).slice(2)}`;
  return JSON.stringify({
    specversion: '1.0',
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    source: '//pubsub.googleapis.com/projects/bench/topics/findings',
    id,
    datacontenttype: 'application/json',
    data: { message: { data: Buffer.from(notification).toString('base64'), messageId: id, publishTime: new Date().toISOString() }, subscription: 'projects/bench/subscriptions/s' },
  });
}

/** Issue 13's target: loading for matching findings must not move into start-up. */
export const COLD_START_RATIO_TARGET = 1.2;

export async function runColdStartBench(iterations = 11): Promise<Row[]> {
  const ours: number[] = [];
  const hello: number[] = [];
  const nonMatching = event('added-binary-executed.v1.json');
  const env = { SCC_RESPONDER_CLUSTER_ACCESS: 'none', SCC_RESPONDER_MARKS: 'off', SCC_RESPONDER_LOGS: 'off', LOG_LEVEL: 'warn' };
  for (let i = 0; i < iterations; i++) {
    for (const which of i % 2 === 0 ? ['hello', 'ours'] : ['ours', 'hello']) {
      const fn =
        which === 'hello'
          ? await startFunction('hello', path.join(ROOT, 'bench/hello'))
          : await startFunction('sccResponder', ROOT, env);
      try {
        const { ms, status } = await firstAck(fn, nonMatching);
        if (status !== 204) throw new Error(`${which}: first non-matching event answered ${status}`);
        (which === 'hello' ? hello : ours).push(ms);
      } finally {
        await fn.stop();
      }
    }
  }
  const o = median(ours);
  const h = median(hello);
  return [
    { section: 'cold start', metric: 'start -> first non-matching ack (median)', value: o, unit: 'ms', baseline: h, ratio: o / h, target: `<= ${COLD_START_RATIO_TARGET}x hello`, pass: o / h <= COLD_START_RATIO_TARGET, note: `${iterations} alternating runs each; ours ${ours.map((x) => x.toFixed(0)).join('/')}, hello ${hello.map((x) => x.toFixed(0)).join('/')}` },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib.js');
  console.log(formatTable(await runColdStartBench()));
}
