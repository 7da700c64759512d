package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteZip(t *testing.T) {
	mtime := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		files map[string]os.FileMode // relative path -> mode
		err   string
	}{
		{name: "one executable", files: map[string]os.FileMode{"linux/serf": 0o755}},
		{name: "windows binary", files: map[string]os.FileMode{"windows/serf.exe": 0o644}},
		{name: "two files", files: map[string]os.FileMode{"a/serf": 0o755, "b/README": 0o644}},
		{name: "same base name twice", files: map[string]os.FileMode{"a/serf": 0o755, "b/serf": 0o755}, err: "two files named"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			want := map[string]os.FileMode{}
			for rel, mode := range tc.files {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("content of "+rel), mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, mode); err != nil { // no umask
					t.Fatal(err)
				}
				paths = append(paths, p)
				want[filepath.Base(rel)] = mode
			}
			out := filepath.Join(dir, "out.zip")
			err := writeZip(out, mtime, paths)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("writeZip error = %v, want %q", err, tc.err)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Fatalf("archive left behind after an error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("writeZip: %v", err)
			}
			zr, err := zip.OpenReader(out)
			if err != nil {
				t.Fatalf("open written archive: %v", err)
			}
			defer zr.Close()
			if len(zr.File) != len(want) {
				t.Fatalf("archive has %d entries, want %d", len(zr.File), len(want))
			}
			for _, f := range zr.File {
				mode, ok := want[f.Name]
				if !ok {
					t.Fatalf("unexpected entry %q", f.Name)
				}
				if f.Mode() != mode {
					t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), mode)
				}
				if !f.Modified.Equal(mtime) {
					t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, mtime)
				}
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("%s: read: %v", f.Name, err)
				}
				if !strings.HasPrefix(string(body), "content of ") || !strings.HasSuffix(string(body), f.Name) {
					t.Errorf("%s: body %q", f.Name, body)
				}
			}
		})
	}
}

// TestWriteZipReproducible checks that the same input gives the same bytes,
// whatever the files' own modification times.
func TestWriteZipReproducible(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "serf")
	if err := os.WriteFile(p, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1767225600, 0).UTC()
	var archives [][]byte
	for i, fileTime := range []time.Time{time.Unix(1000000000, 0), time.Unix(1700000000, 0)} {
		if err := os.Chtimes(p, fileTime, fileTime); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out"+string(rune('a'+i))+".zip")
		if err := writeZip(out, mtime, []string{p}); err != nil {
			t.Fatalf("writeZip: %v", err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatal("two runs over the same content gave different archives")
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-o", "x.zip"}, {"somefile"}} {
		if code := run(args); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
