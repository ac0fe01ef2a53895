package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// The zip-deploy layout: host.json and the handler at the root, one folder
// per function, and the handler still executable after unpacking.
func TestWriteKeepsLayoutAndModes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]os.FileMode{
		"host.json":                  0o644,
		"handler":                    0o755,
		"api/function.json":          0o644,
		"sync/function.json":         0o644,
		"reprioritize/function.json": 0o644,
	}
	for name, mode := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "functionapp.zip")
	if err := write(dir, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		want, ok := files[f.Name]
		if !ok {
			t.Errorf("unexpected entry %s", f.Name)
			continue
		}
		if f.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", f.Name, f.Mode().Perm(), want)
		}
	}
	sort.Strings(names)
	if len(names) != len(files) {
		t.Fatalf("entries = %v", names)
	}
}
