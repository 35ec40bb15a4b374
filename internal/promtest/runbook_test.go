package promtest_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the main module's root, relative to this package.
const moduleRoot = "../.."

// logMessageRow matches a row of the runbook's table of log messages.
var logMessageRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// runbookLogMessages returns the log messages of the runbook's "Messages
// worth searching for" table (its first column).
func runbookLogMessages(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "| message | level | meaning |")
	if !ok {
		t.Fatalf("%s has no table of log messages", runbookPath)
	}
	var msgs []string
	for _, line := range strings.Split(table, "\n")[2:] {
		m := logMessageRow.FindStringSubmatch(line)
		if m == nil {
			break
		}
		msgs = append(msgs, m[1])
	}
	return msgs
}

// The runbook tells operators which log lines to search for: each must be
// a message the code really logs, or a search finds nothing when it
// matters.
func TestRunbookLogMessagesAreLoggedByTheCode(t *testing.T) {
	msgs := runbookLogMessages(t)
	if len(msgs) < 5 {
		t.Fatalf("found %d log messages in %s, want the whole table", len(msgs), runbookPath)
	}
	var src strings.Builder
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "bench" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != moduleRoot) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code := src.String()
	for _, m := range msgs {
		// The message is a string literal of its own: "msg", ...
		if !strings.Contains(code, `"`+m+`"`) {
			t.Errorf("%s lists the log message %q, which no source file logs", runbookPath, m)
		}
	}
}

// envExamplePath lists every variable with its default; servicekit's
// tests keep it equal to the code's defaults.
const envExamplePath = "../../deploy/env.example"

// runbookDefaultRE matches a documented default in the runbook's
// Configuration section: a table row "| `VAR` | `default` |" or the prose
// "`VAR` (`default`".
var runbookDefaultRE = regexp.MustCompile("(?m)(?:^\\| `([A-Z_]+)` \\| `([^`]*)`|`([A-Z_]+)` \\(`([^`]*)`)")

// The runbook's Configuration section states each variable's default;
// each must be the default deploy/env.example gives (and so the code).
func TestRunbookConfigurationDefaultsMatchEnvExample(t *testing.T) {
	doc, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Configuration\n")
	if !ok {
		t.Fatalf("%s has no Configuration section", runbookPath)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	example, err := os.ReadFile(envExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, line := range strings.Split(string(example), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			defaults[k] = v
		}
	}
	matches := runbookDefaultRE.FindAllStringSubmatch(section, -1)
	if len(matches) < 10 {
		t.Fatalf("found %d documented defaults in %s, want the whole section", len(matches), runbookPath)
	}
	for _, m := range matches {
		name, value := m[1]+m[3], m[2]+m[4]
		want, ok := defaults[name]
		if !ok {
			t.Errorf("%s documents %s, which %s does not list", runbookPath, name, envExamplePath)
			continue
		}
		if value != want {
			t.Errorf("%s gives %s the default %q, %s %q", runbookPath, name, value, envExamplePath, want)
		}
	}
}

// metricRow matches a row of the runbook's metrics table: name and type.
var metricRow = regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (gauge|counter|histogram) \\|")

// The runbook's Metrics table promises to list exactly what the
// collectors export (knownMetrics, which TestKnownMetricsMatchObservability
// keeps equal to the code, and the LLM Provider's llmMetrics), with the
// right type for the histograms.
func TestRunbookMetricsTableListsExactlyTheExportedMetrics(t *testing.T) {
	doc, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range metricRow.FindAllStringSubmatch(string(doc), -1) {
		names = append(names, m[1])
		if isHistogram(m[1]) != (m[2] == "histogram") {
			t.Errorf("%s gives %s the type %s", runbookPath, m[1], m[2])
		}
	}
	slices.Sort(names)
	if want := slices.Sorted(slices.Values(allMetrics())); !slices.Equal(names, want) {
		t.Errorf("%s's metrics table lists %v\nthe collectors export %v", runbookPath, names, want)
	}
}
