// Types for scripts/lazy-protobuf-ctors.mjs (a build script in plain JavaScript, imported by tests).
export const PROTOBUF_LAZY_CTORS: Record<string, [string, string][]>;
export function lazyProtobufCtors(text: string, which: string, file?: string): string;
