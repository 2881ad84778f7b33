#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, where this machine lets us (root + apt-get).
# Otherwise prints exactly what to run. Idempotent: skips what is already there.
set -euo pipefail
# slapd/ldap-utils: the embedded directory and the OpenLDAP tests; openssl: test certificates;
# samba-ad-dc & co: the Active Directory tests (a throwaway Samba AD DC on loopback);
# chromium: the admin page's end-to-end test (driven by playwright-core, never a downloaded browser);
# nginx: the reverse-proxy recipe's test; systemd: systemd-analyze verify of deploy/scimbridge.service;
# prometheus: promtool check metrics on a real scrape;
# postgresql: the PostgreSQL engine's tests (test/harness/postgres.ts runs initdb and postgres from
# /usr/lib/postgresql/*/bin in a temp dir; the package's default cluster is created but, like every
# service here, never started, so it holds no port).
PACKAGES=(slapd ldap-utils openssl samba-ad-dc samba-ad-provision samba-dsdb-modules winbind chromium nginx systemd prometheus postgresql)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  # The packages' post-install scripts must not start system services (a system slapd or samba
  # would take the ports the tests use): forbidden while installing, so there is never anything
  # to stop afterwards, and services already running on this host are left as they are.
  source "$(dirname "$0")/no-service-starts.sh"
  forbid_service_starts
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  allow_service_starts
else
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
