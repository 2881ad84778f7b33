#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, where this machine lets us (root + apt-get).
# Otherwise prints exactly what to run. Idempotent: skips what is already there.
set -euo pipefail
# slapd/ldap-utils: the embedded directory and the OpenLDAP tests; openssl: test certificates;
# samba-ad-dc & co: the Active Directory tests (a throwaway Samba AD DC on loopback);
# chromium: the admin page's end-to-end test (driven by playwright-core, never a downloaded browser).
PACKAGES=(slapd ldap-utils openssl samba-ad-dc samba-ad-provision samba-dsdb-modules winbind chromium)
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
  # Nor a system samba/winbind: the AD tests start their own DC and need ports 389/636 free.
  if command -v service >/dev/null; then
    for svc in slapd samba-ad-dc winbind smbd nmbd; do service "$svc" stop >/dev/null 2>&1 || true; done
  fi
else
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
