package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/services/platform"
)

func TestServeRejectsUnknownServiceListingKnownOnes(t *testing.T) {
	cmd := newServeCmd()
	cmd.SetArgs([]string{"essay_grader"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), `unknown service "essay_grader": want all or one of file_service, class_management_service`) {
		t.Fatalf("serve essay_grader = %v, want an error listing the services", err)
	}
}

func TestServeGivesEachServiceItsDefaultPorts(t *testing.T) {
	cases := []struct {
		name    string
		service string
		environ []string
		random  bool
		want    []string // variables serveSpecs must add
		notWant []string
	}{
		{name: "all, nothing configured", service: "all",
			want: []string{"FILE_SERVICE_HTTP_ADDR=127.0.0.1:7001", "FILE_SERVICE_ADMIN_ADDR=127.0.0.1:9001",
				"CJ_ASSESSMENT_SERVICE_HTTP_ADDR=127.0.0.1:7007", "CJ_ASSESSMENT_SERVICE_ADMIN_ADDR=127.0.0.1:9007",
				"LLM_PROVIDER_SERVICE_HTTP_ADDR=127.0.0.1:7008", "LLM_PROVIDER_SERVICE_ADMIN_ADDR=127.0.0.1:9008"}},
		{name: "all, one service configured", service: "all", environ: []string{"FILE_SERVICE_HTTP_ADDR=0.0.0.0:8080"},
			want: []string{"FILE_SERVICE_ADMIN_ADDR=127.0.0.1:9001"}, notWant: []string{"FILE_SERVICE_HTTP_ADDR=127.0.0.1:7001"}},
		{name: "all ignores a plain HTTP_ADDR that would collide", service: "all", environ: []string{"HTTP_ADDR=:5000"},
			want: []string{"FILE_SERVICE_HTTP_ADDR=127.0.0.1:7001", "SPELLCHECKER_SERVICE_HTTP_ADDR=127.0.0.1:7006"}},
		{name: "one service honours a plain HTTP_ADDR", service: "file_service", environ: []string{"HTTP_ADDR=:5000"},
			want: []string{"FILE_SERVICE_ADMIN_ADDR=127.0.0.1:9001"}, notWant: []string{"FILE_SERVICE_HTTP_ADDR=127.0.0.1:7001"}},
		{name: "random ports", service: "all", random: true,
			want: []string{"FILE_SERVICE_HTTP_ADDR=127.0.0.1:0", "BATCH_CONDUCTOR_SERVICE_ADMIN_ADDR=127.0.0.1:0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs, environ, err := serveSpecs(tc.service, tc.environ, tc.random)
			if err != nil {
				t.Fatal(err)
			}
			if tc.service == "all" && len(specs) != len(platform.Specs()) {
				t.Fatalf("%d services, want %d", len(specs), len(platform.Specs()))
			}
			for _, w := range tc.want {
				if !slices.Contains(environ, w) {
					t.Errorf("environment lacks %s", w)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(environ, w) {
					t.Errorf("environment has %s, overriding the configured address", w)
				}
			}
		})
	}
}

func TestServeOneServiceWithoutKafkaFailsNamingVariable(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
	cmd := newServeCmd()
	cmd.SetArgs([]string{"file_service", "--random-ports"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	if want := `KAFKA_BOOTSTRAP_SERVERS="": must list at least one host:port`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("serve file_service = %v, want an error containing %s", err, want)
	}
}

func TestServeAllRunsEveryServiceOnEmbeddedKafka(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
	t.Setenv("HULEEDU_DATA_DIR", t.TempDir())
	t.Setenv("LOG_LEVEL", "error")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := newServeCmd()
	cmd.SetArgs([]string{"all", "--random-ports"})
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()

	admins := map[string]string{}
	line := regexp.MustCompile(`^(\w+)\s+api (http://127\.0\.0\.1:\d+)\s+admin (http://127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(pr)
	var out strings.Builder
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			admins[m[1]] = m[3]
		}
		if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(admins) != len(platform.Specs()) || !strings.Contains(out.String(), "embedded kfake cluster") {
		t.Fatalf("serve all printed\n%s\nwant the embedded cluster and %d services with api and admin addresses", out.String(), len(platform.Specs()))
	}
	for name, admin := range admins {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || body.Status != "ready" {
			t.Errorf("%s /readyz = %d %q, want 200 ready", name, resp.StatusCode, body.Status)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve all = %v, want a clean stop", err)
	}
}

// serveEnv sets the environment of a `serve file_service` on the disk
// spool dir, against a test cluster.
func serveEnv(t *testing.T, dir string) {
	t.Helper()
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Brokers: 1})
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", strings.Join(c.Addrs(), ","))
	t.Setenv("HULEEDU_DATA_DIR", t.TempDir())
	t.Setenv("KAFKA_FALLBACK_MODE", "disk")
	t.Setenv("KAFKA_FALLBACK_DIR", dir)
	t.Setenv("LOG_LEVEL", "error")
}

// assertFailedOnSpool checks a serve that could not open its spool: exit
// status 1, not 130 (nothing interrupted it), and the spool's error first
// on stderr, before anything a cleanup added.
func assertFailedOnSpool(t *testing.T, r result, cause string) {
	t.Helper()
	if r.code != exitFailed {
		t.Errorf("exit status %d, want %d (failed, not interrupted); stderr %q", r.code, exitFailed, r.stderr)
	}
	first, _, _ := strings.Cut(r.stderr, "\n")
	if !strings.HasPrefix(first, "huleedu: ") || !strings.Contains(first, "fallback queue (disk)") || !strings.Contains(first, cause) {
		t.Errorf("first line of stderr %q, want the spool's error containing %q", first, cause)
	}
	if strings.Count(first, "servicekit: file_service: ") != 1 {
		t.Errorf("first line of stderr %q names the service more than once", first)
	}
	assertNoStackTrace(t, r.stderr)
}

func TestServeOnASpoolAnotherServeHoldsExitsOneNamingTheLock(t *testing.T) {
	dir := t.TempDir()
	serveEnv(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	firstDone := make(chan int, 1)
	go func() {
		firstDone <- newTestCLI(nil, pw, io.Discard).run(ctx, []string{"serve", "file_service", "--random-ports"})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	second := runCLI(t, nil, "serve", "file_service", "--random-ports")
	assertFailedOnSpool(t, second, "locked by pid")

	cancel()
	select {
	case code := <-firstDone:
		if code != exitOK && code != exitSignals {
			t.Errorf("the first serve exited %d after its context ended", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first serve did not stop within 30s")
	}
}

func TestServeOnASpoolDirUnderAFileExitsOneNamingTheDir(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	serveEnv(t, filepath.Join(notADir, "spool"))
	assertFailedOnSpool(t, runCLI(t, nil, "serve", "file_service", "--random-ports"), "not a directory")
}

func TestServeOnAReadOnlySpoolDirExitsOneNamingTheDir(t *testing.T) {
	dir := filepath.Join(readOnlyDir(t), "spool")
	serveEnv(t, dir)
	assertFailedOnSpool(t, runCLI(t, nil, "serve", "file_service", "--random-ports"), dir)
}

// readOnlyDir returns a directory nothing can be created in: a read-only
// tmpfs for root (whom permissions do not stop), else a directory without
// write permission. It skips the test where neither can be had.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return dir
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=64k"); err != nil {
		t.Skipf("no read-only file system for root: mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
