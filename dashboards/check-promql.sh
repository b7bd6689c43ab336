#!/usr/bin/env bash
# Every PromQL expression in the Grafana dashboards (panel targets and annotations) returns data from a real
# Prometheus that scrapes a real embedded lab under load, with dashboards/prometheus/prometheus.yml's own scrape
# configuration (only the addresses changed to the lab's loopback ports). Prints each expression with the number of
# series it returned over the run, and for panels with exemplars the number of exemplars carrying a trace id;
# exits 1 if any expression returned nothing (or any exemplar panel had no trace id).
#
# Some panels only have data while something goes wrong, so the run switches scenarios on through the control API
# (`lab scenario enable`), as a user would:
#   error-burst at payments' HTTP server -> failed charges, so 502s at the storefront (5xx ratio), cancelled orders,
#                                          injections, storefront 5xx next to injections
#   deadlock                      -> grain calls timed out (the response timeout is shrunk to 5 s for this run)
#   resource-starvation on silo-1 -> long-running turns (turns over 200 ms count as long in this run)
# and off again, so the "scenario switches" annotation has switches to mark.
#
# Needs: a built CLI (dotnet build clients/Lab.Cli), prometheus (Debian: apt-get install prometheus), curl, jq.
# Usage: dashboards/check-promql.sh            (PROMETHEUS=/path/to/prometheus LAB_CLI=/path/to/lab to override)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
lab="${LAB_CLI:-$root/clients/Lab.Cli/bin/Debug/net10.0/lab}"
prometheus="${PROMETHEUS:-prometheus}"
baseline_s="${CHECK_BASELINE_SECONDS:-40}"
fault_s="${CHECK_FAULT_SECONDS:-35}"
after_s="${CHECK_AFTER_SECONDS:-20}"

for tool in curl jq "$prometheus"; do
  command -v "$tool" >/dev/null || { echo "check-promql: $tool is missing" >&2; exit 2; }
done
if [ ! -x "$lab" ]; then
  echo "check-promql: building the CLI"
  dotnet build "$root/clients/Lab.Cli" -v q -nologo >/dev/null
fi

