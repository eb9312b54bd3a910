#!/bin/sh
# One-shot (the `temporal-setup` service): wait for the Temporal frontend, create semsync's namespace
# and register semsync's search attributes (devstack/temporal.py SEARCH_ATTRIBUTES) in it.
# Idempotent: what exists is left alone, so every `docker compose up` may run it again.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}"
RETENTION="${RETENTION:-30d}"
# name:type, as SEARCH_ATTRIBUTES lists them (tests/test_deploy.py keeps the two equal)
SEARCH_ATTRIBUTES="SemsyncTenant:Keyword SemsyncMetric:Keyword SemsyncGrain:Keyword SemsyncPartition:Keyword
SemsyncPattern:Keyword SemsyncBackfill:Keyword SemsyncSyncType:Keyword SemsyncStatus:Keyword SemsyncPriority:Keyword"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; do
  tries=$((tries + 1))
  [ "$tries" -lt 90 ] || { echo "Temporal at $TEMPORAL_ADDRESS is not serving after 180 s" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi

for pair in $SEARCH_ATTRIBUTES; do
  name="${pair%%:*}"
  type="${pair#*:}"
  # a new namespace takes a few seconds to reach every frontend: retry
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
        | grep -qw "$name"; then
      echo "search attribute $name exists"
      break
    fi
    if temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
        --name "$name" --type "$type"; then
      break
    fi
    [ "$attempt" -lt 10 ] || { echo "cannot create search attribute $name" >&2; exit 1; }
    sleep 3
  done
done
echo "namespace $NAMESPACE ready with semsync's search attributes"
