// Policy text -> validated Policy, or errors that point at the line and column of the
// offending YAML node: `policy.yaml:12:5 rules[0].mode: expected one of dry-run|enforce`.
// Positions come from the yaml package's node ranges (via a LineCounter), so the error is
// where the user has to type, also for unknown keys (the key itself) and missing keys
// (the mapping that lacks them).
import { waitsForApproval } from './approval.js';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { describeIssue, formatPath } from '../finding/issues.js';
import { type Policy, policySchema } from './schema.js';
import { actionEntry } from './actions.js';
import { evidenceGateOf } from './types.js';

export interface PolicyError {
  source: string;
  /** 1-based; absent only when the position is unknown. */
  line?: number;
  column?: number;
  /** `rules[0].mode`, or '' for the document itself. */
  path: string;
  message: string;
  /** `source:line:col path: message`, ready to print. */
  text: string;
}

export type PolicyResult = { ok: true; policy: Policy; warnings: string[] } | { ok: false; errors: PolicyError[] };

export const MAX_POLICY_BYTES = 256 * 1024;
const MAX_ERRORS = 20;

type Pos = { line: number; col: number } | undefined;

function makeError(source: string, pos: Pos, path: string, message: string): PolicyError {
  const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
  const e: PolicyError = { source, path, message, text: `${where} ${path === '' ? '' : `${path}: `}${message}` };
  if (pos) {
    e.line = pos.line;
    e.column = pos.col;
  }
  return e;
}

function keyOf(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

/**
 * The position of `path` in the document: the value node when present, else the key of
 * the last segment found (e.g. `mode:` with no value), else the nearest enclosing node.
 */
function positionOf(doc: Document, path: readonly PropertyKey[], lc: LineCounter, unknownKey?: string): Pos {
  let node: unknown = doc.contents;
  let best: number | undefined = (node as YamlNode | null)?.range?.[0];
  const segments = unknownKey === undefined ? path : [...path, unknownKey];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && String(keyOf(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as YamlNode | null;
      if (keyNode?.range) best = keyNode.range[0];
      // For an unknown key the key itself is the place to point at.
      if (unknownKey !== undefined && i === segments.length - 1) break;
      node = pair.value;
      const valueNode = node as YamlNode | null;
      if (valueNode?.range) best = valueNode.range[0];
      else break;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item?.range) break;
      best = item.range[0];
      node = item;
    } else break;
  }
  return best === undefined ? undefined : lc.linePos(best);
}

/** Advice that does not make the file invalid. */
export function warningsOf(policy: Policy, source: string): string[] {
  const out: string[] = [];
  policy.rules.forEach((rule, i) => {
    const name = rule.name ?? `rules[${i}]`;
    if (rule.mode === 'enforce' && rule.actions.length === 0) out.push(`${source}: rule ${name} is enforce but has no actions`);
    if (rule.mode === 'approve' && !rule.actions.some((a) => waitsForApproval(String(a['type']), { expiresAfterHours: 4, beforeApproval: rule.approval?.beforeApproval ?? [] }))) {
      out.push(`${source}: rule ${name} is approve but no action waits for approval (everything runs at once, as in enforce)`);
    }
    const { requireEvidence, evidenceGate } = evidenceGateOf(rule.requireEvidence ?? policy.requireEvidence);
    const destructive = rule.actions.some((a) => actionEntry(String(a['type']))?.destructive === true);
    if (destructive && requireEvidence && !rule.snapshot) {
      out.push(`${source}: rule ${name} requires evidence but takes no snapshot: its destructive actions can never run`);
    }
    if (destructive && !requireEvidence) out.push(`${source}: rule ${name} may act before evidence is stored (requireEvidence: false)`);
    if (destructive && requireEvidence && evidenceGate === 'stored') {
      out.push(`${source}: rule ${name} waits for a stored copy (requireEvidence: stored): a target that deletes its binary keeps its pod running; 'attempted' does not let it`);
    }
    if (destructive && rule.mode !== 'dry-run' && !policy.snapshot.debugContainer.enabled) {
      out.push(`${source}: rule ${name} enforces without the trusted collector (snapshot.debugContainer.enabled: false): evidence is read with the container's own tools and no volatile state is kept`);
    }
  });
  return out;
}

/** Parses and validates a policy. Never throws. */
export function loadPolicy(text: string, sourceName = 'policy.yaml'): PolicyResult {
  return parsePolicy(text, sourceName).result;
}

/**
 * A valid policy text's data before validation (what shared/policy/compiled.ts keeps), or
 * undefined when the text is not a valid policy. Never throws.
 */
export function policyData(text: string): unknown {
  const { result, value } = parsePolicy(text, 'policy.yaml');
  return result.ok ? value : undefined;
}

/** loadPolicy's result, with the document's data when it validated. */
function parsePolicy(text: string, sourceName: string): { result: PolicyResult; value?: unknown } {
  const fail = (errors: PolicyError[]): { result: PolicyResult } => ({ result: { ok: false, errors } });
  try {
    if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
      return fail([makeError(sourceName, undefined, '', `policy is larger than ${MAX_POLICY_BYTES} bytes`)]);
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return fail(
        doc.errors.slice(0, MAX_ERRORS).map((e) => {
          const p = e.linePos?.[0] ?? (typeof e.pos?.[0] === 'number' ? lc.linePos(e.pos[0]) : undefined);
          const message = e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'YAML syntax error';
          return makeError(sourceName, p ? { line: p.line, col: p.col } : undefined, '', `YAML: ${message}`);
        }),
      );
    }
    const value = valueOf(doc);
    if (value === null || value === undefined) {
      return fail([makeError(sourceName, undefined, '', 'policy is empty: expected a mapping with version and rules')]);
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      return fail([makeError(sourceName, positionOf(doc, [], lc), '', 'expected a mapping with version and rules')]);
    }
    const parsed = policySchema.safeParse(value, { reportInput: true });
    if (!parsed.success) {
      const errors: PolicyError[] = [];
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) {
            errors.push(makeError(sourceName, positionOf(doc, issue.path, lc, key), formatPath([...issue.path, key]), 'unknown key'));
          }
        } else if (issue.code === 'invalid_key' && issue.path.length > 0) {
          // Point at the offending key, not at its value.
          const key = String(issue.path[issue.path.length - 1]);
          errors.push(makeError(sourceName, positionOf(doc, issue.path.slice(0, -1), lc, key), formatPath(issue.path), describeIssue(issue)));
        } else {
          errors.push(makeError(sourceName, positionOf(doc, issue.path, lc), formatPath(issue.path), describeIssue(issue)));
        }
      }
      errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
      return fail(errors.slice(0, MAX_ERRORS));
    }
    return { result: { ok: true, policy: parsed.data, warnings: warningsOf(parsed.data, sourceName) }, value };
  } catch (err) {
    // toJS throws on alias bombs and similar; report it like any other error.
    const message = err instanceof Error ? err.message.split('\n')[0] ?? err.name : 'unexpected error';
    return fail([makeError(sourceName, undefined, '', `cannot load policy: ${message}`)]);
  }
}

/** A parsed document's data (aliases bounded: toJS throws on alias bombs). */
function valueOf(doc: Document): unknown {
  return doc.toJS({ maxAliasCount: 100 });
}

/** All errors as printable lines. */
export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map((e) => e.text).join('\n');
}
