#!/usr/bin/env bash
# What `npm start` needs for the embedded default: Debian's slapd (and ldap-utils for ldapsearch).
# Installs them with apt-get when this is a Debian-like host and we are root; otherwise prints the
# line to run and lets `npm start` go on: `scimbridge serve` then runs the SCIM service without the
# embedded directory and says so. Never fails the start, and never starts or stops a system service
# (Debian's slapd package would start a system slapd on port 389: policy-rc.d forbids it, the way
# Debian's own image builders do, see invoke-rc.d(8)).
set -uo pipefail
PACKAGES=(slapd ldap-utils)
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
missing=()
have slapd || missing+=(slapd)
have ldapsearch || missing+=(ldap-utils)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing for the embedded directory: ${missing[*]}" >&2
  here=$(dirname "$0")
  # shellcheck source=scripts/no-service-starts.sh
  source "$here/no-service-starts.sh"
  forbid_service_starts
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    allow_service_starts
    exit 0
  fi
  allow_service_starts
  echo "could not install ${missing[*]}; the SCIM service starts without the embedded directory" >&2
else
  echo "the embedded directory needs: ${missing[*]} (not installed)" >&2
  echo "install them with: sudo apt-get install -y ${PACKAGES[*]}" >&2
  echo "starting the SCIM service without the embedded directory" >&2
fi
exit 0
