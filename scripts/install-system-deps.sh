#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, where this machine lets us (root + apt-get).
# Otherwise prints exactly what to run. Idempotent: skips what is already there.
set -euo pipefail
PACKAGES=(slapd ldap-utils openssl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  # The package's own post-install must not start a system slapd: tests run their own on loopback.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v service >/dev/null && pgrep -x slapd >/dev/null; then service slapd stop || true; fi
else
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
