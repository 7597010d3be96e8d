#!/usr/bin/env bash
# Builds the Debian package of openhms with cargo-deb: target/debian/openhms_<version>_<arch>.deb
# holding the binary, the systemd unit, an example config and shell completions.
#
#   scripts/package.sh              a release build (what you install)
#   PROFILE=dev scripts/package.sh  from the debug build (quicker; what the test command checks)
#
# Prints the path of the package on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile="${PROFILE:-release}"
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
fi

cargo build -p hms --profile "$profile" --locked >&2
case "$profile" in
    dev) bin=target/debug/hms ;;
    *) bin="target/$profile/hms" ;;
esac

# Beside the binary, where cargo-deb's `target/release/` assets are taken from.
completions="$(dirname "$bin")/completions"
mkdir -p "$completions"
"$bin" completions bash > "$completions/hms.bash"
"$bin" completions zsh > "$completions/_hms"
"$bin" completions fish > "$completions/hms.fish"

cargo deb -p hms --no-build --profile "$profile" --locked >&2
ls -t target/debian/openhms_*.deb | head -n 1
