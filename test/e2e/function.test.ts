// End to end through the Functions Framework: real HTTP posts of Pub/Sub CloudEvents in
// binary and structured mode to the registered function, asserting the HTTP status (204 =
// acked, 500 = redelivery) and the audit entries it writes.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { cloudEvent } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import type { ClusterDirectory } from '../../shared/ports.js';
import { ResponderError } from '../../shared/common/errors.js';
import { inDomain } from '../support/request-domain.js';
import { captureAudit, OPERATION, PLANTED_SECRET } from '../support/audit-capture.js';
import { memoryFindings } from '../support/memory-findings.js';
import { fixture, postBinary, postStructured, structuredEvent, listenOnLoopback } from '../support/cloudevents.js';

const audit = captureAudit();
let domainProbe: () => void = () => undefined;
cloudEvent('domainProbe', () => domainProbe());
let server: Server;
let url: string;
const v1 = fixture('modified-malicious-binary.v1.json');
// Detected now: the function refuses findings older than the policy's window.
(v1['finding'] as { eventTime: string }).eventTime = new Date().toISOString();
const findingName = (v1['finding'] as { name: string }).name;
// SCC's copy of the finding: the function acts only on what SCC confirms.
const findings = memoryFindings(v1);

before(async () => {
  configureResponder({ adapters: { findings }, auditDestination: audit.destination, env: { LOG_LEVEL: 'info' } });
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});
after(() => {
  server.close();
  configureResponder(undefined);
});
beforeEach(() => audit.clear());

function forFinding(): Record<string, unknown>[] {
  return audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);
}

describe('the function acks handled findings and writes a complete audit trail', () => {
  test('structured mode: 204, received -> decision -> steps -> summary, first/last flags, no secret', async () => {
    const res = await postStructured(url, structuredEvent(v1));
    assert.equal(res.status, 204);
    const entries = forFinding();
    assert.ok(entries.length >= 4, `expected several entries, got ${entries.length}`);
    const ops = entries.map((e) => e[OPERATION] as { first?: boolean; last?: boolean });
    assert.equal(ops[0]?.first, true);
    assert.equal(ops.at(-1)?.last, true);
    assert.equal(ops.filter((o) => o.first).length, 1);
    assert.equal(ops.filter((o) => o.last).length, 1);
    for (const e of entries) assert.equal(typeof e['severity'], 'string');
    const messages = entries.map((e) => String(e['message']));
    assert.ok(messages.some((m) => m.startsWith('finding received')));
    assert.ok(messages.some((m) => m.includes('modified-malicious-binary')), 'the decision names the rule');
    assert.ok(messages.some((m) => /step locate skipped/.test(m)), 'no cluster access: locate is skipped with a reason');
    const summary = entries.at(-1) as Record<string, unknown>;
    assert.equal((summary['logging.googleapis.com/labels'] as Record<string, string>)['verdict'], 'handled');
    assert.ok(!audit.lines.join('\n').includes(PLANTED_SECRET));
  });

  test('binary mode: the same finding is acked with the same trail', async () => {
    const res = await postBinary(url, v1);
    assert.equal(res.status, 204);
    assert.ok(forFinding().some((e) => String(e['message']).startsWith('finding received')));
  });

  test('a finding of another category is acked with an INFO entry saying why', async () => {
    const other = fixture('added-binary-executed.v1.json');
    const res = await postStructured(url, structuredEvent(other));
    assert.equal(res.status, 204);
    const entry = audit.entries().find((e) => String(e['message']).startsWith('finding not handled'));
    assert.ok(entry, audit.lines.join('\n'));
    assert.equal(entry['severity'], 'INFO');
    assert.match(String(entry['message']), /not covered by the policy/);
  });

  test('a malformed message is acked with an ERROR entry that says what and where', async () => {
    const res = await postStructured(url, structuredEvent('{"finding": {"name": 42}}'));
    assert.equal(res.status, 204);
    const entry = audit.entries().find((e) => e['severity'] === 'ERROR');
    assert.ok(entry);
    assert.match(String(entry['message']), /^message rejected: /);
    assert.match(String(entry['message']), /finding/);
  });

  test('a finding already carrying our marks is acked without acting again', async () => {
    const handled = structuredClone(v1) as { finding: { securityMarks: Record<string, unknown> } };
    handled.finding.securityMarks['marks'] = { scc_responder_state: 'triaged' };
    const res = await postStructured(url, structuredEvent(handled));
    assert.equal(res.status, 204);
    assert.ok(audit.entries().some((e) => String(e['message']).startsWith('finding already handled')));
    assert.ok(!audit.entries().some((e) => String(e['message']).startsWith('finding received')));
  });
});

describe('the work runs outside the framework request domain', () => {
  test('SCC is read with no process.domain while the framework handler has one (control)', async () => {
    const seen: boolean[] = [];
    const original = findings.getFinding;
    findings.getFinding = (name: string) => {
      seen.push(inDomain());
      return original.call(findings, name);
    };
    try {
      const res = await postStructured(url, structuredEvent(v1));
      assert.equal(res.status, 204);
    } finally {
      findings.getFinding = original;
    }
    assert.ok(seen.length > 0, 'the finding was confirmed with SCC');
    assert.deepEqual(seen, seen.map(() => false));
    // Control: the framework does run its handlers in a domain (getTestServer wraps them as deployed).
    const control = getTestServer('domainProbe');
    let inHandler: boolean | undefined;
    const controlUrl = await listenOnLoopback(control);
    try {
      inHandler = await new Promise<boolean>((resolve) => {
        domainProbe = (): void => resolve(inDomain());
        void postStructured(controlUrl, structuredEvent(v1));
      });
    } finally {
      control.close();
    }
    assert.equal(inHandler, true);
  });
});

describe('transient failures ask for redelivery', () => {
  before(() => {
    const unavailable: ClusterDirectory = {
      describe: () => Promise.reject(new ResponderError('GKE API unavailable (503)', 'transient', { code: 503 })),
      workloads: () => Promise.reject(new ResponderError('GKE API unavailable (503)', 'transient', { code: 503 })),
    };
    configureResponder({ adapters: { directory: unavailable, findings }, auditDestination: audit.destination, env: { LOG_LEVEL: 'info' } });
  });

  test('a 503 from the cluster directory makes the function answer 500 (Pub/Sub retries)', async () => {
    const res = await postStructured(url, structuredEvent(v1));
    assert.equal(res.status, 500);
    const summary = forFinding().at(-1) as Record<string, unknown>;
    assert.equal((summary['logging.googleapis.com/labels'] as Record<string, string>)['verdict'], 'retry');
    assert.equal(summary['severity'], 'WARNING');
  });
});