work="$(mktemp -d)"
lab_pid="" prom_pid="" load_pid=""
cleanup() {
  # SIGTERM, not SIGINT: the launcher stops every process it started on SIGTERM.
  for pid in "$load_pid" "$lab_pid" "$prom_pid"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "$load_pid" "$lab_pid" "$prom_pid"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Nine consecutive free loopback ports (storefront, payments, 2 silo HTTP, 2 silo, 2 gateway, Prometheus), below the
# kernel's ephemeral range (32768+) so outgoing connections on a busy machine do not take them meanwhile.
pick_ports() {
  base=""
  for _ in $(seq 1 50); do
    local candidate=$((12000 + RANDOM % 19000)) ok=1 offset
    for offset in $(seq 0 8); do
      if listening $((candidate + offset)); then ok=0; break; fi
    done
    if [ "$ok" = 1 ]; then base=$candidate; break; fi
  done
  [ -n "$base" ] || { echo "check-promql: no free port range found" >&2; exit 2; }
  storefront=$base payments=$((base + 1)) silo_http=$((base + 2)) silo_port=$((base + 4)) gateway=$((base + 6)) prom_port=$((base + 8))
}

# Starts the lab; returns 1 if it did not become healthy (a port taken meanwhile, a crash), after stopping it.
start_lab() {
  rm -rf "$work/lab"
  echo "check-promql: starting an embedded lab (storefront :$storefront)"
  # The same exemplar setting as the compose lab; a short response timeout so the deadlock's timeouts come quickly,
  # and a short long-running-turn threshold so resource-starvation's blocked turns count without starving the machine;
  # the page cache on, so that its panels have data.
  OTEL_METRICS_EXEMPLAR_FILTER=trace_based Orleans__ResponseTimeout=00:00:05 Orleans__Scheduling__TurnWarningLengthThreshold=00:00:00.200 \
    "$lab" up --no-dashboard --silos 2 --page-cache 5s --data-dir "$work/lab" \
    --storefront-port "$storefront" --payments-port "$payments" --silo-http-port "$silo_http" \
    --silo-port "$silo_port" --gateway-port "$gateway" >"$work/up.log" 2>&1 &
  lab_pid=$!
  local deadline=$((SECONDS + 240))
  until curl -sf "http://127.0.0.1:$storefront/health" >/dev/null; do
    if ! kill -0 "$lab_pid" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
      cat "$work/up.log" >&2
      kill -TERM "$lab_pid" 2>/dev/null || true
      wait "$lab_pid" 2>/dev/null || true
      lab_pid=""
      return 1
    fi
    sleep 1
  done
}

started=0
for attempt in 1 2 3; do
  pick_ports
  if start_lab; then started=1; break; fi
  echo "check-promql: the lab did not start (attempt $attempt)" >&2
done
[ "$started" = 1 ] || exit 1

# The compose scrape configuration with the lab's addresses: silo-3 and the collector do not exist here.
sed -e "s/silo-1:8080/127.0.0.1:$silo_http/" -e "s/silo-2:8080/127.0.0.1:$((silo_http + 1))/" \
    -e "s/storefront:8080/127.0.0.1:$storefront/" -e "s/payments:8080/127.0.0.1:$payments/" \
    "$root/dashboards/prometheus/prometheus.yml" |
  awk '/"silo-3:8080"/ { getline; next } /job_name: otel-collector/ { skip = 1 } /job_name:/ && !/otel-collector/ { skip = 0 } !skip' \
  >"$work/prometheus.yml"
echo "check-promql: starting Prometheus (:$prom_port)"
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --enable-feature=exemplar-storage >"$work/prometheus.log" 2>&1 &
prom_pid=$!
until curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null; do
  kill -0 "$prom_pid" 2>/dev/null || { echo "check-promql: prometheus did not start" >&2; cat "$work/prometheus.log" >&2; exit 1; }
  sleep 1
done

export LAB_TOKEN; LAB_TOKEN="$(cat "$work/lab/token")"
url="http://127.0.0.1:$storefront"
start=$(date +%s)
total=$((baseline_s + fault_s + after_s + 10))
"$lab" load --target "$url" --rate 25/s --duration "${total}s" --no-progress >"$work/load.log" 2>&1 &
load_pid=$!

echo "check-promql: baseline load for ${baseline_s}s"
sleep "$baseline_s"
echo "check-promql: error-burst, deadlock and resource-starvation on for ${fault_s}s"
"$lab" scenario enable error-burst --url "$url" --set rate=70% --set window=${fault_s}s --set hook=http-server \
  --target service=payments --ttl 5m >/dev/null
"$lab" scenario enable deadlock --url "$url" --ttl 5m >/dev/null
"$lab" scenario enable resource-starvation --url "$url" --set block=300ms --set rate=10% --set style=sync-over-async \
  --target service=silo-1 --ttl 5m >/dev/null
sleep "$fault_s"
"$lab" scenario reset --url "$url" >/dev/null
echo "check-promql: scenarios off, ${after_s}s more"
sleep "$after_s"
end=$(date +%s)

api="http://127.0.0.1:$prom_port/api/v1"
checked=0 empty=0
printf '%-7s %-9s %-20s %s\n' series exemplars dashboard expression
for file in "$root"/dashboards/grafana/dashboards/*.json; do
  name="$(basename "$file" .json)"
  # Every target and annotation expression, with whether its panel shows exemplars.
  while IFS=$'\t' read -r exemplar expr; do
    answer="$(curl -s "$api/query_range" --data-urlencode "query=$expr" --data-urlencode "start=$start" \
      --data-urlencode "end=$end" --data-urlencode "step=5")"
    if [ "$(jq -r '.status' <<<"$answer")" != success ]; then
      series="error"; empty=$((empty + 1))
    else
      series="$(jq '.data.result | length' <<<"$answer")"
      [ "$series" -gt 0 ] || empty=$((empty + 1))
    fi
    traces="-"
    if [ "$exemplar" = true ]; then
      traces="$(curl -s "$api/query_exemplars" --data-urlencode "query=$expr" --data-urlencode "start=$start" \
        --data-urlencode "end=$end" | jq '[.data[]?.exemplars[]? | select(.labels.trace_id != null)] | length')"
      [ "$traces" -gt 0 ] || empty=$((empty + 1))
    fi
    checked=$((checked + 1))
    printf '%-7s %-9s %-20s %s\n' "$series" "$traces" "$name" "$expr"
    [ "$series" != error ] || jq -r '.error' <<<"$answer"
  done < <(jq -r '.. | objects | select(has("expr")) | "\(.exemplar // false)\t\(.expr)"' "$file")
done

echo "check-promql: $checked expressions, $empty without data"
[ "$empty" -eq 0 ]
