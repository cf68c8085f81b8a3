// Google's pino configuration for Cloud Logging (severity, message, timestamp, insertId,
// serviceContext), loaded synchronously on the audit log's first written entry: the package
// requires @google-cloud/logging and google-gax at load (~400 ms), which a message that
// logs nothing must not pay (shared/record/audit-log.ts).
import { createRequire } from 'node:module';
import type { createGcpLoggingPinoConfig as CreateGcpLoggingPinoConfig } from '@google-cloud/pino-logging-gcp-config';

const require = createRequire(import.meta.url);

export function loadGcpConfig(): typeof CreateGcpLoggingPinoConfig {
  const mod = require('@google-cloud/pino-logging-gcp-config') as { createGcpLoggingPinoConfig: typeof CreateGcpLoggingPinoConfig };
  return mod.createGcpLoggingPinoConfig;
}
