#!/usr/bin/env bash
# Builds the Debian package from a build tree, installs it on this machine,
# starts the service and checks that it answers /health and serves the
# dashboard; then removes the package again (and the user and state
# directory, if they were not there before). Needs root; scripts/test.sh runs it.
#   scripts/check-package.sh [BUILD_DIR]     (default build/, already built)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (it installs a package and creates a system user)"
if dpkg-query -W -f='${Status}' vigil 2>/dev/null | grep -q "install ok installed"; then
  fail "a vigil package is already installed here; this check would replace it"
fi

echo "== package: cpack -G DEB in $build (prefix /usr)"
# Only the install prefix changes: nothing is recompiled.
cmake -S . -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
ninja -C "$build" >/dev/null
rm -f "$build"/vigil_*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; fail "cpack failed"; }
deb="$(ls "$PWD/$build"/vigil_*.deb)"
echo "   $(basename "$deb"): $(du -h "$deb" | cut -f1)"

depends="$(dpkg-deb -f "$deb" Depends)"
echo "   Depends: $depends"
for lib in libjwt libsqlite3 libboost-json adduser; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib (dpkg-shlibdeps did not run?)"
done
contents="$(dpkg-deb -c "$deb")"
for f in ./usr/bin/vigil ./usr/share/vigil/web/index.html ./usr/share/vigil/web/app.js ./usr/share/vigil/web/sw.js \
         ./etc/vigil/vigil.toml ./usr/lib/systemd/system/vigil.service; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
dpkg-deb -e "$deb" "$build/deb-control"
grep -qx /etc/vigil/vigil.toml "$build/deb-control/conffiles" || fail "vigil.toml is not a conffile"

had_user=0; getent passwd vigil >/dev/null && had_user=1
had_state=0; [ -e /var/lib/vigil ] && had_state=1
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  if [ -d /run/systemd/system ]; then systemctl stop vigil.service 2>/dev/null || true; rm -rf /run/systemd/system/vigil.service.d; fi
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq vigil >/dev/null 2>&1 || true
  [ "$had_state" = 1 ] || rm -rf /var/lib/vigil
  [ "$had_user" = 1 ] || ! getent passwd vigil >/dev/null || deluser --system --quiet vigil >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== package: apt-get install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
getent passwd vigil >/dev/null || fail "postinst made no vigil user"
[ "$(stat -c '%U:%G %a' /var/lib/vigil)" = "vigil:vigil 750" ] || fail "/var/lib/vigil: $(stat -c '%U:%G %a' /var/lib/vigil)"
[ "$(stat -c '%U:%G %a' /etc/vigil/vigil.env)" = "root:vigil 640" ] || fail "/etc/vigil/vigil.env: $(stat -c '%U:%G %a' /etc/vigil/vigil.env)"
secret="$(sed -n 's/^VIGIL_JWT_SECRET=//p' /etc/vigil/vigil.env)"
[ "${#secret}" -ge 32 ] || fail "postinst made no secret of at least 32 bytes"
unit=/usr/lib/systemd/system/vigil.service
# systemd's own parser, offline: unknown keys, bad paths and missing binaries fail.
verify="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify $unit: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify $unit: $verify"
for want in "User=vigil" "ProtectSystem=strict" "StateDirectory=vigil" "NoNewPrivileges=yes" "EnvironmentFile=-/etc/vigil/vigil.env"; do
  grep -qx "$want" "$unit" || fail "$unit lacks $want"
done

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
if [ "$(systemctl is-system-running 2>/dev/null || true)" = "running" ] || [ "$(systemctl is-system-running 2>/dev/null || true)" = "degraded" ]; then
  echo "== package: systemctl start vigil (port $port)"
  mkdir -p /run/systemd/system/vigil.service.d
  printf '[Service]\nEnvironment=VIGIL_PORT=%s\n' "$port" >/run/systemd/system/vigil.service.d/check.conf
  systemctl daemon-reload
  systemctl restart vigil.service
else
  # No running systemd here (a container's PID 1 is something else): start
  # the unit's ExecStart the way systemd would, as its User/Group with no new
  # privileges, its EnvironmentFile loaded, in / with the unit's umask.
  exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
  user="$(sed -n 's/^User=//p' "$unit")"
  echo "== package: no running systemd; starting ExecStart as $user (port $port): $exec_start"
  env_args=()
  while IFS= read -r line; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && env_args+=("$line")
  done </etc/vigil/vigil.env
  log="$build/package-service.log"
  (cd / && umask 0027 && exec env -i PATH=/usr/bin:/bin "${env_args[@]}" VIGIL_PORT="$port" \
     setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- $exec_start) >"$log" 2>&1 &
  pid=$!
fi

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
health="$(curl -fsS "http://127.0.0.1:$port/health")" || {
  [ -z "$pid" ] && journalctl -u vigil --no-pager | tail -20; [ -n "$pid" ] && tail -20 "$log"
  fail "the installed service did not answer /health on port $port"; }
echo "   /health: $health"
curl -fsS "http://127.0.0.1:$port/" | grep -q -i "<html" || fail "the installed service serves no dashboard at /"
[ "$(stat -c %U /var/lib/vigil/vigil.db)" = vigil ] || fail "the store is not in /var/lib/vigil, owned by vigil"
echo "   dashboard served from /usr/share/vigil/web; store /var/lib/vigil/vigil.db"
echo "package check passed"
