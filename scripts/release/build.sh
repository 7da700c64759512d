#!/bin/sh
# build.sh builds the release artifacts into dist/ (see "Release builds" in
# README.md):
#
#   serf_<version>_<os>_<arch>.zip   one static binary, serf or serf.exe
#   serf_<version>_<arch>.deb        Debian package (amd64, arm64)
#   serf_<version>_SHA256SUMS        sha256sum lines for all of the above
#
# <version> comes from `git describe --tags --always --dirty` (mapped by
# scripts/release/relver). Every binary is built with CGO_ENABLED=0 and
# -trimpath, with the version stamped in by -ldflags -X.
#
# Environment:
#   FAST=1        only linux/amd64 and the amd64 .deb (for CI)
#   TARGETS=...   GOOS/GOARCH pairs to zip (default: linux, darwin, freebsd,
#                 windows on amd64 and arm64)
#   DEB_ARCHES=.. Debian architectures to package (default: amd64 arm64;
#                 empty for none)
#   DIST=dir      output directory (default: dist)
#   GO=go         the go command
#   DEB_MAINTAINER="Name <mail>"   the package's Maintainer field
#
# A target that does not compile is reported and skipped; the others are
# still built and checksummed, and the script exits 1 at the end.
set -eu

cd "$(git rev-parse --show-toplevel)"

GO=${GO:-go}
DIST=${DIST:-dist}
if [ "${FAST:-}" = 1 ]; then
	TARGETS=${TARGETS-linux/amd64}
	DEB_ARCHES=${DEB_ARCHES-amd64}
else
	TARGETS=${TARGETS-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64 windows/amd64 windows/arm64}
	DEB_ARCHES=${DEB_ARCHES-amd64 arm64}
fi
DEB_MAINTAINER=${DEB_MAINTAINER:-serf clone maintainers <maintainers@localhost>}

BUILD=$DIST/.build
TOOLS=$BUILD/tools
# Remove only what this script makes, never anything else a user keeps
# in $DIST.
mkdir -p "$DIST"
rm -rf "$BUILD"
rm -f "$DIST"/serf_*.zip "$DIST"/serf_*.deb "$DIST"/serf_*_SHA256SUMS
mkdir -p "$TOOLS"

# Host tools: the version mapping and the zip writer.
"$GO" build -o "$TOOLS/relver" ./scripts/release/relver
"$GO" build -o "$TOOLS/mkzip" ./scripts/release/mkzip

# Assigned first, then evaluated: a failing relver stops the script here
# (an eval of a failed substitution would not).
vars=$("$TOOLS/relver" \
	-describe "$(git describe --tags --always --dirty)" \
	-commit "$(git rev-parse --short HEAD)" \
	-count "$(git rev-list --count HEAD)" \
	-version-file command/version.go)
eval "$vars"

# One timestamp for every file in every archive: the commit's, so that the
# same commit gives the same archives.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH

# What the check script needs to know about this build.
cat >"$BUILD/release.env" <<EOF
RELEASE_NAME='$RELEASE_NAME'
RELEASE_DEB='$RELEASE_DEB'
RELEASE_STAMP_VERSION='$RELEASE_STAMP_VERSION'
RELEASE_STAMP_PRERELEASE='$RELEASE_STAMP_PRERELEASE'
RELEASE_STAMP_COMMIT='$RELEASE_STAMP_COMMIT'
RELEASE_HUMAN='$RELEASE_HUMAN'
RELEASE_TARGETS='$TARGETS'
RELEASE_DEB_ARCHES='$DEB_ARCHES'
EOF
echo "release $RELEASE_NAME (serf version: $RELEASE_HUMAN; deb: $RELEASE_DEB)"

PKG=github.com/serfclone/serf/command
LDFLAGS="-s -w -X $PKG.Version=$RELEASE_STAMP_VERSION -X $PKG.VersionPrerelease=$RELEASE_STAMP_PRERELEASE -X $PKG.GitCommit=$RELEASE_STAMP_COMMIT"
failed=""

# build_binary GOOS GOARCH: builds $BUILD/<os>_<arch>/serf[.exe] and prints
# its path; returns 1 (with the compiler's errors on stderr) on failure.
build_binary() {
	exe=serf
	[ "$1" = windows ] && exe=serf.exe
	out=$BUILD/$1_$2/$exe
	if [ -f "$out" ]; then
		echo "$out"
		return 0
	fi
	mkdir -p "$BUILD/$1_$2"
	echo "build $1/$2" >&2
	if ! CGO_ENABLED=0 GOOS=$1 GOARCH=$2 "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out" ./cmd/serf >&2; then
		return 1
	fi
	chmod 0755 "$out"
	echo "$out"
}

for target in $TARGETS; do
	os=${target%/*}
	arch=${target#*/}
	if ! bin=$(build_binary "$os" "$arch"); then
		echo "FAILED to build $os/$arch" >&2
		failed="$failed $os/$arch"
		continue
	fi
	"$TOOLS/mkzip" -o "$DIST/serf_${RELEASE_NAME}_${os}_${arch}.zip" -mtime "$SOURCE_DATE_EPOCH" "$bin"
done

# build_deb ARCH: stages the package tree and lets dpkg-deb build it.
build_deb() {
	arch=$1
	bin=$(build_binary linux "$arch") || return 1
	root=$BUILD/deb_$arch
	install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/serf"
	install -m 0755 "$bin" "$root/usr/bin/serf"
	install -m 0644 ops-misc/deb/serf.service "$root/usr/lib/systemd/system/serf.service"
	install -m 0644 ops-misc/serf.json.example "$root/etc/serf/serf.json.example"
	for script in postinst prerm postrm; do
		install -m 0755 "ops-misc/deb/$script" "$root/DEBIAN/$script"
	done
	install -m 0644 ops-misc/deb/conffiles "$root/DEBIAN/conffiles"
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	sed -e "s|@VERSION@|$RELEASE_DEB|" -e "s|@ARCH@|$arch|" \
		-e "s|@MAINTAINER@|$DEB_MAINTAINER|" -e "s|@INSTALLED_SIZE@|$size|" \
		ops-misc/deb/control.in >"$root/DEBIAN/control"
	chmod 0644 "$root/DEBIAN/control"
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	dpkg-deb --root-owner-group -Zxz --build "$root" "$DIST/serf_${RELEASE_NAME}_${arch}.deb" >&2
}

if [ -n "$DEB_ARCHES" ] && ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "dpkg-deb not found; it comes with dpkg on Debian and Ubuntu" >&2
	exit 1
fi
for arch in $DEB_ARCHES; do
	if ! build_deb "$arch"; then
		echo "FAILED to build the $arch .deb" >&2
		failed="$failed deb/$arch"
	fi
done

sums=serf_${RELEASE_NAME}_SHA256SUMS
(
	cd "$DIST"
	set -- serf_"$RELEASE_NAME"_*.zip serf_"$RELEASE_NAME"_*.deb
	present=""
	for f in "$@"; do
		[ -f "$f" ] && present="$present $f"
	done
	if [ -n "$present" ]; then
		# shellcheck disable=SC2086 # the names have no spaces
		sha256sum $present >"$sums"
	fi
)
echo "wrote $DIST/:"
ls -l "$DIST"/serf_"$RELEASE_NAME"_* 2>/dev/null || true

if [ -n "$failed" ]; then
	echo "release: these did not build:$failed" >&2
	exit 1
fi
