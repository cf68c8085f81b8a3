// The playbook's Cloud Logging helpers live on the lowest floor (shared/common/log-query.ts)
// since the approval author lookup (shared/finding, shared/gcp) builds its query with them too.
export { encodeUrlPart, logsExplorerUrl, quoteLogValue, withTimeWindow, type LogsExplorerScope } from '../common/log-query.js';
