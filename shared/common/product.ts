// The responder's name and version: the one place they are written. The name signs every
// record (audit operation producer, Pub/Sub attribute, report and evidence objects); the
// version is recorded in every manifest, report and audit entry. Kept equal to package.json's
// by test/unit/version.test.ts (importing package.json would not survive the build layout of
// the deployed function).
export const VERSION = '0.1.0';
export const RESPONDER_NAME = 'scc-container-responder';
/** The identity a report carries. */
export const RESPONDER = { name: RESPONDER_NAME, version: VERSION } as const;
