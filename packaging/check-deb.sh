#!/usr/bin/env bash
# Builds the Debian package (from the debug build, for speed) and checks it: its
# contents, its control files and unit, that its example config is valid, and that the
# packaged binary serves with it. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
    printf 'check-deb: %s\n' "$*" >&2
    exit 1
}

deb="$(PROFILE=dev bash scripts/package.sh)"
[ -f "$deb" ] || fail "no package was built"
echo "check-deb: built $deb"

contents="$(dpkg-deb --contents "$deb" | awk '{print $1, $NF}')"
expect_file() { # MODE PATH
    grep -qx -- "$1 ./$2" <<<"$contents" || fail "the package lacks $2 with mode $1"
}
expect_file -rwxr-xr-x usr/bin/hms
expect_file -rw-r--r-- usr/lib/systemd/system/openhms.service
expect_file -rw-r--r-- etc/openhms/openhms.toml
expect_file -rw------- etc/default/openhms
expect_file -rw-r--r-- usr/share/bash-completion/completions/hms
expect_file -rw-r--r-- usr/share/zsh/vendor-completions/_hms
expect_file -rw-r--r-- usr/share/fish/vendor_completions.d/hms.fish
expect_file -rw-r--r-- usr/share/doc/openhms/grafana/openhms-dashboard.json

work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
dpkg-deb --extract "$deb" "$work/root"
dpkg-deb --control "$deb" "$work/control"

[ "$(dpkg-deb --field "$deb" Package)" = openhms ] || fail "the package is not named openhms"
grep -qx /etc/openhms/openhms.toml "$work/control/conffiles" || fail "the config is not a conffile"
grep -qx /etc/default/openhms "$work/control/conffiles" || fail "/etc/default/openhms is not a conffile"
for script in postinst postrm prerm; do
    sh -n "$work/control/$script" || fail "$script is not valid sh"
done
grep -q 'useradd --system' "$work/control/postinst" || fail "postinst does not create the service user"
grep -q 'deb-systemd-helper enable openhms.service' "$work/control/postinst" || fail "postinst does not enable the unit"

unit="$work/root/usr/lib/systemd/system/openhms.service"
for line in 'User=openhms' 'StateDirectory=openhms' 'ProtectSystem=strict' 'ProtectHome=yes' \
    'NoNewPrivileges=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' \
    'ExecStart=/usr/bin/hms serve --config /etc/openhms/openhms.toml' 'WantedBy=multi-user.target'; do
    grep -qx -- "$line" "$unit" || fail "the unit lacks: $line"
done
if command -v systemd-analyze >/dev/null; then
    # Only the unit's own syntax: the binary it names is not installed here.
    systemd-analyze verify "$unit" 2>&1 | grep -v 'usr/bin/hms' | grep -i 'error\|unknown' && fail "systemd-analyze finds fault with the unit"
fi

# The packaged binary, the packaged completions and the packaged config.
hms="$work/root/usr/bin/hms"
"$hms" --version | grep -q "$(dpkg-deb --field "$deb" Version | cut -d- -f1)" || fail "hms --version disagrees with the package"
grep -q 'complete' "$work/root/usr/share/bash-completion/completions/hms" || fail "bash completions are empty"
HMS_ACCESS_KEY=check-deb-access-key HMS_SECRET=check-deb-secret-0123456789abcdef \
    "$hms" serve --config "$work/root/etc/openhms/openhms.toml" \
    --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do
    grep -q '^openhms listening on ' "$work/out" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/err" >&2; fail "the packaged binary did not start with the packaged config"; }
    sleep 0.1
done
address="$(sed -n 's/^openhms listening on //p' "$work/out")"
[ -n "$address" ] || fail "the packaged binary never listened"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$address/healthz")" = 200 ] || fail "the packaged binary does not answer /healthz"
echo "check-deb: the package is complete, and its binary serves with its config"
