// Types for scripts/lean-zod.mjs (a build script in plain JavaScript, imported by tests).
export const ZOD_INDEX: string;
export function leanZodExternal(text: string, file?: string): string;
export function checkZodIndex(text: string, file?: string): string;
