#!/usr/bin/env bash
# The seed's main job, end to end (issue 4): a Jupyter image built from Debian packages by
# mmdebstrap + podman (tests/images/jupyter.sh, never by berth), pushed by skopeo into a local
# docker-registry, then
#   berth run -d -p 18888:8888 -v DIR:/home/jovyan/work <image>
# must answer HTTP on 127.0.0.1:18888, refuse requests without the token, and a notebook saved
# through the server's API must be in DIR on the host after `berth rm`. Afterwards nothing of the
# container is left (record, mounts, netns, nft rules). Then the same as an ordinary user.
#
# Usage: jupyter_e2e.sh BERTH   (root; exits 77 = skipped when the image cannot be built because
# the Debian mirror is unreachable)
set -euo pipefail
berth=$1
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in docker-registry skopeo curl python3; do
  # Under CI=true a missing tool is a failure: CI installs them (scripts/deps.sh).
  command -v "$t" >/dev/null || { echo "SKIP: $t missing"; [ "${CI:-}" = true ] && exit 1; exit 77; }
done

if ! archive=$("$here/../images/jupyter.sh"); then
  if ! curl -fsS -o /dev/null --max-time 10 http://deb.debian.org/debian/dists/bookworm/Release; then
    echo "SKIP: the Debian mirror is unreachable, the Jupyter image cannot be built"
    exit 77
  fi
  echo "FAIL: tests/images/jupyter.sh failed"
  exit 1
fi

work=$(mktemp -d /tmp/berth-jupyter-e2e.XXXXXX)
root=$work/root
name=jupyter-e2e-$$
reg_pid=
rl_user=berth-rl-test
tun_mode=$(stat -c %a /dev/net/tun 2>/dev/null || true)
as_rl() { (cd / && setsid -w setpriv --reuid="$rl_user" --regid="$rl_user" --clear-groups \
  env -i HOME="$work/rlhome" XDG_RUNTIME_DIR="$work/rlrun" PATH=/usr/bin:/bin "$@"); }
cleanup() {
  "$berth" --root "$root" rm -f "$name" >/dev/null 2>&1 || true
  if [ -d "$work/rlhome" ]; then as_rl "$berth" rm -f "$name" >/dev/null 2>&1 || true; fi
  [ -z "$tun_mode" ] || chmod "$tun_mode" /dev/net/tun
  if [ -n "$reg_pid" ]; then
    kill "$reg_pid" 2>/dev/null || true
    wait "$reg_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; "$berth" --root "$root" logs --tail 30 "$name" 2>&1 || true; exit 1; }

# The registry, on a free port.
reg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry/storage
http:
  addr: 127.0.0.1:$reg_port
YML
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$reg_port/v2/" && break; sleep 0.1; done
ref=127.0.0.1:$reg_port/berth-test/jupyter:latest
skopeo copy --quiet --dest-tls-verify=false "oci-archive:$archive" "docker://$ref"

# Port 18888 as the issue says, unless something on this machine holds it.
port=18888
if python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$port))" 2>/dev/null; then :; else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
notebooks=$work/notebooks
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$berth" --root "$root" run -d --name "$name" -p "$port:8888" -e "JUPYTER_TOKEN=$token" \
  -v "$notebooks:/home/jovyan/work" "$ref" >/dev/null || fail "berth run"
[ -d "$notebooks" ] || fail "-v did not create the host directory $notebooks"

# Whether the server answers with the token within 60 s.
server_up() {
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/status?token=$token" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
server_up || fail "the notebook server never answered on 127.0.0.1:$port"
echo "ok: the notebook server answers on 127.0.0.1:$port"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/contents")
[ "$code" = 403 ] || fail "a request without the token got HTTP $code, want 403"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token wrong" "http://127.0.0.1:$port/api/contents")
[ "$code" = 403 ] || fail "a request with a wrong token got HTTP $code, want 403"
echo "ok: requests without the right token are refused"

# Save a notebook through the server into the volume.
body='{"type":"notebook","content":{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}}'
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: token $token" \
  -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$port/api/contents/work/saved.ipynb")
case $code in 200|201) ;; *) fail "saving a notebook got HTTP $code";; esac

"$berth" --root "$root" rm -f "$name" >/dev/null || fail "berth rm -f"
[ -f "$notebooks/saved.ipynb" ] || fail "the saved notebook is not in $notebooks after rm"
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$notebooks/saved.ipynb" || fail "saved.ipynb is not JSON"
echo "ok: the notebook saved by the server is on the host after berth rm"

# Nothing of the container is left.
! grep -q "$root" /proc/self/mountinfo || fail "mounts under $root remain: $(grep "$root" /proc/self/mountinfo)"
[ -z "$("$berth" --root "$root" ps -a -q)" ] || fail "berth ps -a still lists containers"
! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || fail "port $port still answers after rm"
echo "ok: nothing left after rm"

# The same as an ordinary user (issue 14): berth-rl-test (scripts/test.sh makes it, with a
# subordinate range) pulls the image into its own store and runs it; -p goes through pasta
# (which needs /dev/net/tun as udev leaves it, 0666; put back after), the token is enforced, and
# the notebook the server (root in the container) saves is the user's on the host.
id -u "$rl_user" >/dev/null 2>&1 || fail "no user $rl_user (scripts/test.sh makes it)"
rl_uid=$(id -u "$rl_user")
chmod 0666 /dev/net/tun
chmod 0755 "$work"
mkdir -p "$work/rlhome" "$work/rlrun" "$work/rlnotebooks"
chown "$rl_uid:$rl_uid" "$work/rlhome" "$work/rlrun" "$work/rlnotebooks"
chmod 0700 "$work/rlrun"
as_rl "$berth" pull -q "$ref" >/dev/null || fail "berth pull as $rl_user"
as_rl "$berth" run -d --name "$name" -p "127.0.0.1:$port:8888" -e "JUPYTER_TOKEN=$token" \
  -v "$work/rlnotebooks:/home/jovyan/work" "$ref" >/dev/null || fail "berth run as $rl_user"
server_up || { as_rl "$berth" logs --tail 30 "$name" || true; fail "rootless: the server never answered on 127.0.0.1:$port"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/contents")
[ "$code" = 403 ] || fail "rootless: a request without the token got HTTP $code, want 403"
pid=$(as_rl "$berth" inspect "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Pid"])')
[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$rl_uid" ] || fail "rootless: the server does not run as uid $rl_uid on the host"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: token $token" \
  -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$port/api/contents/work/saved.ipynb")
case $code in 200|201) ;; *) fail "rootless: saving a notebook got HTTP $code";; esac
as_rl "$berth" rm -f "$name" >/dev/null || fail "rootless: berth rm -f"
[ "$(stat -c %u "$work/rlnotebooks/saved.ipynb" 2>/dev/null)" = "$rl_uid" ] || fail "rootless: the saved notebook is not $rl_user's on the host"
[ -z "$(as_rl "$berth" ps -a -q)" ] || fail "rootless: berth ps -a still lists containers"
! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || fail "rootless: port $port still answers after rm"
[ -z "$(ps -u "$rl_uid" -o stat=,args= | grep -v '^Z')" ] || fail "rootless: processes of $rl_user remain: $(ps -u "$rl_uid" -o pid=,args=)"
echo "ok: the same as $rl_user, rootless"
