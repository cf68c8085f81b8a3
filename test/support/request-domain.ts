/** Whether `process.domain` is set now (typed only where `node:domain` is imported). */
export function inDomain(): boolean {
  const d = (process as { domain?: unknown }).domain;
  return d !== undefined && d !== null;
}
