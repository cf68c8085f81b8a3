// A rewrite of @kubernetes/client-node's generated API classes for the bundle (scripts/bundle.mjs).
//
// Each API group is four generated classes (request factory, response processor, Observable,
// Promise/ObjectParam wrappers) with a method per operation: CoreV1Api alone is ~0.6 MB, and
// with the Observable/Object wrappers of the four groups we use the bundle carried ~1.6 MB of
// methods V8 parses on every cold instance to make the 17 calls of
// shared/kube/client-node-methods.ts. Class methods cannot be tree-shaken, so the bundle drops
// the others from the source: a member of one of those classes is kept if it is the
// constructor or a listed method (or its ...WithHttpInfo twin). The generated code is
// regular (tsc output: members at four spaces, closed by a line "    }"); if it is not, or a
// listed method is missing, the build fails instead of shipping something unchecked.
const MEMBER = /^ {4}(?:async )?([A-Za-z_$][\w$]*)\(.*\) \{$/;
const CLASS = /^export class ([A-Za-z_$][\w$]*)/;

/** The API group a generated class belongs to (ObservableCoreV1Api, CoreV1ApiRequestFactory, ...), or undefined. */
function groupOf(className, groups) {
  const bare = className.replace(/^(Observable|Object|Promise)/, '').replace(/(RequestFactory|ResponseProcessor)$/, '');
  return groups.includes(bare) ? bare : undefined;
}

/** The file's text with the members of the listed groups' classes reduced to `methods`; throws on an unexpected shape. */
export function pruneClientNodeApis(text, methods, file = 'client-node generated API') {
  const groups = Object.keys(methods);
  const lines = text.split('\n');
  const out = [];
  const kept = new Set();
  const seen = new Set();
  let group;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const cls = CLASS.exec(line);
    if (cls) {
      group = groupOf(cls[1], groups);
      if (group) seen.add(group);
    }
    else if (line === '}') group = undefined;
    const member = group ? MEMBER.exec(line) : null;
    if (group && !member && /^ {4}[^ ]/.test(line) && line !== '    }' && !/^ {4}(\/\*\*|\/\/)/.test(line)) {
      throw new Error(`${file}:${i + 1}: unexpected class member line '${line.trim().slice(0, 60)}': client-node changed, review scripts/prune-client-node-apis.mjs`);
    }
    if (!member) {
      out.push(line);
      continue;
    }
    const name = member[1];
    const base = name.replace(/WithHttpInfo$/, '');
    let end = i + 1;
    while (end < lines.length && lines[end] !== '    }') end++;
    if (end === lines.length) throw new Error(`${file}:${i + 1}: no end of member ${name}: client-node changed, review scripts/prune-client-node-apis.mjs`);
    if (name === 'constructor' || methods[group].includes(base)) {
      out.push(...lines.slice(i, end + 1));
      kept.add(`${group}.${base}`);
    }
    i = end;
  }
  for (const g of seen) {
    const missing = methods[g].filter((m) => !kept.has(`${g}.${m}`));
    if (missing.length > 0) throw new Error(`${file}: ${g} has no method ${missing.join(', ')}: client-node changed, review shared/kube/client-node-methods.ts`);
  }
  return { text: out.join('\n'), kept };
}
