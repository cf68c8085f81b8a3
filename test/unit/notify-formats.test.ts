// The notification formatters: attacker-writable values cannot become Slack/Chat markup
// (links, mentions), long values are clipped to each service's documented limits, the
// optional pending block (approval mode) renders in all three, and the URL check refuses
// plain http off loopback without echoing the secret URL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NotificationFacts } from '../../shared/notify/facts.js';
import { escapeMarkup, googleChatMessage, pagerDutyResolve, pagerDutySeverity, pagerDutyTrigger, slackMessage } from '../../shared/notify/formats.js';
import { parseWebhookUrl } from '../../shared/notify/send.js';

const HOSTILE = '/tmp/<https://evil.example|click me> <!channel> & more';

function facts(over: Partial<NotificationFacts> = {}): NotificationFacts {
  return {
    findingName: 'organizations/1/sources/2/findings/abc',
    findingId: 'abc',
    category: 'Execution: Modified Malicious Binary Executed',
    severity: 'HIGH',
    eventTime: '2026-11-27T09:14:00Z',
    project: 'acme',
    cluster: 'payments',
    namespace: 'payments',
    pod: 'checkout-1',
    container: 'checkout',
    binary: { path: HOSTILE, sha256: 'a'.repeat(64) },
    hashVerdict: 'matches',
    rule: 'r1',
    mode: 'enforce',
    verdict: 'handled',
    summary: 'handled',
    actions: [{ type: 'deletePod', status: 'done', detail: `deleted pod ${'x'.repeat(5000)}` }],
    contained: true,
    runId: 'run-1',
    links: [{ title: 'Finding in SCC', url: 'https://console.cloud.google.com/security/command-center/findingsv2;name=x' }],
    ...over,
  };
}

test('escapeMarkup turns & < > into entities (Slack and Chat control characters)', () => {
  assert.equal(escapeMarkup('<a|b> & <!here>'), '&lt;a|b&gt; &amp; &lt;!here&gt;');
});

test('slack: a hostile binary path is escaped everywhere, sections stay within 3000 characters', () => {
  const m = slackMessage(facts());
  const all = JSON.stringify(m);
  assert.ok(!all.includes('<https://evil'), 'no raw link markup');
  assert.ok(!all.includes('<!channel>'), 'no raw mention');
  assert.ok(all.includes('&lt;https://evil.example|click me&gt;'));
  for (const b of m.blocks) {
    const text = (b['text'] as { text?: string } | undefined)?.text ?? '';
    assert.ok(text.length <= 3000, `block ${String(b['type'])} is ${text.length} characters`);
  }
  assert.ok(!m.text.includes('<!channel>'));
});

test('google chat: hostile values escaped in text and card', () => {
  const m = googleChatMessage(facts());
  const all = JSON.stringify(m);
  assert.ok(!all.includes('<https://evil') && !all.includes('<!channel>'));
  assert.ok(m.cardsV2[0]!.cardId.length <= 64);
});

test('the optional pending block renders the approve and deny commands in all three', () => {
  const pending = { actions: ['deletePod'], approve: 'gcloud scc findings update-marks X --security-marks=scc_responder_approval=run-1', deny: 'gcloud scc findings update-marks X --security-marks=scc_responder_approval=deny' };
  const f = facts({ pending });
  assert.ok(JSON.stringify(slackMessage(f)).includes(pending.approve));
  assert.ok(JSON.stringify(googleChatMessage(f)).includes(pending.deny));
  assert.deepEqual((pagerDutyTrigger(f, 'k').payload?.custom_details as { pending?: unknown }).pending, pending);
  // and nothing of it without the field
  assert.ok(!JSON.stringify(slackMessage(facts())).includes('Pending'));
});

test('pagerduty: trigger and resolve share the dedup key; summary at most 1024; severity mapped', () => {
  const f = facts({ pod: 'p'.repeat(4000) });
  const t = pagerDutyTrigger(f, 'rk');
  const r = pagerDutyResolve(f, 'rk');
  assert.equal(t.dedup_key, f.findingName);
  assert.equal(r.dedup_key, f.findingName);
  assert.equal(t.event_action, 'trigger');
  assert.equal(r.event_action, 'resolve');
  assert.ok((t.payload?.summary.length ?? 0) <= 1024);
  assert.ok((t.payload?.component?.length ?? 0) <= 255);
  assert.deepEqual(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'SEVERITY_UNSPECIFIED'].map(pagerDutySeverity), ['critical', 'error', 'warning', 'info', 'info']);
});

test('webhook URLs: https anywhere, http only on loopback; the error never echoes the secret', () => {
  assert.equal(parseWebhookUrl('https://hooks.slack.com/services/T/B/secretpart', 'slack').hostname, 'hooks.slack.com');
  assert.equal(parseWebhookUrl('http://127.0.0.1:9/x', 'slack').port, '9');
  for (const bad of ['http://hooks.slack.com/services/T/B/secretpart', 'not a url secretpart', 'ftp://x/secretpart']) {
    assert.throws(() => parseWebhookUrl(bad, 'slack'), (err: unknown) => err instanceof Error && !err.message.includes('secretpart') && /slack/.test(err.message));
  }
});
