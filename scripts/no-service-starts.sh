# Sourced by the installers: while packages install, no service may start (Debian's policy-rc.d
# protocol, invoke-rc.d(8): exit status 101 means "action forbidden"). A policy-rc.d that was
# already there is left alone, and ours is removed afterwards. So nothing is started that a
# later step would have to stop, and services this script did not start are never touched.
POLICY=/usr/sbin/policy-rc.d
ours_policy=""
forbid_service_starts() {
  if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\n# installed by scimbridge scripts while packages install; removed afterwards\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    ours_policy=1
    trap allow_service_starts EXIT
  fi
}
allow_service_starts() {
  if [[ -n $ours_policy ]]; then rm -f "$POLICY"; ours_policy=""; fi
}
