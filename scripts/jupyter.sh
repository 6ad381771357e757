#!/usr/bin/env bash
# The main job: a Jupyter Notebook environment in a berth container, opened in your browser.
#
# The image: by default one built from Debian's packages (python3-notebook, numpy, pandas,
# matplotlib) by tests/images/jupyter.sh (mmdebstrap + podman import, once per machine, a few
# minutes) and loaded with `berth load`; or any Jupyter image from a registry, e.g.
#   IMAGE=tensorflow/tensorflow:2.9.0-jupyter sudo -E scripts/jupyter.sh
# It runs as `berth run -d` with token authentication always on, published on 127.0.0.1 only,
# as your user, with ./notebooks on the host mounted as the notebook directory so no work is
# lost when the container goes. Ctrl-C stops and removes the container (the notebooks stay).
#
#   PORT=8888 NOTEBOOKS=./notebooks sudo -E scripts/jupyter.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/jupyter.sh: run as root (sudo)" >&2; exit 1; }
scripts/deps.sh
BUILD_DIR=build-release BUILD_TYPE=Release TESTS=OFF scripts/build.sh

berth=$PWD/build-release/berth
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
  image=localhost/berth-test/jupyter:latest
  if ! "$berth" inspect "$image" >/dev/null 2>&1; then
    archive=$(tests/images/jupyter.sh)
    "$berth" load -i "$archive"
  fi
else
  workdir=/tf/notebooks  # where the tensorflow images keep notebooks
fi

mkdir -p "$notebooks"
chown "$uid:$gid" "$notebooks"
token=$(openssl rand -hex 24)
name=berth-jupyter-$port
"$berth" rm -f "$name" >/dev/null 2>&1 || true
"$berth" run -d --name "$name" --pull missing -p "127.0.0.1:$port:8888" \
  -u "$uid:$gid" -e HOME=/tmp -e "JUPYTER_TOKEN=$token" \
  -v "$notebooks:$workdir" -w "$workdir" "$image" "${cmd[@]}" >/dev/null
trap '"$berth" rm -f "$name" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$port/?token=$token"
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/api" 2>/dev/null && break
  running=$("$berth" inspect --type container "$name" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["State"]["Running"])' 2>/dev/null || echo False)
  if [ "$running" != True ]; then
    echo "berth: the notebook server exited:" >&2
    "$berth" logs --tail 20 "$name" >&2 || true
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
"$berth" wait "$name" >/dev/null
