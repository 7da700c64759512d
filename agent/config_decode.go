package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"
)

// DecodeConfig reads one configuration layer from r. Only the first JSON
// value is read and it must be an object (or null). Keys match options
// case-insensitively; unknown keys and ill-typed values are reported
// together, each naming its key; a bad duration string is reported as Go's
// duration parse error. Options absent or null are left at their zero value.
func DecodeConfig(r io.Reader) (*Config, error) {
	var raw map[string]any
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	var result Config
	d := &configDecoder{}
	d.decodeStruct("", "agent.Config", raw, reflect.ValueOf(&result).Elem())
	if len(d.problems) > 0 {
		return nil, &decodeError{problems: d.problems}
	}
	for _, p := range d.durations {
		if p.raw == "" {
			continue // an empty string leaves the duration unset
		}
		dur, err := time.ParseDuration(p.raw)
		if err != nil {
			return nil, err
		}
		p.field.SetInt(int64(dur))
	}
	return &result, nil
}

// decodeError lists every type and unknown-key problem of one file.
type decodeError struct {
	problems []string
}

func (e *decodeError) Error() string {
	return "decoding failed due to the following error(s):\n\n" + strings.Join(e.problems, "\n")
}

var durationType = reflect.TypeOf(time.Duration(0))

// pendingDuration is a duration option whose string is parsed once every
// option has type-checked, so type errors win over parse errors.
type pendingDuration struct {
	field reflect.Value
	raw   string
}

// configDecoder maps decoded JSON (map[string]any and friends) onto Config
// by the `config` field tags.
type configDecoder struct {
	problems  []string
	durations []pendingDuration
}

func (d *configDecoder) problemf(format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

func (d *configDecoder) decodeStruct(name, typeName string, data map[string]any, v reflect.Value) {
	used := make(map[string]bool, len(data))
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("config")
		if key == "" {
			continue
		}
		rawKey, ok := lookupKey(data, key)
		if !ok {
			continue
		}
		used[rawKey] = true
		fieldName := key
		if name != "" {
			fieldName = name + "." + key
		}
		d.decodeValue(fieldName, data[rawKey], v.Field(i))
	}
	var unknown []string
	for k := range data {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		label := name
		if label == "" {
			label = typeName
		}
		d.problemf("'%s' has invalid keys: %s", label, strings.Join(unknown, ", "))
	}
}

// lookupKey finds the JSON key for an option: an exact match, else the
// smallest key equal under Unicode case folding. Other keys that fold to the
// same option stay unused and are reported as invalid.
func lookupKey(data map[string]any, key string) (string, bool) {
	if _, ok := data[key]; ok {
		return key, true
	}
	found, ok := "", false
	for k := range data {
		if strings.EqualFold(k, key) && (!ok || k < found) {
			found, ok = k, true
		}
	}
	return found, ok
}

func (d *configDecoder) decodeValue(name string, raw any, v reflect.Value) {
	if raw == nil {
		return // JSON null leaves the option unset
	}
	if v.Type() == durationType {
		s, ok := raw.(string)
		if !ok {
			d.typeProblem(name, "string", raw)
			return
		}
		d.durations = append(d.durations, pendingDuration{field: v, raw: s})
		return
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.typeProblem(name, "string", raw)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.typeProblem(name, "bool", raw)
			return
		}
		v.SetBool(b)
	case reflect.Int:
		f, ok := raw.(float64)
		if !ok {
			d.typeProblem(name, "int", raw)
			return
		}
		v.SetInt(truncateToInt(f))
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			d.problemf("'%s': source data must be an array or slice, got %s", name, reflect.ValueOf(raw).Kind())
			return
		}
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			d.decodeValue(fmt.Sprintf("%s[%d]", name, i), item, list.Index(i))
		}
		v.Set(list)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			d.problemf("'%s' expected a map, got '%s'", name, reflect.ValueOf(raw).Kind())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(m)))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decodeValue(name+"["+k+"]", m[k], elem)
			v.SetMapIndex(reflect.ValueOf(k), elem)
		}
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.problemf("'%s' expected a map, got '%s'", name, reflect.ValueOf(raw).Kind())
			return
		}
		d.decodeStruct(name, v.Type().String(), m, v)
	default:
		d.problemf("'%s' has unsupported type '%s'", name, v.Type())
	}
}

func (d *configDecoder) typeProblem(name, want string, raw any) {
	d.problemf("'%s' expected type '%s', got unconvertible type '%s'", name, want, reflect.TypeOf(raw))
}

// truncateToInt converts a JSON number to an integer option, truncating
// toward zero and saturating outside the int64 range.
func truncateToInt(f float64) int64 {
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}
