package main

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// writeZip writes the files into a new archive at out. It writes a
// temporary file beside out and renames it, so that a failed run never
// leaves a truncated archive under the final name.
func writeZip(out string, mtime time.Time, files []string) (err error) {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		base := filepath.Base(f)
		if seen[base] {
			return fmt.Errorf("two files named %q", base)
		}
		seen[base] = true
	}

	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return fmt.Errorf("create archive: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	for _, f := range files {
		if err := addFile(zw, f, mtime); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("rename archive: %w", err)
	}
	return nil
}

// addFile stores one regular file under its base name, deflated.
func addFile(zw *zip.Writer, path string, mtime time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return errors.New(path + " is not a regular file")
	}
	hdr, err := zip.FileInfoHeader(fi)
	if err != nil {
		return fmt.Errorf("header for %s: %w", path, err)
	}
	hdr.Name = filepath.Base(path)
	hdr.Method = zip.Deflate
	hdr.Modified = mtime
	// Keep only the permission bits: the owner's umask and setuid bits
	// of the build machine are no business of the archive.
	hdr.SetMode(fi.Mode().Perm())
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return fmt.Errorf("add %s: %w", path, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	return nil
}
