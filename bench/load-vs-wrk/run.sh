#!/usr/bin/env bash
# Compares the lab's load client with wrk against the same trivial loopback endpoint, in one run:
#   1. wrk, closed loop with C connections: its maximum rate and its p50;
#   2. the client, open model at a rate it cannot reach (max-in-flight C): its maximum rate;
#   3. the client, closed model with C users and no think time: its rate and p50.
# Needs: dotnet, wrk (apt-get install wrk), python3, curl. Everything talks to 127.0.0.1 only.
# Usage: bench/load-vs-wrk/run.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail

DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
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

echo "wrk: -t1 -c$CONNECTIONS -d${DURATION}s"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$URL" | tee "$OUT/wrk.txt"

echo "client, open model at 200000/s (cannot be reached), max in flight $CONNECTIONS, ${DURATION}s after a 3 s warm-up"
dotnet "$DRIVER_DLL" load --target "$URL" --mix get=1 --rate 200000/s --max-in-flight "$CONNECTIONS" \
  --duration "${DURATION}s" --warmup 3s --no-progress --seed 1 --out "$OUT/open" >/dev/null || true

echo "client, closed model with $CONNECTIONS users, no think time, ${DURATION}s after a 3 s warm-up"
dotnet "$DRIVER_DLL" load --target "$URL" --mix get=1 --users "$CONNECTIONS" \
  --duration "${DURATION}s" --warmup 3s --no-progress --seed 1 --out "$OUT/closed" >/dev/null || true

python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
wrk = open(f"{out}/wrk.txt").read()
wrk_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
m = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M)
wrk_p50 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
open_report = json.load(open(f"{out}/open/report.json"))
closed_report = json.load(open(f"{out}/closed/report.json"))
open_rate = open_report["requests"]["rate"]
closed_rate = closed_report["requests"]["rate"]
closed_p50 = closed_report["requests"]["latencyMs"]["p50"]
print()
print(f"max rate      wrk {wrk_rate:10.0f} req/s   client (open model) {open_rate:10.0f} req/s   ratio client/wrk {open_rate / wrk_rate:.2f}")
print(f"closed model  wrk {wrk_rate:10.0f} req/s   client              {closed_rate:10.0f} req/s   ratio client/wrk {closed_rate / wrk_rate:.2f}")
print(f"closed p50    wrk {wrk_p50:10.3f} ms      client              {closed_p50:10.3f} ms      difference {closed_p50 - wrk_p50:+.3f} ms")
print(f"open model: {open_report['schedule']['dropped']} planned arrivals dropped (expected: the rate is unreachable), errors {open_report['requests']['errors']}")
PY
