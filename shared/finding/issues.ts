// Turns schema-library issues into short, stable sentences ("finding.category: required",
// "rules[0].mode: expected one of dry-run|enforce"). Messages never quote input values:
// a rejected message may carry secrets, and error text ends up in logs.
import type { z } from 'zod';

export type IssuePath = readonly PropertyKey[];

/** `['rules', 0, 'mode']` -> `rules[0].mode`; keys that are not identifiers are bracketed. */
export function formatPath(path: IssuePath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** What kind of JSON value this is, for "expected string, got number". */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

type Issue = z.core.$ZodIssue;

/** One issue as a sentence without its path. Requires parsing with `{ reportInput: true }` for `got X`. */
export function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const input: unknown = issue.input;
      if (input === undefined) return 'required';
      return `expected ${issue.expected}, got ${kindOf(input)}`;
    }
    case 'invalid_value':
      if (issue.input === undefined) return 'required';
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}`
        : `expected one of ${issue.values.map((v) => String(v)).join('|')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_union': {
      const withOptions = issue as Issue & { options?: unknown[] };
      if (Array.isArray(withOptions.options) && withOptions.options.length > 0) {
        return `expected one of ${withOptions.options.map((o) => String(o)).join('|')}`;
      }
      // A union given its own error text (`{ error: '...' }`) says it better than we can.
      return issue.message === 'Invalid input' ? 'does not match any allowed form' : issue.message;
    }
    case 'invalid_key': {
      // A record key failed its own schema: say what the key should be.
      const inner = issue.issues[0];
      return inner ? describeIssue(inner) : 'invalid key';
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${max} items`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${max}`;
    }
    default:
      return issue.message;
  }
}

/** `path: sentence`, or just the sentence at the root. */
export function formatIssue(issue: Issue, prefix: IssuePath = []): string {
  const path = formatPath([...prefix, ...issue.path]);
  return path === '' ? describeIssue(issue) : `${path}: ${describeIssue(issue)}`;
}

/** Several issues in one line, bounded so a hostile input cannot produce a huge message. */
export function formatIssues(issues: readonly Issue[], prefix: IssuePath = [], max = 5): string {
  const parts = issues.slice(0, max).map((i) => formatIssue(i, prefix));
  if (issues.length > max) parts.push(`and ${issues.length - max} more`);
  return parts.join('; ');
}
