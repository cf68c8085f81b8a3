// Types for scripts/prune-client-node-apis.mjs (a build script in plain JavaScript, imported by tests).
export function pruneClientNodeApis(text: string, methods: Readonly<Record<string, readonly string[]>>, file?: string): { text: string; kept: Set<string> };
