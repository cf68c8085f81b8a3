// Types for scripts/prune-protos.mjs (a build script in plain JavaScript, imported by tests).
import type { Root, INamespace } from 'protobufjs';

export const KEPT_SERVICES: Record<string, string[]>;
export const KEPT_METHODS: Record<string, string[]>;
export function closure(root: Root, services: string[]): Set<string>;
export function pruneProtos(json: INamespace, services: string[]): INamespace;
