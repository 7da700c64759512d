package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Input is what the release script learns from git and from the source.
type Input struct {
	// Describe is the output of `git describe --tags --always --dirty`.
	Describe string
	// Commit is the abbreviated hash of HEAD (`git rev-parse --short HEAD`).
	Commit string
	// Count is the number of commits reachable from HEAD; it orders
	// untagged builds.
	Count int
	// Base is the Version written in command/version.go, used when no tag
	// names a version.
	Base string
}

// Release is everything a release build is named and stamped with.
type Release struct {
	// Name is the <version> in the artifact names: the describe output
	// without the tag's leading "v", or "<Base>-dev-<Count>-g<commit>"
	// when no tag names a version.
	Name string
	// Deb is the Debian package version; dpkg orders it correctly against
	// released versions ("~" sorts before anything).
	Deb string
	// Version, Prerelease and Commit are stamped into command.Version,
	// command.VersionPrerelease and command.GitCommit.
	Version    string
	Prerelease string
	Commit     string
}

var (
	// describeRe splits "<tag>-<n>-g<hash>" (the form for commits after a tag).
	describeRe = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]{4,40})$`)
	// tagRe matches the tags that name a version: v0.10.2, 0.10.2, v0.10.3-rc1.
	tagRe = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z.]+))?$`)
	// baseRe is what command/version.go's Version must look like.
	baseRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	// hashRe is an abbreviated commit hash.
	hashRe = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
)

// Compute maps a git describe result onto the release names and the
// Serf-style version line. The rules:
//
//   - HEAD is exactly at a version tag and the tree is clean: a release.
//     v0.10.2 gives "0.10.2"; v0.10.3-rc1 gives "0.10.3-rc1 (<commit>)".
//   - Commits after a version tag, or a dirty tree: a development build of
//     the next version, "0.10.3-dev (<commit>)" after v0.10.2 (the next
//     patch), "0.10.3-dev (<commit>)" after v0.10.3-rc1 (the same version),
//     with "-dirty" after the commit when the tree has changes.
//   - No tag names a version: a development build of the source's
//     Version, "0.10.2-dev (<commit>)", as an unstamped build says
//     "0.10.2-dev".
func Compute(in Input) (Release, error) {
	if !baseRe.MatchString(in.Base) {
		return Release{}, fmt.Errorf("base version %q is not MAJOR.MINOR.PATCH", in.Base)
	}
	if !hashRe.MatchString(in.Commit) {
		return Release{}, fmt.Errorf("commit %q is not an abbreviated hash", in.Commit)
	}
	desc, dirty := strings.CutSuffix(strings.TrimSpace(in.Describe), "-dirty")
	if desc == "" {
		return Release{}, fmt.Errorf("empty git describe output")
	}
	tag, ahead, hash := desc, 0, in.Commit
	if m := describeRe.FindStringSubmatch(desc); m != nil {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return Release{}, fmt.Errorf("commit count in %q: %w", in.Describe, err)
		}
		tag, ahead, hash = m[1], n, m[3]
	}
	commit := hash
	if dirty {
		commit += "-dirty"
	}

	m := tagRe.FindStringSubmatch(tag)
	if m == nil {
		// No tag, or a tag that names no version (describe fell back to the
		// bare hash, or found "some-label").
		r := Release{
			Name:       fmt.Sprintf("%s-dev-%d-g%s", in.Base, in.Count, in.Commit),
			Deb:        fmt.Sprintf("%s~dev.%d.g%s", in.Base, in.Count, in.Commit),
			Version:    in.Base,
			Prerelease: "dev",
			Commit:     in.Commit,
		}
		if dirty {
			r.Name += "-dirty"
			r.Deb += ".dirty"
			r.Commit += "-dirty"
		}
		return r, nil
	}
	major, minor, patch, pre := m[1], m[2], m[3], m[4]
	name := strings.TrimPrefix(in.Describe, "v")
	name = strings.TrimSpace(name)

	if ahead == 0 && !dirty {
		r := Release{
			Name:       name,
			Deb:        major + "." + minor + "." + patch,
			Version:    major + "." + minor + "." + patch,
			Prerelease: pre,
			Commit:     commit,
		}
		if pre != "" {
			r.Deb += "~" + pre
		}
		return r, nil
	}

	next := major + "." + minor + "." + patch
	if pre == "" {
		p, err := strconv.Atoi(patch)
		if err != nil {
			return Release{}, fmt.Errorf("patch number in tag %q: %w", tag, err)
		}
		next = fmt.Sprintf("%s.%s.%d", major, minor, p+1)
	}
	deb := fmt.Sprintf("%s~dev.%d.g%s", next, ahead, hash)
	if dirty {
		deb += ".dirty"
	}
	return Release{
		Name:       name,
		Deb:        deb,
		Version:    next,
		Prerelease: "dev",
		Commit:     commit,
	}, nil
}

// Human is the first line `serf version` prints for r; it follows the same
// rule as command.HumanVersion.
func (r Release) Human() string {
	if r.Prerelease == "" {
		return r.Version
	}
	s := r.Version + "-" + r.Prerelease
	if c := strings.ReplaceAll(r.Commit, "'", ""); c != "" {
		s += " (" + c + ")"
	}
	return s
}
