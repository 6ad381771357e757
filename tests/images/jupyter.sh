#!/usr/bin/env bash
# Builds, once per machine, the Jupyter test image: Debian bookworm's python3-notebook with
# numpy, pandas and matplotlib, as an OCI archive, and prints its path. End-to-end tests and
# bench/pull.py push it to a local registry with skopeo and pull/run it with berth and peers.
#
#   path=$(tests/images/jupyter.sh)    # root; scripts/deps.sh installs mmdebstrap and podman
#   skopeo copy --dest-tls-verify=false oci-archive:$path docker://127.0.0.1:5000/jupyter:latest
#   berth run -p 8888:8888 -e JUPYTER_TOKEN=secret 127.0.0.1:5000/jupyter
#
# The image: one layer (the rootfs as mmdebstrap made it, docs and translations left out),
# CMD `python3 -m notebook --ip=0.0.0.0 --port=8888 --no-browser --allow-root`, WORKDIR and
# HOME /home/jovyan, EXPOSE 8888/tcp. The notebook server takes its token from JUPYTER_TOKEN
# (notebook 6 reads it itself); without one it makes a random token and logs it.
#
# Built by mmdebstrap (the rootfs tarball) and `podman import` (the OCI image config), never by
# berth, so that berth is tested against an image it did not make. The archive is cached as
# $BERTH_TEST_CACHE/jupyter-<hash>.oci.tar (default /var/cache/berth-test), the hash covering
# this script (which holds the package list), so repeated runs and CI jobs on one machine reuse
# it; jupyter-oci.tar links to the newest. Downloaded .debs are kept in $BERTH_TEST_CACHE/apt,
# seeded from the host's /var/cache/apt/archives, so rebuilding needs little of the network.
set -euo pipefail
export LC_ALL=C.UTF-8

[ "$(id -u)" = 0 ] || { echo "tests/images/jupyter.sh: run as root" >&2; exit 1; }
for tool in mmdebstrap podman; do
  command -v "$tool" >/dev/null ||
    { echo "tests/images/jupyter.sh: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

packages=python3-notebook,python3-ipykernel,python3-numpy,python3-pandas,python3-matplotlib
packages+=,ca-certificates
suite=bookworm
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${BERTH_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
cache=${BERTH_TEST_CACHE:-/var/cache/berth-test}
key=$( (cat "$0"; echo "$mirror $security") | sha256sum | cut -c1-16)
out=$cache/jupyter-$key.oci.tar

mkdir -p "$cache"
if [ -f "$out" ]; then echo "$out"; exit 0; fi

# One builder at a time; whoever waited finds the archive made.
exec 9>"$cache/jupyter.lock"
flock 9
if [ -f "$out" ]; then echo "$out"; exit 0; fi

start=$(date +%s)
work=$(mktemp -d "$cache/jupyter-build.XXXXXX")
# The chroot, the rootfs tarball and podman's copy (about 1.3 GB each) go to a tmpfs when the
# machine has the memory: written to disk they make a slow disk the whole build time.
if [ "$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)" -ge 8 ] &&
  mount -t tmpfs -o size=6g,mode=0700 berth-jupyter-build "$work"; then
  export TMPDIR=$work
fi
trap 'umount "$work" 2>/dev/null; rm -rf "$work"' EXIT

# A private .deb cache: hard links to what the host's apt already downloaded (free on one file
# system, a copy otherwise), bind-mounted into the chroot so apt reuses and adds to it. Private
# so that the host's apt lock and its `apt-get clean` are none of our business.
mkdir -p "$cache/apt/partial"
if compgen -G "/var/cache/apt/archives/*.deb" >/dev/null; then
  cp -nl /var/cache/apt/archives/*.deb "$cache/apt/" 2>/dev/null ||
    cp -n /var/cache/apt/archives/*.deb "$cache/apt/"
fi

# --variant=essential: Essential:yes plus the packages named; apt runs from outside to install
# them and is left out of the image. Recommends are not installed (they would bring a compiler
# and boost, doubling the image). Documentation and translations are not unpacked, as in
# Debian's slim images. dpkg skips its fsync per file (force-unsafe-io): a crash only loses
# this throwaway build. mmdebstrap's own clean-up of the package lists (an `apt-get update` with
# no sources) empties the *host's* /var/lib/apt/lists in this mode (seen with bookworm's 1.3.5):
# it is skipped, and the customize hook below empties the image's lists instead.
echo "tests/images/jupyter.sh: building the Jupyter image (mmdebstrap, then podman import)" >&2
mmdebstrap --quiet --mode=root --variant=essential --format=tar \
  --include="$packages" \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='force-unsafe-io' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --skip=essential/unlink,download/empty,cleanup/apt/lists \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="mount --bind '$cache/apt' \"\$1/var/cache/apt/archives\"" \
  --customize-hook='umount "$1/var/cache/apt/archives"' \
  --customize-hook='mkdir -p "$1/home/jovyan" && chmod 0755 "$1/home/jovyan"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* "$1"/tmp/*' \
  "$suite" "$work/rootfs.tar" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" \
  "deb $security $suite-security main" >&2
echo "tests/images/jupyter.sh: mmdebstrap took $(($(date +%s) - start)) s" >&2

# podman import turns the tarball into a one-layer image with the config set; a throwaway
# storage (vfs: works wherever the machine's file system is) keeps the host's podman clean.
conf=$work/containers.conf
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' >"$conf"
podman=(env CONTAINERS_CONF="$conf" podman --root "$work/storage" --runroot "$work/run"
        --storage-driver vfs)
tag=localhost/berth-test/jupyter:latest
"${podman[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV HOME=/home/jovyan' \
  --change 'ENV SHELL=/bin/bash' \
  --change 'WORKDIR /home/jovyan' \
  --change 'EXPOSE 8888/tcp' \
  --change 'CMD ["python3", "-m", "notebook", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root", "--notebook-dir=/home/jovyan"]' \
  "$work/rootfs.tar" "$tag" >/dev/null
rm "$work/rootfs.tar"
"${podman[@]}" save --quiet --format oci-archive -o "$work/image.tar" "$tag"
cp "$work/image.tar" "$out.tmp"
mv "$out.tmp" "$out"
ln -sfn "$(basename "$out")" "$cache/jupyter-oci.tar"
echo "tests/images/jupyter.sh: built $out ($(du -m "$out" | cut -f1) MiB) in $(($(date +%s) - start)) s" >&2
echo "$out"
