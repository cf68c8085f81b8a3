// npm run bench: every benchmark in one run, each row side by side with its baseline or
// target, printed as one table and written as JSON under bench/results/. These machines are
// shared and noisy: rows that compare against a baseline run both in the same process run,
// alternating, and report the ratio.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTable, ROOT, type Row } from './lib.js';

type Section = { name: string; run: () => Promise<Row[]> };

const only = new Set(process.argv.slice(2));

const sections: Section[] = [
  { name: 'cold start', run: async () => (await import('./coldstart.js')).runColdStartBench() },
  { name: 'filter', run: async () => (await import('./filter.js')).runFilterBench() },
  { name: 'critical path', run: async () => (await import('./critical-path.js')).runCriticalPathBench() },
  { name: 'cold path', run: async () => (await import('./cold-path.js')).runColdPathBench() },
  { name: 'snapshot', run: async () => (await import('./snapshot.js')).runSnapshotBench() },
  { name: 'burst', run: async () => (await import('./burst.js')).runBurstBench() },
];

async function main(): Promise<void> {
  process.env['METADATA_SERVER_DETECTION'] = 'none';
  process.env['GOOGLE_APPLICATION_CREDENTIALS'] = '/nonexistent/scc-responder-bench-credentials.json';
  // The cold-start and burst rows run the deployable bundle: build it first.
  console.error('bench: building (tsc + esbuild bundle)...');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(path.join(ROOT, 'dist/bundle/index.mjs'))) throw new Error('build did not produce dist/bundle/index.mjs');

  const started = Date.now();
  const rows: Row[] = [];
  for (const s of sections) {
    if (only.size > 0 && !only.has(s.name.replace(' ', '-'))) continue;
    const t = Date.now();
    console.error(`bench: ${s.name}...`);
    try {
      rows.push(...(await s.run()));
    } catch (err) {
      rows.push({ section: s.name, metric: 'error', value: Number.NaN, unit: '', pass: false, note: err instanceof Error ? err.message : String(err) });
    }
    console.error(`bench: ${s.name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const table = formatTable(rows);
  console.log(table);
  const result = {
    at: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version },
    rows,
  };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  const file = path.join(ROOT, 'bench/results', `${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\n${rows.filter((r) => r.pass === false).length} target(s) missed; ${result.seconds.toFixed(0)} s; results in ${path.relative(ROOT, file)}`);
}

await main();
// Child processes and servers are closed by each section; make sure nothing keeps us alive.
process.exit(0);
