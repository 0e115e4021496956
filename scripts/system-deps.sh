#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL (API tests on a real server), Chromium
# (browser tests), poppler-utils (PDF text checks), Pango + CJK fonts (WeasyPrint PDFs with
# Chinese handouts), a Java 17 runtime (the PySpark screening engine, tests on local[2]).
# Installs only what is missing; needs root (as on CI) or sudo.
set -euo pipefail
bash "$(dirname "$0")/fhir-npm-deps.sh"
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in postgresql chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-noto-cjk fonts-dejavu-core openjdk-17-jre-headless; do
  have_pkg "$pkg" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system-deps: missing ${need[*]} and not root; tests that need them will be skipped" >&2
    exit 0
  fi
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
