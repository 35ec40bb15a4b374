package servicekit

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// settingDefaults maps every variable of Settings to its default ("" for
// none): the envDefault of a tagged field, kafkabus's default (as the
// variable spells it) of a KAFKA_* publishing variable.
func settingDefaults() map[string]string {
	defaults := map[string]string{}
	k := defaultKafka("any_service")
	for _, v := range kafkaVars(&k) {
		defaults[v.name] = v.text()
	}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" && key != "-" {
				defaults[key] = f.Tag.Get("envDefault")
			}
		}
	}
	walk(reflect.TypeFor[Settings]())
	// Unset is the default, and it depends on the service: outbox for a
	// service with a database, kafkabus's memory for one without.
	defaults["KAFKA_FALLBACK_MODE"] = ""
	return defaults
}

// serviceDependentDefaults are the defaults the README's table may show
// for a service without a database, where env.example shows none.
var serviceDependentDefaults = map[string]string{"KAFKA_FALLBACK_MODE": "memory"}

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
	for key, want := range settingDefaults() {
		got, ok := documented[key]
		if !ok {
			t.Errorf("deploy/env.example does not list %s", key)
			continue
		}
		if got != want {
			t.Errorf("deploy/env.example: %s=%s, but the default is %q", key, got, want)
		}
	}
}

// TestReadmeConfigurationTableMatchesTheDefaults keeps the variable table
// of README.md's "Configuration" section true: every variable it lists is
// read by Settings, with the default it shows ("(required)" or an empty
// cell for none).
func TestReadmeConfigurationTableMatchesTheDefaults(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| ([^|]*) \\|")
	rows := row.FindAllStringSubmatch(section, -1)
	if len(rows) == 0 {
		t.Fatal("README.md's Configuration section has no variable table")
	}
	defaults := settingDefaults()
	for _, r := range rows {
		key, shown := r[1], strings.Trim(strings.TrimSpace(r[2]), "`")
		if shown == "(required)" {
			shown = ""
		}
		want, ok := defaults[key]
		if alt, dependent := serviceDependentDefaults[key]; dependent && shown == alt {
			want = alt
		}
		switch {
		case !ok:
			t.Errorf("README.md lists %s, which Settings does not read", key)
		case shown != want:
			t.Errorf("README.md: %s defaults to %q, but the default is %q", key, shown, want)
		}
	}
}
