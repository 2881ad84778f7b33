#!/usr/bin/env bash
# README command 1, exactly: `npm start` with no configuration (the embedded default: SQLite under
# ./data, 127.0.0.1:8080, a local slapd on 127.0.0.1:1389). Reads the first bearer token it prints,
# checks GET /Users answers a ListResponse, creates a user and finds it in the embedded directory.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
rm -rf data   # a fresh clone has none; start from nothing like a new user
# Its own process group, so npm, the shell it spawns and node all stop together.
setsid npm start >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; rm -rf data; }
trap cleanup EXIT
token=""
for _ in $(seq 1 600); do
  token=$(grep -oE 'scb_[A-Za-z0-9_-]{20,}' "$log" | head -1 || true)
  [[ -n "$token" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "npm start exited early" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$token" ]] || { cat "$log"; echo "no token printed" >&2; exit 1; }
base=http://127.0.0.1:8080/scim/v2
body=$(curl -fsS -H "Authorization: Bearer $token" "$base/Users")
echo "$body" | grep -q 'urn:ietf:params:scim:api:messages:2.0:ListResponse' || { echo "unexpected: $body" >&2; exit 1; }
created=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
  -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"smoke.user","name":{"givenName":"Smoke","familyName":"User"}}' \
  "$base/Users")
start=$(date +%s%N)
found=""
for _ in $(seq 1 50); do
  if ldapsearch -x -LLL -H ldap://127.0.0.1:1389 -b ou=people,dc=example,dc=com uid=smoke.user dn 2>/dev/null | grep -q '^dn: uid=smoke.user'; then
    found="$(( ($(date +%s%N) - start) / 1000000 ))"
    break
  fi
  sleep 0.1
done
[[ -n "$found" ]] || { cat "$log"; echo "user not found in the embedded directory within 5 s" >&2; exit 1; }
# A group with that user as member reaches the directory as a groupOfNames holding the user's DN.
id=$(echo "$created" | grep -oE '"id":"[^"]+"' | head -1 | cut -d'"' -f4)
curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
  -d "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"smoke-group\",\"members\":[{\"value\":\"$id\"}]}" \
  "$base/Groups" >/dev/null
for _ in $(seq 1 50); do
  if ldapsearch -x -LLL -H ldap://127.0.0.1:1389 -b ou=groups,dc=example,dc=com cn=smoke-group member 2>/dev/null | grep -qi '^member: uid=smoke.user,ou=people,dc=example,dc=com'; then
    echo "npm start ok: ListResponse, a SCIM user in the embedded directory after $found ms, and its group with it as member"
    exit 0
  fi
  sleep 0.1
done
cat "$log"; echo "group with member not found in the embedded directory within 5 s" >&2; exit 1
