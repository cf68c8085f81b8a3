// The evidence side of the binary-path check: the same validation the Incident applies
// (shared/finding/binary-path.ts), so a path the finding flags is never read, and one it
// accepts is never refused here.
export { checkBinaryPath as validateBinaryPath, MAX_PATH_BYTES, type PathCheck } from '../finding/binary-path.js';
