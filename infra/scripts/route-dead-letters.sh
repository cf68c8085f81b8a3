#!/usr/bin/env bash
# Routes dead letters on the Pub/Sub subscription that Eventarc manages for the function's
# trigger (Terraform cannot: see infra/README.md, "Retries and dead letters").
#
#   TRIGGER=projects/P/locations/R/triggers/T \
#   DEAD_LETTER_TOPIC=projects/P/topics/scc-responder-dead-letters \
#   MAX_ATTEMPTS=20 PUBSUB_AGENT=service-NNN@gcp-sa-pubsub.iam.gserviceaccount.com \
#   infra/scripts/route-dead-letters.sh
#
# (terraform output dead_letter_route_env prints these four values.) Idempotent: safe to rerun.
set -euo pipefail
: "${TRIGGER:?TRIGGER=projects/P/locations/R/triggers/T}"
: "${DEAD_LETTER_TOPIC:?DEAD_LETTER_TOPIC=projects/P/topics/T}"
: "${MAX_ATTEMPTS:?MAX_ATTEMPTS (5-100)}"
: "${PUBSUB_AGENT:?PUBSUB_AGENT=service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com}"

if [[ ! "$TRIGGER" =~ ^projects/([^/]+)/locations/([^/]+)/triggers/([^/]+)$ ]]; then
  echo "route-dead-letters: TRIGGER must be projects/P/locations/R/triggers/T, got: $TRIGGER" >&2
  exit 2
fi
project="${BASH_REMATCH[1]}" location="${BASH_REMATCH[2]}" trigger="${BASH_REMATCH[3]}"

subscription="$(gcloud eventarc triggers describe "$trigger" --project="$project" --location="$location" \
  --format='value(transport.pubsub.subscription)')"
if [[ -z "$subscription" ]]; then
  echo "route-dead-letters: trigger $TRIGGER has no Pub/Sub subscription (yet?)" >&2
  exit 1
fi
echo "route-dead-letters: $subscription -> $DEAD_LETTER_TOPIC after $MAX_ATTEMPTS attempts"

# Pub/Sub's service agent must be able to take the message off the source subscription
# (subscriber) and publish it to the dead-letter topic (publisher, granted by Terraform).
gcloud pubsub subscriptions add-iam-policy-binding "$subscription" \
  --member="serviceAccount:$PUBSUB_AGENT" --role="roles/pubsub.subscriber" --quiet >/dev/null
gcloud pubsub subscriptions update "$subscription" \
  --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_ATTEMPTS" --quiet
