// The action registry: adding an action is one file in actions/ plus one entry here. The
// Record type makes the compiler insist on an entry for every ActionType in the policy.
import type { ActionType } from '../policy/types.js';
import type { RegisteredAction } from './types.js';
import { annotatePod } from './actions/annotate-pod.js';
import { cordonNode } from './actions/cordon-node.js';
import { deletePod } from './actions/delete-pod.js';
import { labelPod } from './actions/label-pod.js';
import { quarantinePod } from './actions/quarantine-pod.js';

export const ACTIONS: Readonly<Record<ActionType, RegisteredAction>> = {
  labelPod,
  annotatePod,
  quarantinePod,
  cordonNode,
  deletePod,
};
