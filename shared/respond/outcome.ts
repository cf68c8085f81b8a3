// The verdict of one response, from its steps: handled, partial, failed, or retry (a
// transient failure of work that matters asks Pub/Sub for a redelivery). Pure.
import type { StepResult } from '../common/step.js';
import type { ActionOutcome } from '../contain/types.js';
import type { EvidenceResult } from '../evidence/types.js';
import { marksFor, type HashVerdict as MarkHashVerdict } from '../record/marks.js';
import type { ResponsePlan } from '../policy/types.js';
import { mergeStatuses, type EffectRecord } from './prior-effects.js';
import type { ReportOutcome } from './report.js';

/** Hash verdict in the marks' vocabulary. */
export function markHash(result: EvidenceResult | undefined): MarkHashVerdict {
  if (result && result.outcome === 'failed' && result.blame === 'target') return 'withheld-by-target';
  if (!result || result.outcome === 'failed') return 'no-evidence';
  const manifest = result.manifest;
  if (!manifest) return 'not-compared';
  const partial = manifest.hashes.prefix !== undefined;
  switch (manifest.verdict) {
    case 'matches':
      return partial ? 'partial-match' : 'matches';
    case 'differs':
      return partial ? 'partial-differs' : 'differs';
    default:
      return 'not-compared';
  }
}

function actionMarkWords(outcomes: readonly ActionOutcome[], prior: readonly EffectRecord[]): string {
  if (outcomes.length === 0) return 'none';
  return marksFor({ runId: 'x', rule: 'x', actions: mergeStatuses(outcomes, prior), mode: outcomes.some((o) => o.mode === 'enforce') ? 'enforce' : 'dry-run' }).scc_responder_action;
}

/** Verdict from the steps: transient failures of work that matters ask for a redelivery. */
export function computeOutcome(steps: readonly StepResult[], actions: readonly ActionOutcome[], plan: ResponsePlan, prior: readonly EffectRecord[] = []): ReportOutcome {
  const failed = steps.filter((s) => s.status === 'failed');
  const failedSteps = failed.map((s) => s.name);
  const retry = failed.some((s) => s.failure === 'transient' && s.bestEffort !== true);
  const action = actionMarkWords(actions, prior);
  let verdict: ReportOutcome['verdict'];
  if (retry) verdict = 'retry';
  else if (failed.length === 0) verdict = 'handled';
  else if (failed.length === steps.length) verdict = 'failed';
  else verdict = 'partial';
  const summary =
    `${verdict}: rule ${plan.rule} (${plan.mode}), action ${action}` +
    (failedSteps.length > 0 ? `; failed steps: ${failedSteps.join(', ')}` : '') +
    (retry ? '; a transient failure asks for redelivery' : '');
  return { verdict, action, retry, summary, failedSteps };
}
