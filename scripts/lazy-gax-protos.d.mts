// Types for scripts/lazy-gax-protos.mjs (a build script in plain JavaScript, imported by tests).
export function lazyGaxStaticProtos(text: string, file?: string): string;
