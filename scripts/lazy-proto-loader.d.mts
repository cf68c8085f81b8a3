// Types for scripts/lazy-proto-loader.mjs (a build script in plain JavaScript, imported by tests).
export const PROTO_LOADER_LAZY: [string, string][];
export function lazyProtoLoader(text: string, file?: string): string;
