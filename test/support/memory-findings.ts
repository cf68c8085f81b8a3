// An in-memory FindingReader (the port the SCC findings adapter implements), for tests that
// inject adapters instead of building them against the gRPC fake: SCC "knows" exactly the
// notifications given to it, with the fixtures' Container Threat Detection source.
import type { FindingReader, SccFindingCopy, SccSource } from '../../shared/ports.js';
import { CTD_SOURCE } from './fake-scc.js';

export interface MemoryFindings extends FindingReader {
  add(notification: unknown): void;
  reads: string[];
}

export function memoryFindings(...notifications: unknown[]): MemoryFindings {
  const copies = new Map<string, SccFindingCopy['notification']>();
  const reads: string[] = [];
  const add = (n: unknown): void => {
    const copy = structuredClone(n) as SccFindingCopy['notification'];
    copies.set(String(copy.finding['name']), copy);
  };
  for (const n of notifications) add(n);
  return {
    add,
    reads,
    getFinding(name: string): Promise<SccFindingCopy | null> {
      reads.push(name);
      const c = copies.get(name);
      return Promise.resolve(c ? { notification: structuredClone(c) } : null);
    },
    getSource(name: string): Promise<SccSource | null> {
      return Promise.resolve(name === CTD_SOURCE ? { name, displayName: 'Container Threat Detection' } : null);
    },
  };
}
