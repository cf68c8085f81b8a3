// Namespaces containment never touches when the caller passes no list of its own: the
// policy's built-in list, one definition for decide() and the executor's fallback guard.
// The policy file's list (built-ins plus its own) is what the pipeline passes in ActionContext.
export { BUILT_IN_PROTECTED_NAMESPACES as DEFAULT_PROTECTED_NAMESPACES } from '../policy/schema.js';
