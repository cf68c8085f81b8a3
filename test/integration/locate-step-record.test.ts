// The `locate` step's result is the Kubernetes client for the cluster. Its audit entry and
// the report's step list must describe the step, not dump the client: scrubbing and logging
// its object graph (KubeConfig, CA data, API client internals; ~12 KB per finding) cost ~10 ms
// of CPU before the first pod read, on the critical path of every finding.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRuntime } from '../../functions/composition/runtime.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { fixture, structuredEvent } from '../support/cloudevents.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let dir: string;
const audit = captureAudit();

before(async () => {
  stack = await startStack();
  dir = await mkdtemp(path.join(tmpdir(), 'scc-locate-record-'));
});
after(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the locate step record', () => {
  test('names the step without the client: no kubeconfig, CA or token material in the entry or the report', async () => {
    const runtime = createRuntime({ surface: 'function', env: stack.env({ SCC_RESPONDER_EVIDENCE: dir, SCC_RESPONDER_MARKS: 'false', SCC_RESPONDER_LOGS: 'false' }), auditDestination: audit.destination });
    const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as { finding: { name: string; eventTime: string } };
    n.finding.eventTime = new Date().toISOString();
    n.finding.name = n.finding.name.replace(/[^/]+$/, 'locaterecord1');
    stack.known(n);
    const r = await handleMessage(structuredEvent(n), runtime);
    assert.ok(r.report, `a report (${r.disposition}: ${r.message})`);

    const entry = audit.entries().find((e) => String(e['message']).startsWith('step locate') && (e[OPERATION] as { id?: string } | undefined)?.id === n.finding.name);
    assert.ok(entry, 'a locate entry');
    assert.equal((entry['step'] as { status?: string }).status, 'ok');
    assert.equal(entry['data'], undefined);
    const line = audit.lines.find((l) => l.includes('"step locate'));
    assert.ok(line !== undefined && line.length < 2_000, `locate line is ${line?.length} characters`);
    for (const secretish of [stack.world.kube.caData.slice(0, 40), 'caData', 'authenticators']) assert.ok(!line.includes(secretish), `locate line contains ${secretish}`);

    const locate = r.report.steps.find((s) => s.name === 'locate');
    assert.equal(locate?.status, 'ok');
    assert.equal(locate?.data, undefined);
  });
});
