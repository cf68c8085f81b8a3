// The action registry: the behaviour file of each action in the catalog. Adding an action is
// one entry in shared/policy/actions.ts (type, parameters, destructiveness, order, words) and
// one file in actions/ registered here; the Record type makes the compiler insist on a
// behaviour for every catalog entry, and a unit test that each behaviour's type is its key.
import type { ActionType } from '../policy/actions.js';
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
