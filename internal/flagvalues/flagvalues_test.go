package flagvalues

import (
	"flag"
	"reflect"
	"testing"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"none", nil, map[string]string{}, ""},
		{"values", []string{"a=1", "b=", "c=x=y", "a=3"}, map[string]string{"a": "3", "b": "", "c": "x=y"}, ""},
		{"no equals", []string{"a=1", "bad"}, nil, "Invalid tag: 'bad'"},
		{"empty key", []string{"=v"}, nil, "Invalid tag: '=v'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTags(tc.args)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseTags = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestStringList(t *testing.T) {
	var unset, set StringList
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&unset, "unset", "")
	fs.Var(&set, "set", "")
	if err := fs.Parse([]string{"-set=a", "-set", "b"}); err != nil {
		t.Fatal(err)
	}
	if unset != nil {
		t.Errorf("a flag never given is %#v, want nil", unset)
	}
	if !reflect.DeepEqual(set, StringList{"a", "b"}) || set.String() != "a,b" {
		t.Errorf("set = %#v (%q)", set, set.String())
	}
}
