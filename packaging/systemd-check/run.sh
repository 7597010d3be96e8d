#!/usr/bin/env bash
# Installs the Debian package on a real systemd: boots a minimal Debian (made with
# debootstrap, kept in $ROOT for the next run) under systemd-nspawn, with systemd as the
# container's PID 1, and there installs the package, checks the running service (its user,
# state directory, hardening score, /healthz), reinstalls it as an upgrade, and stops it.
# For machines whose own PID 1 is not systemd. Needs root; the container shares the host's
# network (the service listens on 127.0.0.1:8080 for the check). Prints what happened.
#
#   packaging/systemd-check/run.sh [path/to/openhms.deb]   (default: the newest built)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

deb="${1:-$(ls -t target/debian/openhms_*.deb | head -n 1)}"
root="${ROOT:-/var/tmp/openhms-systemd-root}"
here="packaging/systemd-check"

if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container >/dev/null
fi
if [ ! -x "$root/lib/systemd/systemd" ]; then
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,passwd,adduser,procps,curl,ca-certificates \
        bookworm "$root" http://deb.debian.org/debian >&2
fi

cp "$deb" "$root/root/openhms.deb"
install -m 0755 "$here/inside.sh" "$root/root/check.sh"
cat >"$root/etc/systemd/system/openhms-check.service" <<'UNIT'
[Unit]
Description=install and check the openhms package
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/root/check.sh
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/openhms-check.service \
    "$root/etc/systemd/system/multi-user.target.wants/openhms-check.service"
rm -f "$root/root/result.txt"
# No system bus on such a host: no machine registration, no scope unit of its own.
timeout 300 systemd-nspawn -D "$root" --boot --register=no --keep-unit --console=pipe >/dev/null 2>&1 || true
cat "$root/root/result.txt"
grep -qx DONE "$root/root/result.txt"
