// Reads the project's own import graph (static imports, re-exports and dynamic import()),
// so a test can hold the layering of DESIGN.md: nothing imports upward, and only the adapter
// folders load a client library. Type-only imports are left out: they load nothing.
import fs from 'node:fs';
import path from 'node:path';

export interface ImportEdge {
  from: string;
  /** Repo-relative path of the imported file, or the bare package name. */
  to: string;
  line: number;
  /** An `import()` expression: loaded when that code runs, not when the importer loads. */
  dynamic: boolean;
}

const SPECIFIER = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importsOf(file: string, source: string, root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    if (m[2] !== undefined) continue; // import type / export type
    const spec = m[3] ?? m[4];
    if (spec === undefined) continue;
    const line = source.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
    if (spec.startsWith('.')) {
      const abs = path.resolve(path.dirname(path.join(root, file)), spec).replace(/\.js$/, '.ts');
      edges.push({ from: file, to: path.relative(root, abs), line, dynamic: m[4] !== undefined });
    } else {
      const parts = spec.split('/');
      edges.push({ from: file, to: spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec), line, dynamic: m[4] !== undefined });
    }
  }
  return edges;
}

export function listSources(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(child);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

export function readGraph(root: string, dirs: readonly string[]): ImportEdge[] {
  return listSources(root, dirs).flatMap((f) => importsOf(f, fs.readFileSync(path.join(root, f), 'utf8'), root));
}

/** Every file (and package) `entry` loads before any of its code runs: static edges only. */
export function staticClosure(edges: readonly ImportEdge[], entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f)) continue;
    seen.add(f);
    for (const e of edges) if (e.from === f && !e.dynamic) todo.push(e.to);
  }
  return seen;
}
