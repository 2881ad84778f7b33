#!/usr/bin/env bash
# Runs `npm start` on a scratch copy of the embedded default (data in a temp dir, a free port),
# reads the first bearer token it prints, and checks GET /Users answers a ListResponse.
set -euo pipefail
work=$(mktemp -d)
log="$work/start.log"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/config.yaml" <<YAML
server: { port: $port }
storage: { file: $work/data/scimbridge.db }
YAML
# Its own process group, so npm, the shell it spawns and node all stop together.
SCIMBRIDGE_CONFIG="$work/config.yaml" setsid npm start >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
token=""
for _ in $(seq 1 300); do
  token=$(grep -oE 'scb_[A-Za-z0-9_-]{20,}' "$log" | head -1 || true)
  [[ -n "$token" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "npm start exited early" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$token" ]] || { cat "$log"; echo "no token printed" >&2; exit 1; }
body=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/scim/v2/Users")
echo "$body" | grep -q 'urn:ietf:params:scim:api:messages:2.0:ListResponse' || { echo "unexpected: $body" >&2; exit 1; }
echo "npm start ok: GET /Users answered a ListResponse"
