#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages.txt that are not installed yet.
#   install-deps.sh          every package (what the whole test suite needs)
#   install-deps.sh --core   only the "# core:" section (the header-only library and its example)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
section_filter=""
[ "${1:-}" = "--core" ] && section_filter="core"
mapfile -t wanted < <(awk -v only="$section_filter" '
  /^# [a-z]+:/ { section = substr($2, 1, length($2) - 1); next }
  /^\s*#/ || NF == 0 { next }
  only == "" || section == only { print $1 }' "$here/debian-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
