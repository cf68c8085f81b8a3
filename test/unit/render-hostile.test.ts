// Hostile finding data must render inert. The markdown is parsed with a real markdown parser
// (marked, GitHub-flavoured: autolinks on) and every heading and link in it is checked: none
// may come from finding data. The text rendering must carry no control byte (no terminal
// escape can rewrite the operator's screen). Negative controls show the parser does see a
// heading or link when one is injected, and what the old four-backtick fence let through.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { marked, type Token } from 'marked';
import { createRuntime } from '../../functions/composition/runtime.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { fence, md, renderMarkdown, renderText } from '../../shared/respond/render.js';
import type { TriageReport } from '../../shared/respond/report.js';

const EVIL = 'evil.example';
const BREAKOUT = `/tmp/x\n\`\`\`\`\`\n# Responder verdict: FALSE POSITIVE\n[details](https://${EVIL}/ok)\n\`\`\`\`\``;
const TERMINAL = ['\u001b]0;pwned\u0007', '\u001b[2J\u001b[H', '\rOutcome: handled, nothing found', '\u009b31m', '\u202eevil'];

function hostileNotification(): unknown {
  const n = JSON.parse(readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as {
    finding: { processes: { binary: { path: string }; args: string[] }[]; sourceProperties: Record<string, string>; kubernetes: { pods: { labels: { name: string; value: string }[] }[] }; description: string; containers: { uri: string }[] };
  };
  const p = n.finding.processes[0]!;
  p.binary.path = BREAKOUT;
  n.finding.sourceProperties['Process_Binary_Fullpath'] = BREAKOUT;
  p.args = ['/usr/bin/curl', ...TERMINAL, `https://${EVIL}/a`, `www.${EVIL}`, `admin@${EVIL}`, '<img src=x onerror=alert(1)>', '![i](https://evil.example/i.png)'];
  n.finding.kubernetes.pods[0]!.labels.push({ name: 'note', value: `[click](https://${EVIL}/l) \n## injected` });
  n.finding.description = `# Heading\n\n[x](https://${EVIL})\u001b[31m`;
  n.finding.containers[0]!.uri = `us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1\n# image heading`;
  return n;
}

/** Every token of a marked token tree. */
function walk(tokens: readonly Token[], out: Token[] = []): Token[] {
  for (const t of tokens) {
    out.push(t);
    const any = t as unknown as { tokens?: Token[]; items?: Token[]; header?: { tokens: Token[] }[]; rows?: { tokens: Token[] }[][] };
    if (any.tokens) walk(any.tokens, out);
    if (any.items) walk(any.items, out);
    for (const cell of any.header ?? []) walk(cell.tokens, out);
    for (const row of any.rows ?? []) for (const cell of row) walk(cell.tokens, out);
  }
  return out;
}

const headings = (markdown: string): string[] => walk(marked.lexer(markdown)).filter((t) => t.type === 'heading').map((t) => (t as { text: string }).text);
const links = (markdown: string): string[] => walk(marked.lexer(markdown)).filter((t) => t.type === 'link' || t.type === 'image').map((t) => (t as { href: string }).href);
const ALLOWED_LINK = /^https:\/\/(console\.cloud\.google\.com|www\.virustotal\.com|attack\.mitre\.org)\//;
// eslint-disable-next-line no-control-regex -- the test looks for control bytes
const CONTROL_BYTES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

let hostile: TriageReport;
let benign: TriageReport;

async function reportOf(notification: unknown): Promise<TriageReport> {
  const runtime = createRuntime({ surface: 'cli', adapters: {}, auditDestination: { write: () => undefined }, env: { LOG_LEVEL: 'error' } });
  const r = await handleMessage(notification, runtime);
  assert.ok(r.report, `${r.disposition}: ${r.message}`);
  return r.report;
}

before(async () => {
  hostile = await reportOf(hostileNotification());
  benign = await reportOf(JSON.parse(readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')));
});

describe('markdown rendering of hostile finding data', () => {
  test('the hostile values are in the report (the test exercises them)', () => {
    assert.equal(hostile.incident.binary?.path, BREAKOUT);
    assert.ok(hostile.incident.args.some((a) => a.includes('\u001b')));
  });

  test('no heading comes from finding data: the same headings as a benign report', () => {
    const md1 = renderMarkdown(hostile);
    const h = headings(md1);
    assert.deepEqual(h.map((x) => x.replace(/^Triage: .*/, 'Triage')), headings(renderMarkdown(benign)).map((x) => x.replace(/^Triage: .*/, 'Triage')));
    assert.ok(!h.some((x) => /FALSE POSITIVE|injected|image heading|^Heading$/.test(x)), JSON.stringify(h));
  });

  test('no link comes from finding data: every href is one of ours', () => {
    const hrefs = links(renderMarkdown(hostile));
    assert.ok(hrefs.length > 0, 'the report has its own links');
    for (const href of hrefs) {
      assert.match(href, ALLOWED_LINK);
      assert.ok(!href.includes(EVIL), href);
    }
  });

  test('no raw HTML and no control character reaches the markdown', () => {
    const md1 = renderMarkdown(hostile);
    assert.ok(!walk(marked.lexer(md1)).some((t) => t.type === 'html'), 'no HTML token');
    assert.ok(!CONTROL_BYTES.test(md1), JSON.stringify(md1.match(CONTROL_BYTES)));
  });

  test('fences are longer than any backtick run inside them', () => {
    const body = 'a ````` b ``` c';
    const f = fence(body);
    assert.ok(f.startsWith('``````\n') && f.endsWith('\n``````'), f);
    const tokens = marked.lexer(`${fence(BREAKOUT)}\nafter`);
    assert.equal(tokens[0]?.type, 'code');
    assert.equal(headings(fence(BREAKOUT)).length, 0);
  });

  test('negative controls: the parser sees injected headings and links, and the old fixed fence let them out', () => {
    assert.deepEqual(headings('text\n# injected\n'), ['injected']);
    assert.deepEqual(links(`see https://${EVIL}/x`), [`https://${EVIL}/x`]);
    const oldFence = (t: string): string => `\`\`\`\`\n${t}\n\`\`\`\``;
    assert.ok(headings(oldFence(BREAKOUT)).includes('Responder verdict: FALSE POSITIVE'));
    const oldMd = (t: string): string => t.replace(/[\\`*_{}[\]<>|]/g, (c) => `\\${c}`).replace(/\n/g, ' ');
    assert.ok(links(`| ${oldMd(`https://${EVIL}/a`)} |`).length > 0, 'GFM autolinks bare URLs the old escaping left alone');
    assert.equal(links(`| ${md(`https://${EVIL}/a www.${EVIL} admin@${EVIL}`)} |`).length, 0);
  });
});

describe('text rendering of hostile finding data', () => {
  test('no control byte: escapes are shown, not executed', () => {
    const text = renderText(hostile);
    assert.ok(!CONTROL_BYTES.test(text), JSON.stringify(text.match(CONTROL_BYTES)));
    assert.ok(text.includes('\\x1B') && text.includes('pwned\\x07'), 'the escape sequence is visible as text');
    assert.ok(text.includes('\\rOutcome: handled'), 'a carriage return cannot overwrite the line');
  });

  test('negative control: the raw values do carry control bytes', () => {
    assert.ok(CONTROL_BYTES.test(TERMINAL.join('')));
  });
});
