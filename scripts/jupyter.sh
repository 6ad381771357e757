#!/usr/bin/env bash
# The main job: a Jupyter Notebook environment in a berth container, opened in your browser.
#
# The image: by default the one examples/jupyter/Dockerfile describes (Debian bookworm's
# python3-notebook, numpy, pandas, matplotlib), built by berth itself: the Debian base made by
# scripts/debian-base.sh (mmdebstrap, once per machine) comes in with `berth import`, then
# `berth build` (a few minutes the first time, all steps cached afterwards). No podman, buildah
# or docker on this path. Or any Jupyter image from a registry, e.g.
#   IMAGE=tensorflow/tensorflow:2.9.0-jupyter sudo -E scripts/jupyter.sh
# It runs as `berth run -d` with token authentication always on, published on 127.0.0.1 only,
# as your user, with ./notebooks on the host mounted as the notebook directory so no work is
# lost when the container goes. Ctrl-C stops and removes the container (the notebooks stay).
#
#   PORT=8888 NOTEBOOKS=./notebooks sudo -E scripts/jupyter.sh
#   BERTH_ROOT=DIR: berth's storage (--root), default berth's own (/var/lib/berth)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/jupyter.sh: run as root (sudo)" >&2; exit 1; }
# Their progress goes to stderr: stdout carries only the URL lines at the end.
scripts/deps.sh >&2
# The same tree as scripts/test.sh; only berth itself is built here.
scripts/build.sh berth >&2

berth=("$PWD/build/berth")
[ -z "${BERTH_ROOT:-}" ] || berth+=(--root "$BERTH_ROOT")
port=${PORT:-8888}
notebooks=$(realpath -m "${NOTEBOOKS:-./notebooks}")
uid=${SUDO_UID:-1000}
gid=${SUDO_GID:-1000}
image=${IMAGE:-}
workdir=/home/jovyan/work
cmd=()
if [ -z "$image" ]; then
  # The notebook directory is the mounted one, so everything saved lands on the host.
  cmd=(python3 -m notebook --ip=0.0.0.0 --port=8888 --no-browser "--notebook-dir=$workdir")
  image=localhost/berth/jupyter:latest
  base=localhost/berth/debian:bookworm
  if ! "${berth[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    tarball=$(scripts/debian-base.sh)
    "${berth[@]}" import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' -m 'scripts/debian-base.sh' \
      "$tarball" "$base" >/dev/null
  fi
  # Progress goes to stderr; stdout keeps only the lines below (tests read the URL from it).
  "${berth[@]}" build -t "$image" examples/jupyter >&2
else
  workdir=/tf/notebooks  # where the tensorflow images keep notebooks
fi

mkdir -p "$notebooks"
chown "$uid:$gid" "$notebooks"
token=$(openssl rand -hex 24)
name=berth-jupyter-$port
"${berth[@]}" rm -f "$name" >/dev/null 2>&1 || true
"${berth[@]}" run -d --name "$name" --pull missing -p "127.0.0.1:$port:8888" \
  -u "$uid:$gid" -e HOME=/tmp -e "JUPYTER_TOKEN=$token" \
  -v "$notebooks:$workdir" -w "$workdir" "$image" "${cmd[@]}" >/dev/null
trap '"${berth[@]}" rm -f "$name" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$port/?token=$token"
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/api" 2>/dev/null && break
  running=$("${berth[@]}" inspect --type container "$name" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["State"]["Running"])' 2>/dev/null || echo False)
  if [ "$running" != True ]; then
    echo "berth: the notebook server exited:" >&2
    "${berth[@]}" logs --tail 20 "$name" >&2 || true
    exit 1
  fi
  sleep 0.2
done
echo
echo "berth: Jupyter is running in container $name; your notebooks are in $notebooks"
echo "berth: open $url"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then
  sudo -u "#$uid" xdg-open "$url" >/dev/null 2>&1 || true
fi
# In the background so that a SIGTERM (or SIGINT from `kill`, not only a terminal's Ctrl-C)
# reaches the trap at once: bash runs traps only between foreground commands.
"${berth[@]}" wait "$name" >/dev/null &
wait $!
