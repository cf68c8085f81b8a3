// The responder's version, recorded in every manifest, report and audit entry. Kept equal to
// package.json's by test/unit/version.test.ts (importing package.json would not survive the
// build layout of the deployed function).
export const VERSION = '0.1.0';
export const RESPONDER_NAME = 'scc-container-responder';
