// Anchored glob patterns for policy matchers. Every pattern matches the WHOLE value:
// `projects/78` style partial matches acted on the wrong project in other responders.
//   *   any run of characters except `/`
//   **  any run of characters including `/`
//   ?   exactly one character except `/`
// Every other character is literal (regex metacharacters included).

const cache = new Map<string, RegExp>();

export function globToRegExp(pattern: string): RegExp {
  const cached = cache.get(pattern);
  if (cached) return cached;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  const compiled = new RegExp(`${re}$`, 's');
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

export function globMatch(pattern: string, value: string): boolean {
  return globToRegExp(pattern).test(value);
}

/** The first pattern that matches the whole value, or undefined. */
export function firstGlobMatch(patterns: readonly string[], value: string): string | undefined {
  return patterns.find((p) => globMatch(p, value));
}
