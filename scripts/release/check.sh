#!/bin/sh
# check.sh builds the release artifacts (scripts/release/build.sh, with the
# same FAST/TARGETS/DEB_ARCHES switches) and checks them: the checksum file
# verifies and lists exactly the artifacts; each zip holds one binary built
# for its platform with CGO off, -trimpath and the version stamped in; each
# .deb has the expected files, control fields, conffile and maintainer
# scripts, and its postinst creates the serf user only once; and the
# linux/amd64 binary prints the expected `serf version`. As root, the .deb
# for this machine's architecture is also installed, reinstalled, removed
# and purged in a throwaway overlay of / (scripts/release/check-install.sh).
#
# Set NO_BUILD=1 to check what is already in dist/ without building.
# It ends with "release-check: N passed, N failed" and exits 1 on any failure.
set -eu

cd "$(git rev-parse --show-toplevel)"
DIST=${DIST:-dist}
GO=${GO:-go}
export DIST GO

if [ "${NO_BUILD:-}" != 1 ]; then
	./scripts/release/build.sh
fi
# shellcheck source=/dev/null
. "$DIST/.build/release.env"

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL $1" >&2
}
# expect DESC WANT GOT: passes when the two strings are equal.
expect() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1"
		printf '  want: %s\n  got:  %s\n' "$2" "$3" >&2
	fi
}

# unzip lists archives independently of the tool that wrote them.
if ! command -v unzip >/dev/null 2>&1; then
	apt-get install -y -q unzip >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q unzip >/dev/null; }
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --- checksums -------------------------------------------------------------
sums=serf_${RELEASE_NAME}_SHA256SUMS
want_files=""
for target in $RELEASE_TARGETS; do
	want_files="$want_files serf_${RELEASE_NAME}_${target%/*}_${target#*/}.zip"
done
for arch in $RELEASE_DEB_ARCHES; do
	want_files="$want_files serf_${RELEASE_NAME}_${arch}.deb"
done
# shellcheck disable=SC2086 # a list of names without spaces
want_sorted=$(printf '%s\n' $want_files | sort)

if (cd "$DIST" && sha256sum --strict -c "$sums" >"$TMP/sumcheck" 2>&1); then
	ok "sha256sum -c $sums"
else
	fail "sha256sum -c $sums"
	cat "$TMP/sumcheck" >&2
fi
expect "$sums lists exactly the artifacts" "$want_sorted" "$(awk '{print $2}' "$DIST/$sums" | sort)"
# shellcheck disable=SC2086 # a list of names without spaces
expect "dist/ holds exactly the artifacts and $sums" \
	"$(printf '%s\n' $want_files "$sums" | sort)" \
	"$(for f in "$DIST"/serf_"$RELEASE_NAME"_*; do [ -e "$f" ] && basename "$f"; done | sort)"

# --- zips ------------------------------------------------------------------
# buildinfo BINARY KEY: one setting from the binary's embedded build info.
buildinfo() {
	"$GO" version -m "$1" | awk -v k="$2" '$1 == "build" { split($2, kv, "="); if (kv[1] == k) { sub(/^[^=]*=/, "", $2); print $2 } }'
}

for target in $RELEASE_TARGETS; do
	os=${target%/*}
	arch=${target#*/}
	zip=$DIST/serf_${RELEASE_NAME}_${os}_${arch}.zip
	exe=serf
	[ "$os" = windows ] && exe=serf.exe
	[ -f "$zip" ] || {
		fail "$zip exists"
		continue
	}
	expect "$os/$arch zip holds only $exe" "$exe" "$(unzip -Z1 "$zip")"
	if [ "$os" != windows ]; then
		expect "$os/$arch $exe is executable in the zip" "-rwxr-xr-x" "$(unzip -Zs "$zip" "$exe" | awk '{print $1}')"
	fi
	mkdir -p "$TMP/${os}_$arch"
	unzip -q -o "$zip" -d "$TMP/${os}_$arch"
	bin=$TMP/${os}_$arch/$exe
	expect "$os/$arch GOOS" "$os" "$(buildinfo "$bin" GOOS)"
	expect "$os/$arch GOARCH" "$arch" "$(buildinfo "$bin" GOARCH)"
	expect "$os/$arch CGO_ENABLED" "0" "$(buildinfo "$bin" CGO_ENABLED)"
	expect "$os/$arch -trimpath" "true" "$(buildinfo "$bin" -trimpath)"
	# -trimpath keeps -ldflags out of the build info; look for the stamped
	# commit in the binary's data instead (serf version is run below).
	if grep -qaF "$RELEASE_STAMP_COMMIT" "$bin"; then
		ok "$os/$arch has the commit $RELEASE_STAMP_COMMIT stamped in"
	else
		fail "$os/$arch has the commit $RELEASE_STAMP_COMMIT stamped in"
	fi
done

# --- serf version ----------------------------------------------------------
linux_amd64=$TMP/linux_amd64/serf
if [ -x "$linux_amd64" ] && [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ]; then
	want_version=$(printf '%s\n%s' "$RELEASE_HUMAN" "Agent Protocol: 5 (Understands back to: 2)")
	expect "serf version" "$want_version" "$("$linux_amd64" version)"
	expect "serf -v" "$want_version" "$("$linux_amd64" -v)"
else
	echo "skip serf version: no linux/amd64 binary, or not on linux/amd64"
