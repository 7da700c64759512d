package agent

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReadmeDocumentsEveryKeyAndFlag: every configuration key the agent
// decodes and every flag `serf agent` accepts is named in the README, so
// a key or flag added without documentation fails here.
func TestReadmeDocumentsEveryKeyAndFlag(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	var keys []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if key := f.Tag.Get("config"); key != "" {
				keys = append(keys, key)
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	if len(keys) < 50 {
		t.Fatalf("found only %d keys; the walk is broken", len(keys))
	}
	for _, key := range keys {
		if !strings.Contains(readme, "`"+key+"`") {
			t.Errorf("config key %q is not in the README", key)
		}
	}
	VisitFlags(func(f *flag.Flag) {
		if !strings.Contains(readme, "`-"+f.Name) {
			t.Errorf("flag -%s is not in the README", f.Name)
		}
	})
}
