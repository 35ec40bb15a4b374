package servicekittest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

// LogBuffer is a concurrency-safe io.Writer that keeps the JSON logs of the
// services a test runs, to print on failure (Tail) or to assert on (Lines).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// Tail returns the last n bytes written.
func (l *LogBuffer) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Lines returns the decoded log lines whose msg is msg and whose
// attributes include every key and value of match. A line that is not
// JSON fails the test.
func (l *LogBuffer) Lines(t testing.TB, msg string, match map[string]string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 4<<20)
next:
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("a log line is not JSON: %v: %.300s", err, sc.Bytes())
			continue
		}
		if line["msg"] != msg {
			continue
		}
		for k, v := range match {
			if line[k] != v {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}
