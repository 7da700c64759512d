#!/bin/sh
# check-install.sh DEB really installs a .deb, but into a throwaway copy of
# this machine: an overlay of / (changes land in a temporary directory)
# mounted in a private mount namespace, entered with chroot. There it
# installs, reinstalls, removes and purges the package with dpkg and checks
# the serf user, the state directory, the conffile and that nothing was
# enabled. The real system, its users and its systemd are never touched.
#
# Needs root, unshare and overlayfs; exits 77 (skip) when the sandbox cannot
# be set up, 1 when a check fails, 0 when all pass.
set -eu

deb=$(readlink -f "$1")
[ "$(id -u)" = 0 ] || {
	echo "check-install: skip: not root"
	exit 77
}
command -v unshare >/dev/null 2>&1 || {
	echo "check-install: skip: no unshare"
	exit 77
}

work=$(mktemp -d /tmp/serf-install-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/ovl" "$work/merged"

# What runs inside the chroot. It must not exit early: each check prints
# ok or FAIL, and the last line is the verdict.
cat >"$work/upper/inside.sh" <<'EOF'
#!/bin/sh
fails=0
check() { # check DESC COMMAND...
	desc=$1
	shift
	if "$@" >/tmp/out 2>&1; then echo "ok   $desc"; else echo "FAIL $desc"; sed 's/^/     /' /tmp/out; fails=$((fails + 1)); fi
}
unit_wants=/etc/systemd/system/multi-user.target.wants/serf.service

check "dpkg -i" dpkg -i /serf.deb
check "serf user is a system user with home /var/lib/serf" sh -c '
	line=$(getent passwd serf) || exit 1
	uid=$(echo "$line" | cut -d: -f3)
	[ "$uid" -lt 1000 ] && [ "$(echo "$line" | cut -d: -f6)" = /var/lib/serf ] &&
		[ "$(echo "$line" | cut -d: -f7)" = /usr/sbin/nologin ]'
check "serf group exists" getent group serf
check "/var/lib/serf is serf:serf 0750" sh -c '[ "$(stat -c %U:%G:%a /var/lib/serf)" = serf:serf:750 ]'
check "/etc/serf is root:root" sh -c '[ "$(stat -c %U:%G /etc/serf)" = root:root ]'
check "/usr/bin/serf version runs" /usr/bin/serf version
check "nothing enabled" sh -c "[ ! -e $unit_wants ]"
if command -v systemd-analyze >/dev/null 2>&1; then
	check "systemd-analyze verify serf.service" systemd-analyze verify /usr/lib/systemd/system/serf.service
fi
echo '{"edited": true}' >/etc/serf/serf.json.example
check "dpkg -i again" dpkg -i /serf.deb
check "one serf user after reinstall" sh -c '[ "$(grep -c "^serf:" /etc/passwd)" = 1 ]'
check "edited conffile kept on reinstall" grep -q edited /etc/serf/serf.json.example
check "dpkg -r" dpkg -r serf
check "binary gone after remove" sh -c '[ ! -e /usr/bin/serf ]'
check "conffile kept after remove" test -f /etc/serf/serf.json.example
check "dpkg -P" dpkg -P serf
check "state dir gone after purge" sh -c '[ ! -e /var/lib/serf ]'
check "conffile gone after purge" sh -c '[ ! -e /etc/serf/serf.json.example ]'
check "serf user kept after purge" getent passwd serf

# Again on a system without the adduser tools: postinst falls back to
# useradd (the passwd package satisfies "adduser | passwd").
userdel serf >/dev/null 2>&1
groupdel serf >/dev/null 2>&1
rm -f /usr/sbin/adduser /usr/sbin/addgroup
check "dpkg -i without adduser" dpkg -i /serf.deb
check "useradd made serf a system user" sh -c '
	line=$(getent passwd serf) || exit 1
	[ "$(echo "$line" | cut -d: -f3)" -lt 1000 ] && [ "$(echo "$line" | cut -d: -f6)" = /var/lib/serf ]'
check "/var/lib/serf is serf:serf 0750 (useradd)" sh -c '[ "$(stat -c %U:%G:%a /var/lib/serf)" = serf:serf:750 ]'
check "dpkg -P (useradd)" dpkg -P serf
echo "inside: $fails failed"
EOF
chmod 0755 "$work/upper/inside.sh"
cp "$deb" "$work/upper/serf.deb"

# The mount namespace is private (unshare's default propagation), so the
# overlay vanishes with the process; the trap removes its files.
# shellcheck disable=SC2016 # $1 is the inner shell's
unshare --mount --fork sh -c '
	w=$1
	mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/ovl" "$w/merged" 2>/dev/null || exit 77
	mount -t proc proc "$w/merged/proc" 2>/dev/null || true
	chroot "$w/merged" /inside.sh
' sh "$work" >"$work/log" 2>&1 && rc=0 || rc=$?
cat "$work/log"
if [ "$rc" = 77 ]; then
	echo "check-install: skip: cannot mount an overlay of /"
	exit 77
fi
[ "$rc" = 0 ] && grep -qx 'inside: 0 failed' "$work/log"