fi

# --- debs ------------------------------------------------------------------
want_paths='./
./etc/
./etc/serf/
./etc/serf/serf.json.example
./usr/
./usr/bin/
./usr/bin/serf
./usr/lib/
./usr/lib/systemd/
./usr/lib/systemd/system/
./usr/lib/systemd/system/serf.service'

for arch in $RELEASE_DEB_ARCHES; do
	deb=$DIST/serf_${RELEASE_NAME}_${arch}.deb
	[ -f "$deb" ] || {
		fail "$deb exists"
		continue
	}
	dpkg-deb -c "$deb" >"$TMP/contents"
	expect "$arch deb paths" "$want_paths" "$(awk '{print $6}' "$TMP/contents" | sort)"
	expect "$arch deb: every entry owned by root" "" "$(awk '$2 != "root/root"' "$TMP/contents")"
	expect "$arch deb: /usr/bin/serf mode" "-rwxr-xr-x" "$(awk '$6 == "./usr/bin/serf" {print $1}' "$TMP/contents")"
	expect "$arch deb: unit and example mode" "-rw-r--r--
-rw-r--r--" "$(awk '$6 ~ /(serf\.service|serf\.json\.example)$/ {print $1}' "$TMP/contents")"

	expect "$arch deb Package" "serf" "$(dpkg-deb -f "$deb" Package)"
	expect "$arch deb Version" "$RELEASE_DEB" "$(dpkg-deb -f "$deb" Version)"
	expect "$arch deb Architecture" "$arch" "$(dpkg-deb -f "$deb" Architecture)"
	expect "$arch deb Depends" "adduser | passwd" "$(dpkg-deb -f "$deb" Depends)"
	expect "$arch deb Section" "net" "$(dpkg-deb -f "$deb" Section)"
	maint=$(dpkg-deb -f "$deb" Maintainer)
	case $maint in
	*"<"*"@"*">") ok "$arch deb Maintainer ($maint)" ;;
	*) fail "$arch deb Maintainer is 'Name <mail>': '$maint'" ;;
	esac
	size=$(dpkg-deb -f "$deb" Installed-Size)
	case $size in
	'' | *[!0-9]*) fail "$arch deb Installed-Size is a number: '$size'" ;;
	*) ok "$arch deb Installed-Size ($size KiB)" ;;
	esac
	expect "$arch deb conffiles" "/etc/serf/serf.json.example" "$(dpkg-deb -I "$deb" conffiles)"

	ctl=$TMP/ctl_$arch
	dpkg-deb -e "$deb" "$ctl"
	for script in postinst prerm postrm; do
		if [ -x "$ctl/$script" ] && sh -n "$ctl/$script"; then
			ok "$arch deb $script is an executable, parsable sh script"
		else
			fail "$arch deb $script is an executable, parsable sh script"
		fi
	done
	# Nothing is enabled or started by installing.
	expect "$arch deb postinst enables or starts nothing" "" \
		"$(grep -nE 'systemctl[^#]*(enable|start|restart)|deb-systemd-(helper|invoke)' "$ctl/postinst" || true)"

	root=$TMP/root_$arch
	dpkg-deb -x "$deb" "$root"
	unit=$root/usr/lib/systemd/system/serf.service
	for line in 'ExecStart=/usr/bin/serf agent -config-dir=/etc/serf/' 'User=serf' 'Group=serf' \
		'StateDirectory=serf' 'KillSignal=SIGINT' 'Type=notify'; do
		if grep -qxF "$line" "$unit"; then
			ok "$arch deb unit has $line"
		else
			fail "$arch deb unit has $line"
		fi
	done
	expect "$arch deb unit runs nothing from /usr/local" "" "$(grep -n '/usr/local' "$unit" || true)"
	if cmp -s "$root/etc/serf/serf.json.example" ops-misc/serf.json.example; then
		ok "$arch deb example config is ops-misc/serf.json.example"
	else
		fail "$arch deb example config is ops-misc/serf.json.example"
	fi
	expect "$arch deb binary GOARCH" "$arch" "$(buildinfo "$root/usr/bin/serf" GOARCH)"
	expect "$arch deb binary GOOS" "linux" "$(buildinfo "$root/usr/bin/serf" GOOS)"

	./scripts/release/check-postinst.sh "$ctl/postinst" "$TMP/postinst_$arch" >"$TMP/postinst.log" 2>&1 && rc=0 || rc=$?
	if [ "$rc" = 0 ]; then
		ok "$arch deb postinst creates the serf user once, with adduser or useradd"
	else
		fail "$arch deb postinst creates the serf user once, with adduser or useradd"
		cat "$TMP/postinst.log" >&2
	fi

	# A real install, in a throwaway overlay of this machine, for the
	# package this machine can run.
	if [ "$arch" = "$(dpkg --print-architecture)" ]; then
		./scripts/release/check-install.sh "$deb" >"$TMP/install.log" 2>&1 && rc=0 || rc=$?
		case $rc in
		0) ok "$arch deb installs, reinstalls, removes and purges (overlay chroot)" ;;
		77) echo "skip $arch deb install: $(tail -1 "$TMP/install.log")" ;;
		*)
			fail "$arch deb installs, reinstalls, removes and purges (overlay chroot)"
			cat "$TMP/install.log" >&2
			;;
		esac
	fi
done

echo "release-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
