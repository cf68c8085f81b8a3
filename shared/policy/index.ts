// The policy module's public face: load a file, decide for an incident, list what it covers.
export { loadPolicy, formatPolicyErrors, MAX_POLICY_BYTES, type PolicyError, type PolicyResult } from './load.js';
export { categoryNotCovered, coversCategory, decide, explain, evaluateRule, notificationFilter, policyCategories, protectedNamespaceMatch, type Explanation, type RuleEvaluation } from './decide.js';
export { decideMessage, screenMessage, type MessageDecision, type ScreenedDecision, type ScreenedMessageDecision } from './decide-message.js';
export { DEFAULT_POLICY_SOURCE, DEFAULT_POLICY_YAML, defaultPolicy } from './default-policy.js';
export {
  BUILT_IN_PROTECTED_NAMESPACES,
  DESTRUCTIVE_ACTIONS,
  policyJsonSchema,
  policySchema,
  type Policy,
  type PolicyAction,
  type PolicyInput,
  type PolicyRule,
} from './schema.js';
export { globMatch, globToRegExp } from './glob.js';
export type * from './types.js';
export { approvalSplit, approvedPlan, DEFAULT_APPROVAL, immediatePlan, waitsForApproval } from './approval.js';
