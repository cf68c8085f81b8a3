// Owner hints from cluster labels (playbook step 2: "note metadata about the cluster and its
// owner"; step 7: "contact the owner"). GKE labels cannot hold '@', so people encode
// contacts as `owner: jane_doe`, `team: payments`, `contact: ...`. Pure.

const OWNER_LABEL = /^(owner|owners|team|contact|contacts|cost[-_]?center|costcentre|department|dept|group|oncall|on[-_]call|email|maintainer|maintainers|responsible|business[-_]unit|product|service[-_]owner|squad)$/i;

export function ownerHints(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    // Prefixed keys (`example.com/owner`) count by their last part.
    const key = k.split('/').pop() ?? k;
    if (OWNER_LABEL.test(key) && v !== '') out[k] = v;
  }
  return out;
}
