#!/usr/bin/env bash
# examples/ssh end to end (issue 13): the repository's examples/ssh/Dockerfile, built by
# `berth build` on the project's Debian base (scripts/debian-base.sh), run as
#   berth run -d -p 127.0.0.1:P:22 -v KEY.pub:/home/dev/.ssh/authorized_keys:ro ssh-example
# `ssh -i KEY -p P dev@127.0.0.1 python3 -c 'print(6*7)'` must print 42. Then the attacks, each
# judged by its outcome and each shown to succeed against a control container whose sshd allows
# it (a drop-in mounted over the example's), so a refusal is the example's doing, not a broken
# attack:
#   - root login with the same key, put into root's authorized_keys, is refused;
#   - password login, with a password the user really has, is refused, and the server offers
#     only publickey;
#   - two containers of the image have different host keys (none is baked into the image).
# The example's container is started as from a login session on the host (an audit login uid
# set), where a stock Debian sshd ends every session at once.
# Afterwards nothing of the containers is left (records, mounts, the ports).
#
# Usage: ssh_e2e.sh BERTH   (root; exits 77 = skipped when the Debian mirror is unreachable,
# since the build installs openssh-server from it; under CI=true a missing tool fails)
set -euo pipefail
berth=$1
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ssh ssh-keygen ssh-keyscan setsid timeout curl python3 mmdebstrap; do
  # Under CI=true a missing tool is a failure: CI installs them (scripts/deps.sh).
  command -v "$t" >/dev/null || { echo "SKIP: $t missing"; [ "${CI:-}" = true ] && exit 1; exit 77; }
done
mirror_down() {
  ! curl -fsS -o /dev/null --max-time 10 http://deb.debian.org/debian/dists/bookworm/Release
}

work=$(mktemp -d /var/tmp/berth-ssh-e2e.XXXXXX)
root=$work/root
a=ssh-e2e-a-$$  # the example as it is
b=ssh-e2e-b-$$  # the control: the same image with password and root logins allowed
b_berth() { "$berth" --root "$root" "$@"; }
cleanup() {
  b_berth rm -f "$a" "$b" >/dev/null 2>&1 || true
  # Never rm -rf through a mount that is still there (a bind of a host path).
  if grep -q " $work" /proc/self/mountinfo; then
    echo "cleanup: mounts remain under $work, left in place" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for c in "$a" "$b"; do
    echo "--- berth logs $c"
    b_berth logs --tail 30 "$c" 2>&1 || true
  done
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The base, in this test's own store, and the example built from the repository itself.
if ! tar=$("$repo/scripts/debian-base.sh"); then
  mirror_down && { echo "SKIP: the Debian mirror is unreachable"; exit 77; }
  fail "scripts/debian-base.sh failed"
fi
b_berth import -c 'CMD ["bash"]' "$tar" localhost/berth/debian:bookworm >/dev/null ||
  fail "berth import of $tar"
start=$(date +%s)
if ! b_berth build -t ssh-example "$repo/examples/ssh" >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  mirror_down && { echo "SKIP: the Debian mirror is unreachable"; exit 77; }
  fail "berth build -t ssh-example examples/ssh"
fi
echo "ok: berth build -t ssh-example examples/ssh ($(($(date +%s) - start)) s)"
b_berth inspect ssh-example | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]["Config"]
assert "22/tcp" in c["ExposedPorts"], c
assert c["Cmd"] == ["/usr/sbin/sshd", "-D", "-e"], c["Cmd"]
' || fail "the image does not expose 22/tcp or has another CMD"

ssh-keygen -q -t ed25519 -N '' -C ssh-e2e -f "$work/key"
printf '#!/bin/sh\necho "%s"\n' "Pw-$$-$RANDOM" >"$work/askpass"
chmod 0755 "$work/askpass"
password=$("$work/askpass")
# The control's drop-in sorts before the example's berth.conf, and sshd keeps a keyword's first
# value: with it the very attacks below must get in.
printf 'PermitRootLogin yes\nPasswordAuthentication yes\n' >"$work/00-control.conf"
chmod 0644 "$work/key.pub" "$work/00-control.conf"

# $a is run as from a host login session (sudo after ssh to the host, say): such a session has
# an audit login uid, which the container inherits and which its sshd's PAM cannot change.
from_login() {
  if [ -e /proc/self/loginuid ]; then
    sh -c 'echo 4242 >/proc/self/loginuid && exec "$@"' sh "$@"
  else
    "$@"  # a kernel without audit has no login uid
  fi
}
pa=$(free_port)
from_login "$berth" --root "$root" run -d --name "$a" -p "127.0.0.1:$pa:22" \
  -v "$work/key.pub:/home/dev/.ssh/authorized_keys:ro" ssh-example >/dev/null || fail "berth run $a"
pb=$(free_port)
while [ "$pb" = "$pa" ]; do pb=$(free_port); done
b_berth run -d --name "$b" -p "127.0.0.1:$pb:22" \
  -v "$work/key.pub:/home/dev/.ssh/authorized_keys:ro" \
  -v "$work/00-control.conf:/etc/ssh/sshd_config.d/00-control.conf:ro" ssh-example >/dev/null ||
  fail "berth run $b"

