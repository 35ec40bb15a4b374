package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second `serve all` on a data directory another one runs on would
// share its embedded cluster's log: it is refused, naming the holder,
// before anything starts.
func TestServeAllOnADataDirAnotherServeAllHoldsExitsOneNamingIt(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
	t.Setenv("LOG_LEVEL", "error")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	firstDone := make(chan int, 1)
	go func() {
		firstDone <- newTestCLI(nil, pw, io.Discard).run(ctx, []string{"serve", "all", "--random-ports", "--data-dir", dir})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var listing strings.Builder
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
		listing.WriteString(sc.Text() + "\n")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	want := filepath.Join(dir, "essay_lifecycle_service", "essay_lifecycle_service.sqlite")
	if !strings.Contains(listing.String(), "db "+want) {
		t.Errorf("serve all listed\n%s\nwant each service's database in --data-dir, such as %s", listing.String(), want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Errorf("no database in --data-dir: %v", err)
	}

	second := runCLI(t, nil, "serve", "all", "--random-ports", "--data-dir", dir)
	if second.code != exitFailed || !strings.Contains(second.stderr, "in use by another huleedu serve all (pid ") {
		t.Errorf("second serve all on the same data dir: exit %d, stderr %q; want 1 naming the serve all that holds it", second.code, second.stderr)
	}
	assertNoStackTrace(t, second.stderr)

	cancel()
	select {
	case code := <-firstDone:
		if code != exitOK && code != exitSignals {
			t.Errorf("the first serve all exited %d after its context ended", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the first serve all did not stop within 60s")
	}
}
