package servicekit

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEnvExampleDocumentsEverySettingWithItsDefault keeps
// deploy/env.example true: every variable of Settings is listed, with the
// default the code uses.
func TestEnvExampleDocumentsEverySettingWithItsDefault(t *testing.T) {
	f, err := os.Open("../deploy/env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			documented[k] = v
		}
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			if key == "" || key == "-" {
				continue
			}
			got, ok := documented[key]
			if !ok {
				t.Errorf("deploy/env.example does not list %s", key)
				continue
			}
			if want := f.Tag.Get("envDefault"); got != want {
				t.Errorf("deploy/env.example: %s=%s, but the default is %q", key, got, want)
			}
		}
	}
	walk(reflect.TypeFor[Settings]())
}
