#!/usr/bin/env bash
# The suite leaves the host as it found it: `snapshot DIR` records the host's apt state, /etc,
# mounts, network interfaces and nftables rules before every other test (a CTest fixture's
# setup); `compare DIR` records them again after the last test and fails, showing the
# difference, when anything changed. berth's own bridge (berth0) and nft table (ip berth) are
# the engine's lasting infrastructure, as docker0 is docker's, and are left out.
set -euo pipefail
mode=$1
dir=$2

record() {
  local out=$1
  mkdir -p "$out"
  # apt: the package lists (names and sizes) and the installed packages.
  (cd /var/lib/apt/lists && find . -maxdepth 1 -type f ! -name lock -printf '%p %s\n' | sort) >"$out/apt-lists"
  dpkg-query -W -f='${Package} ${Version} ${Status}\n' | sort >"$out/dpkg"
  # /etc: every file's type, mode and content hash (what tests could add, remove or change).
  (cd /etc && find . -xdev \( -type f -o -type l -o -type d \) ! -path './mtab' -printf '%y %m %p\n' | sort) >"$out/etc-tree"
  (cd /etc && find . -xdev -type f -readable -print0 | sort -z | xargs -0 sha256sum 2>/dev/null) >"$out/etc-hashes" || true
  # Mounts: mount point, type and source (not the ids, which change with every remount).
  awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $(i + 2) }' /proc/self/mountinfo | sort >"$out/mounts"
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -vx 'berth0' | sort >"$out/links"
  if command -v nft >/dev/null; then
    # -s: without counters, which any traffic changes.
    nft -s list ruleset 2>/dev/null | awk '/^table ip berth \{/ { skip = 1 } !skip { print } skip && /^\}/ { skip = 0 }' >"$out/nft"
  fi
}

case $mode in
  snapshot)
    rm -rf "$dir"
    record "$dir/before"
    ;;
  compare)
    [ -d "$dir/before" ] || { echo "host_state.sh: no snapshot in $dir" >&2; exit 1; }
    rm -rf "$dir/after"
    record "$dir/after"
    if ! diff -ru "$dir/before" "$dir/after"; then
      echo "host_state.sh: the test suite changed the host (above: before -> after)" >&2
      exit 1
    fi
    echo "host_state.sh: the host is as the suite found it (apt, /etc, mounts, links, nft)"
    ;;
  *)
    echo "usage: host_state.sh snapshot|compare DIR" >&2
    exit 2
    ;;
esac
