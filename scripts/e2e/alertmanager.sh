#!/usr/bin/env bash
# End-to-end check against a real Prometheus Alertmanager (issue 4):
#
#   1. builds Alertmanager from its Go module source
#      (scripts/e2e/build-alertmanager.sh: go install fails on the missing
#      ui/app/dist, so the module is copied and a placeholder
#      ui/app/dist/index.html added) and firebreak;
#   2. starts `firebreak dev` on free loopback ports with a throw-away data
#      directory and creates an alertmanager integration key for "checkout";
#   3. starts TWO Alertmanager replicas in an HA cluster (gossip on loopback),
#      both with a webhook receiver pointing at
#      /api/v1/integrations/alertmanager with the key as bearer credential;
#   4. fires the same two alerts into both replicas (as Prometheus does in
#      HA), and checks that firebreak opens exactly one incident for the
#      group with both alerts counted;
#   5. resolves the alerts in both replicas and checks that the incident is
#      resolved, and that still exactly one incident exists.
#
# Needs Go and network access to the Go module proxy; everything listens on
# 127.0.0.1 and stops on exit. Runs in about 2-4 minutes (mostly the build).
#
#   scripts/e2e/alertmanager.sh                 # Alertmanager v0.34.0
#   AM_VERSION=v0.35.0 scripts/e2e/alertmanager.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v curl >/dev/null || { echo "alertmanager.sh needs curl" >&2; exit 1; }
AM_VERSION="${AM_VERSION:-v0.34.0}"
work=$(mktemp -d "${TMPDIR:-/tmp}/firebreak-am-e2e.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "--- logs (kept in $work)"
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done
  else
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# free_port prints a loopback port nothing listens on (a race with other
# programs is possible but harmless here: the start then fails loudly).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# 1. Build.
say "building firebreak"
go build -o "$work/firebreak" ./cmd/firebreak
say "building Alertmanager $AM_VERSION from its module source"
scripts/e2e/build-alertmanager.sh "$work/alertmanager" "$AM_VERSION" >"$work/am-build.log" 2>&1 ||
  fail "building Alertmanager (see $work/am-build.log)"
"$work/alertmanager" --version 2>&1 | head -1

# 2. firebreak dev.
fb_port=$(free_port)
fb="http://127.0.0.1:$fb_port"
say "starting firebreak dev on $fb"
"$work/firebreak" dev --data-dir "$work/data" --http-addr "127.0.0.1:$fb_port" --nats-listen "" --sample=false \
  --log-level info >"$work/firebreak.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "$fb/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$fb/readyz" >/dev/null || fail "firebreak dev did not become ready"
export FIREBREAK_SERVER="$fb" FIREBREAK_TOKEN
FIREBREAK_TOKEN=$(cat "$work/data/admin.token")
key=$("$work/firebreak" integration create checkout --type alertmanager | tail -n 1)
[ ${#key} -eq 32 ] || fail "integration create printed no 32-character key: $key"

# 3. Two Alertmanager replicas in one HA cluster.
cat >"$work/alertmanager.yml" <<EOF
route:
  receiver: firebreak
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: firebreak
    webhook_configs:
      - url: $fb/api/v1/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: $key
EOF
am1=$(free_port); am2=$(free_port); gossip1=$(free_port); gossip2=$(free_port)
start_am() { # name web-port gossip-port peer-port
  "$work/alertmanager" --config.file "$work/alertmanager.yml" --storage.path "$work/$1" \
    --web.listen-address "127.0.0.1:$2" --cluster.listen-address "127.0.0.1:$3" \
    --cluster.advertise-address "127.0.0.1:$3" --cluster.peer "127.0.0.1:$4" \
    --cluster.settle-timeout 2s --log.level info >"$work/$1.log" 2>&1 &
  pids+=($!)
}
say "starting Alertmanager replicas on :$am1 and :$am2"
start_am am1 "$am1" "$gossip1" "$gossip2"
start_am am2 "$am2" "$gossip2" "$gossip1"
for port in "$am1" "$am2"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null || fail "Alertmanager on :$port did not become ready"
done

alerts() { # endsAt (empty: firing)
  local ends=""
  [ -n "$1" ] && ends=",\"endsAt\":\"$1\""
  cat <<EOF
[{"labels":{"alertname":"CheckoutErrors","cluster":"eu-1","instance":"web-1","severity":"critical"},
  "annotations":{"summary":"Checkout 5xx above 5% on web-1"},"generatorURL":"http://prometheus.example/graph?g0.expr=up"$ends},
 {"labels":{"alertname":"CheckoutErrors","cluster":"eu-1","instance":"web-2","severity":"critical"},
  "annotations":{"summary":"Checkout 5xx above 5% on web-2"},"generatorURL":"http://prometheus.example/graph?g0.expr=up"$ends}]
EOF
}
post_alerts() {
  for port in "$am1" "$am2"; do
    curl -fsS -X POST "http://127.0.0.1:$port/api/v2/alerts" -H 'Content-Type: application/json' -d "$(alerts "$1")" >/dev/null
  done
}

# The CLI's table: INCIDENT STATUS SEV SERVICE ALERTS OPENED TITLE.
incidents() { "$work/firebreak" incident list --service checkout; }
count_incidents() { incidents | awk '/^INC-/ { n++ } END { print n + 0 }'; }
column_of_first() { incidents | awk -v c="$1" '/^INC-/ { print $c; exit }'; }

# 4. Fire.
say "firing 2 alerts into both replicas"
post_alerts ""
for _ in $(seq 1 100); do
  [ "$(count_incidents)" -ge 1 ] && break
  sleep 0.3
done
[ "$(count_incidents)" -ge 1 ] || fail "no incident for the Alertmanager group"
sleep 5 # both replicas have flushed the group by now; a duplicate would show
n=$(count_incidents)
[ "$n" -eq 1 ] || fail "$n incidents for one alert group sent by two HA replicas, want 1"
say "one incident: $(column_of_first 1) $(column_of_first 2), $(column_of_first 5) alerts"

# 5. Resolve.
say "resolving the alerts in both replicas"
post_alerts "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
status=""
for _ in $(seq 1 150); do
  status=$(column_of_first 2)
  [ "$status" = resolved ] && break
  sleep 0.3
done
[ "$status" = resolved ] || fail "incident is $status after the group resolved, want resolved"
n=$(count_incidents)
[ "$n" -eq 1 ] || fail "$n incidents after resolving, want 1"
say "PASS: one incident, resolved when every alert of the group resolved, from two HA Alertmanager replicas"
