#!/usr/bin/env bash
# Compares the lab's load client with wrk against the same trivial loopback endpoint, in one run:
#   1. wrk, closed loop with C connections: its maximum rate and its p50;
#   2. the client, open model at a rate it cannot reach (max-in-flight C): its maximum rate;
#   3. the client, closed model with C users and no think time: its rate and p50;
# in R rounds, alternating, so drift on a shared machine touches all three alike; prints each round and the medians.
# Needs: dotnet, wrk (apt-get install wrk), python3, curl. Everything talks to 127.0.0.1 only.
# Usage: bench/load-vs-wrk/run.sh [seconds per run, default 10] [connections, default 32] [rounds, default 3]
set -euo pipefail

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
ROUNDS="${3:-3}"
PORT="${PORT:-5199}"
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(mktemp -d)"
URL="http://127.0.0.1:${PORT}/"

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

echo "building (Release)..."
dotnet build -c Release -v q -nologo "$HERE/EchoServer" >/dev/null
dotnet build -c Release -v q -nologo "$HERE/LoadDriver" >/dev/null
SERVER_DLL="$HERE/EchoServer/bin/Release/net10.0/EchoServer.dll"
DRIVER_DLL="$HERE/LoadDriver/bin/Release/net10.0/LoadDriver.dll"

ASPNETCORE_URLS="$URL" dotnet "$SERVER_DLL" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 1 50); do
  curl -fs "$URL" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$URL" >/dev/null || { echo "echo server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }

echo "warming up the server (3 s of wrk)..."
wrk -t1 -c"$CONNECTIONS" -d3s "$URL" >/dev/null

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS: wrk -t1 -c$CONNECTIONS -d${DURATION}s"
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$URL" >"$OUT/wrk-$round.txt"

  echo "round $round/$ROUNDS: client, open model at 200000/s (cannot be reached), max in flight $CONNECTIONS, ${DURATION}s after a 3 s warm-up"
  dotnet "$DRIVER_DLL" load --target "$URL" --mix get=1 --rate 200000/s --max-in-flight "$CONNECTIONS" \
    --duration "${DURATION}s" --warmup 3s --no-progress --seed 1 --out "$OUT/open-$round" >/dev/null || true

  echo "round $round/$ROUNDS: client, closed model with $CONNECTIONS users, no think time, ${DURATION}s after a 3 s warm-up"
  dotnet "$DRIVER_DLL" load --target "$URL" --mix get=1 --users "$CONNECTIONS" \
    --duration "${DURATION}s" --warmup 3s --no-progress --seed 1 --out "$OUT/closed-$round" >/dev/null || true
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    wrk = open(f"{out}/wrk-{r}.txt").read()
    wrk_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
    m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M)
    wrk_p50 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    open_report = json.load(open(f"{out}/open-{r}/report.json"))
    closed_report = json.load(open(f"{out}/closed-{r}/report.json"))
    rows.append(dict(
        wrk=wrk_rate, wrk_p50=wrk_p50,
        open=open_report["requests"]["rate"], closed=closed_report["requests"]["rate"],
        closed_p50=closed_report["requests"]["latencyMs"]["p50"],
        dropped=open_report["schedule"]["dropped"], errors=open_report["requests"]["errors"] + closed_report["requests"]["errors"]))
print()
print("round  wrk req/s  open req/s  closed req/s  open/wrk  closed/wrk  p50 wrk ms  p50 closed ms  errors")
for i, r in enumerate(rows, 1):
    print(f"{i:5}  {r['wrk']:9.0f}  {r['open']:10.0f}  {r['closed']:12.0f}  {r['open'] / r['wrk']:8.2f}  {r['closed'] / r['wrk']:10.2f}"
          f"  {r['wrk_p50']:10.3f}  {r['closed_p50']:13.3f}  {r['errors']:6}")
median = lambda xs: statistics.median(xs)
print()
print(f"median over {rounds} round(s): open/wrk {median([r['open'] / r['wrk'] for r in rows]):.2f}, "
      f"closed/wrk {median([r['closed'] / r['wrk'] for r in rows]):.2f}, "
      f"closed p50 - wrk p50 {median([r['closed_p50'] - r['wrk_p50'] for r in rows]):+.3f} ms")
print("(the open model runs at an unreachable rate, so its planned arrivals beyond the maximum are dropped, as expected)")
PY
