// Collects every audit line a run writes (pino destination), parsed, for assertions.
export interface AuditCapture {
  destination: { write(s: string): void };
  lines: string[];
  entries(): Record<string, unknown>[];
  clear(): void;
}

export function captureAudit(): AuditCapture {
  const lines: string[] = [];
  return {
    destination: {
      write(s: string) {
        for (const l of s.split('\n')) if (l.trim() !== '') lines.push(l);
      },
    },
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    clear: () => {
      lines.length = 0;
    },
  };
}

export const OPERATION = 'logging.googleapis.com/operation';
export const LABELS = 'logging.googleapis.com/labels';
export const PLANTED_SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';
