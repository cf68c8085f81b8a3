// SCC finding names and the UpdateSecurityMarks request shape (v1 and v2 alike): which API
// version a finding name belongs to, valid mark keys and values, and a request whose update
// mask names only the keys written (an empty mask would replace every mark). Pure.
import { ResponderError } from '../common/errors.js';

const KEY_RE = /^[A-Za-z0-9_-]{1,256}$/;
const MAX_VALUE = 4096;

/** A valid mark value: control characters replaced, trimmed, 1-4096 characters (`none` when empty). */
export function markValue(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = raw.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (clean.length === 0) return 'none';
  return clean.length > MAX_VALUE ? `${clean.slice(0, MAX_VALUE - 3)}...` : clean;
}

export function isValidMarkKey(key: string): boolean {
  return KEY_RE.test(key);
}

const FINDING_NAME = /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+(\/locations\/[^/]+)?\/findings\/[^/]+$/;

/** `v2` when the finding name carries `/locations/L/`, else `v1`; throws on anything else. */
export function apiVersionOf(findingName: string): 'v1' | 'v2' {
  const m = FINDING_NAME.exec(findingName);
  if (!m) throw new ResponderError(`not an SCC finding name: ${JSON.stringify(findingName.slice(0, 300))}`, 'permanent', { code: 'INVALID_FINDING_NAME' });
  return m[2] === undefined ? 'v1' : 'v2';
}

export function marksResourceName(findingName: string): string {
  apiVersionOf(findingName);
  return `${findingName}/securityMarks`;
}

/** The UpdateSecurityMarks request: only our keys in the mask, never an empty mask. */
export function updateMarksRequest(findingName: string, marks: Record<string, string>): {
  securityMarks: { name: string; marks: Record<string, string> };
  updateMask: { paths: string[] };
} {
  const keys = Object.keys(marks);
  if (keys.length === 0) throw new ResponderError(`no marks to write on ${findingName}: an empty update mask would replace every mark`, 'permanent', { code: 'EMPTY_MASK' });
  const clean: Record<string, string> = {};
  for (const key of keys) {
    if (!isValidMarkKey(key)) throw new ResponderError(`invalid security mark key ${JSON.stringify(key)} (letters, digits, _ or -, 1-256)`, 'permanent', { code: 'INVALID_MARK_KEY' });
    clean[key] = markValue(marks[key] ?? '');
  }
  return { securityMarks: { name: marksResourceName(findingName), marks: clean }, updateMask: { paths: keys.map((k) => `marks.${k}`) } };
}
