package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompute(t *testing.T) {
	cases := []struct {
		name  string
		in    Input
		want  Release
		human string
	}{
		{
			name:  "release tag",
			in:    Input{Describe: "v0.10.2", Commit: "754cbe1", Count: 40, Base: "0.10.2"},
			want:  Release{Name: "0.10.2", Deb: "0.10.2", Version: "0.10.2", Commit: "754cbe1"},
			human: "0.10.2",
		},
		{
			name:  "release tag without v",
			in:    Input{Describe: "1.2.3", Commit: "754cbe1", Base: "0.10.2"},
			want:  Release{Name: "1.2.3", Deb: "1.2.3", Version: "1.2.3", Commit: "754cbe1"},
			human: "1.2.3",
		},
		{
			name:  "prerelease tag",
			in:    Input{Describe: "v0.10.3-rc1", Commit: "754cbe1", Base: "0.10.2"},
			want:  Release{Name: "0.10.3-rc1", Deb: "0.10.3~rc1", Version: "0.10.3", Prerelease: "rc1", Commit: "754cbe1"},
			human: "0.10.3-rc1 (754cbe1)",
		},
		{
			name: "commits after a release tag",
			in:   Input{Describe: "v0.10.2-3-gabc1234", Commit: "abc1234", Base: "0.10.2"},
			want: Release{Name: "0.10.2-3-gabc1234", Deb: "0.10.3~dev.3.gabc1234", Version: "0.10.3",
				Prerelease: "dev", Commit: "abc1234"},
			human: "0.10.3-dev (abc1234)",
		},
		{
			name: "commits after a prerelease tag",
			in:   Input{Describe: "v0.10.3-rc1-12-gabc1234", Commit: "abc1234", Base: "0.10.2"},
			want: Release{Name: "0.10.3-rc1-12-gabc1234", Deb: "0.10.3~dev.12.gabc1234", Version: "0.10.3",
				Prerelease: "dev", Commit: "abc1234"},
			human: "0.10.3-dev (abc1234)",
		},
		{
			name: "dirty after a tag",
			in:   Input{Describe: "v0.10.2-3-gabc1234-dirty", Commit: "abc1234", Base: "0.10.2"},
			want: Release{Name: "0.10.2-3-gabc1234-dirty", Deb: "0.10.3~dev.3.gabc1234.dirty", Version: "0.10.3",
				Prerelease: "dev", Commit: "abc1234-dirty"},
			human: "0.10.3-dev (abc1234-dirty)",
		},
		{
			name: "dirty at a tag",
			in:   Input{Describe: "v0.10.2-dirty", Commit: "abc1234", Base: "0.10.2"},
			want: Release{Name: "0.10.2-dirty", Deb: "0.10.3~dev.0.gabc1234.dirty", Version: "0.10.3",
				Prerelease: "dev", Commit: "abc1234-dirty"},
			human: "0.10.3-dev (abc1234-dirty)",
		},
		{
			name: "no tag",
			in:   Input{Describe: "754cbe1", Commit: "754cbe1", Count: 42, Base: "0.10.2"},
			want: Release{Name: "0.10.2-dev-42-g754cbe1", Deb: "0.10.2~dev.42.g754cbe1", Version: "0.10.2",
				Prerelease: "dev", Commit: "754cbe1"},
			human: "0.10.2-dev (754cbe1)",
		},
		{
			name: "no tag, dirty",
			in:   Input{Describe: "754cbe1-dirty\n", Commit: "754cbe1", Count: 42, Base: "0.10.2"},
			want: Release{Name: "0.10.2-dev-42-g754cbe1-dirty", Deb: "0.10.2~dev.42.g754cbe1.dirty", Version: "0.10.2",
				Prerelease: "dev", Commit: "754cbe1-dirty"},
			human: "0.10.2-dev (754cbe1-dirty)",
		},
		{
			name: "tag that names no version",
			in:   Input{Describe: "nightly/x-5-g754cbe1", Commit: "754cbe1", Count: 42, Base: "0.10.2"},
			want: Release{Name: "0.10.2-dev-42-g754cbe1", Deb: "0.10.2~dev.42.g754cbe1", Version: "0.10.2",
				Prerelease: "dev", Commit: "754cbe1"},
			human: "0.10.2-dev (754cbe1)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute(tc.in)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if got != tc.want {
				t.Errorf("Compute =\n %+v\nwant\n %+v", got, tc.want)
			}
			if h := got.Human(); h != tc.human {
				t.Errorf("Human = %q, want %q", h, tc.human)
			}
		})
	}
}

func TestComputeRejects(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"empty describe", Input{Describe: " ", Commit: "abc1234", Base: "0.10.2"}, "empty git describe"},
		{"bad base", Input{Describe: "abc1234", Commit: "abc1234", Base: "0.10"}, "base version"},
		{"bad commit", Input{Describe: "abc1234", Commit: "HEAD'", Base: "0.10.2"}, "abbreviated hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compute error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestSourceVersion reads the real command/version.go, so that a change of
// its shape that the release script cannot follow fails here first.
func TestSourceVersion(t *testing.T) {
	got, err := sourceVersion(filepath.Join("..", "..", "..", "command", "version.go"))
	if err != nil {
		t.Fatalf("sourceVersion: %v", err)
	}
	if !baseRe.MatchString(got) {
		t.Fatalf("source Version = %q, want MAJOR.MINOR.PATCH", got)
	}

	dir := t.TempDir()
	for _, tc := range []struct{ name, src, want string }{
		{"const", "package x\nconst Version = \"1.2.3\"\n", "1.2.3"},
		{"var group", "package x\nvar (\n\tVersion = \"4.5.6\"\n\tOther = \"x\"\n)\n", "4.5.6"},
		{"missing", "package x\nvar Other = \"x\"\n", ""},
		{"not a literal", "package x\nvar Version = y\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".go")
			if err := os.WriteFile(p, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := sourceVersion(p)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("sourceVersion = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("sourceVersion = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