# The host key a server on port $1 shows ("ssh-ed25519 AAAA..."), once it answers (30 s at most).
host_key() {
  local k
  for _ in $(seq 1 60); do
    k=$(ssh-keyscan -T 2 -t ed25519 -p "$1" 127.0.0.1 2>/dev/null | awk '!/^#/ {print $2, $3}')
    [ -n "$k" ] && { echo "$k"; return 0; }
    sleep 0.5
  done
  return 1
}
ka=$(host_key "$pa") || fail "sshd of $a never answered on 127.0.0.1:$pa"
kb=$(host_key "$pb") || fail "sshd of $b never answered on 127.0.0.1:$pb"

opts=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o ConnectTimeout=10 -o LogLevel=ERROR -o IdentitiesOnly=yes -o IdentityAgent=none)
key_ssh() { timeout 30 ssh "${opts[@]}" -o BatchMode=yes -i "$work/key" "$@" </dev/null; }
# Password authentication only, the password typed by $work/askpass (no terminal: setsid).
pw_ssh() {
  SSH_ASKPASS=$work/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
    timeout 30 setsid -w ssh "${opts[@]}" -o PubkeyAuthentication=no \
    -o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1 \
    "$@" </dev/null
}

# The job: the user logs in with the key and runs Python.
out=$(key_ssh -p "$pa" dev@127.0.0.1 python3 -c "'print(6*7)'" 2>"$work/err") ||
  fail "ssh -i key dev@127.0.0.1 -p $pa: $(cat "$work/err")"
[ "$out" = 42 ] || fail "ssh dev@ python3 -c 'print(6*7)' printed '$out', want 42"
out=$(key_ssh -p "$pa" dev@127.0.0.1 id -un 2>&1) || fail "ssh dev@ id -un: $out"
[ "$out" = dev ] || fail "the key login runs as '$out', want dev"
echo "ok: ssh -i key -p $pa dev@127.0.0.1 python3 -c 'print(6*7)' prints 42"

# Attack 1: root, with the same key in root's authorized_keys.
for c in "$a" "$b"; do
  b_berth exec "$c" sh -c "umask 077 && mkdir -p /root/.ssh && echo '$(cat "$work/key.pub")' >/root/.ssh/authorized_keys" ||
    fail "berth exec $c: writing root's authorized_keys"
done
out=$(key_ssh -p "$pb" root@127.0.0.1 id -u 2>&1) || fail "control: the key login as root failed: $out"
[ "$out" = 0 ] || fail "control: the root login runs as uid '$out'"
if out=$(key_ssh -p "$pa" root@127.0.0.1 id -u 2>&1); then
  fail "root logged in with a key: '$out'"
fi
grep -q 'Permission denied' <<<"$out" || fail "the root login failed otherwise than by refusal: $out"
echo "ok: root login with an authorized key is refused ($out)"

# Attack 2: a password the user has.
for c in "$a" "$b"; do
  b_berth exec "$c" sh -c "echo 'dev:$password' | chpasswd" || fail "berth exec $c: chpasswd"
done
out=$(pw_ssh -p "$pb" dev@127.0.0.1 python3 -c "'print(6*7)'" 2>&1) ||
  fail "control: the password login failed: $out"
[ "$out" = 42 ] || fail "control: the password login printed '$out'"
if out=$(pw_ssh -p "$pa" dev@127.0.0.1 python3 -c "'print(6*7)'" 2>&1); then
  fail "dev logged in with a password: '$out'"
fi
grep -q 'Permission denied' <<<"$out" || fail "the password login failed otherwise than by refusal: $out"
# The methods the server offers once the "none" method fails (ssh -v; the login itself fails).
methods() {
  { timeout 30 ssh "${opts[@]}" -v -o BatchMode=yes -o PubkeyAuthentication=no "$@" true \
    </dev/null 2>&1 || true; } | tr -d '\r' | sed -n 's/.*Authentications that can continue: //p' | sort -u
}
m=$(methods -p "$pa" dev@127.0.0.1)
[ "$m" = publickey ] || fail "the server offers '$m', want only publickey"
m=$(methods -p "$pb" dev@127.0.0.1)
grep -q password <<<"$m" || fail "control: the server offers '$m', no password"
echo "ok: password login with the user's real password is refused; only publickey is offered"

# Attack 3: shared host keys. Each container shows the key it made, and no two are the same.
for c in "$a:$ka" "$b:$kb"; do
  in=$(b_berth exec "${c%%:*}" cat /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $1, $2}')
  [ "$in" = "${c#*:}" ] || fail "${c%%:*} shows host key '${c#*:}' but holds '$in'"
done
[ "$ka" != "$kb" ] || fail "two containers of the image share the host key $ka"
echo "ok: each container has its own host key"

# Nothing left after rm -f.
b_berth rm -f "$a" "$b" >/dev/null || fail "berth rm -f"
! grep -q " $root" /proc/self/mountinfo || fail "mounts under $root remain: $(grep " $root" /proc/self/mountinfo)"
[ -z "$(b_berth ps -a -q)" ] || fail "berth ps -a still lists containers"
for p in "$pa" "$pb"; do
  ! timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || fail "port $p still answers after rm"
done
echo "ok: nothing left after rm"
