#!/usr/bin/env bash
# The main job: a Jupyter Notebook environment (Debian's python3-notebook with numpy, pandas and
# matplotlib) in a berth container, with token authentication, listening on 127.0.0.1 only,
# running as your user, with ./notebooks on the host as its working directory so no work is
# lost. Opens the browser when there is one. Run as root (sudo); Ctrl-C stops it.
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
state=/var/lib/berth/demo/jupyter
rootfs=$state/rootfs

# The environment, built once from Debian's packages (a few minutes the first time).
if [ ! -f "$rootfs/usr/lib/python3/dist-packages/notebook/__main__.py" ]; then
  echo "berth: building the Jupyter root filesystem with mmdebstrap (first run only)..."
  rm -rf "$rootfs.tmp"
  mkdir -p "$state"
  mmdebstrap --variant=apt --quiet \
    --include=python3-notebook,python3-ipykernel,python3-numpy,python3-pandas,python3-matplotlib \
    bookworm "$rootfs.tmp"
  mv "$rootfs.tmp" "$rootfs"
fi

mkdir -p "$notebooks"
chown "$uid:$gid" "$notebooks"
mkdir -p "$rootfs/home/jovyan/work"
chown "$uid:$gid" "$rootfs/home/jovyan"
token=$(openssl rand -hex 24)

bundle=$state/bundle
rm -rf "$bundle" && mkdir -p "$bundle"
ln -s "$rootfs" "$bundle/rootfs"
(cd "$bundle" && "$berth" runtime spec)
python3 - "$bundle/config.json" "$uid" "$gid" "$port" "$token" "$notebooks" <<'PY'
import json, sys
path, uid, gid, port, token, notebooks = sys.argv[1:]
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
p["user"] = {"uid": int(uid), "gid": int(gid)}
p["cwd"] = "/home/jovyan/work"
p["env"] = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/jovyan", "LANG=C.UTF-8", "SHELL=/bin/bash"]
p["args"] = ["python3", "-m", "notebook", "--ip=127.0.0.1", f"--port={port}", "--no-browser",
             f"--NotebookApp.token={token}", "--notebook-dir=/home/jovyan/work"]
c["root"]["readonly"] = False
c["hostname"] = "berth-jupyter"
# The host's network namespace (like docker's --network host), bound to loopback only.
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["mounts"].append({"destination": "/home/jovyan/work", "type": "bind", "source": notebooks,
                    "options": ["rbind", "rw"]})
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777"]})
c["mounts"].append({"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf",
                    "options": ["bind", "ro"]})
json.dump(c, open(path, "w"), indent=2)
PY

id=jupyter-$$
"$berth" runtime delete --force "$id" >/dev/null 2>&1 || true
"$berth" runtime run --bundle "$bundle" "$id" &
runner=$!
trap 'kill -TERM $runner 2>/dev/null || true; wait $runner 2>/dev/null || true' INT TERM EXIT
url="http://127.0.0.1:$port/?token=$token"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/api" 2>/dev/null && break
  kill -0 $runner 2>/dev/null || { echo "berth: the notebook server exited" >&2; exit 1; }
  sleep 0.2
done
echo
echo "berth: Jupyter is running in container $id; your notebooks are in $notebooks"
echo "berth: open $url"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then
  sudo -u "#$uid" xdg-open "$url" >/dev/null 2>&1 || true
fi
wait $runner
