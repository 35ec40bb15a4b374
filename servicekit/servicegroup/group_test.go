package servicegroup

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/servicekit"
)

// pingRoutes is a module with one API route.
var pingRoutes = servicekit.AsRoutes(func() []servicekit.Route {
	return []servicekit.Route{{Pattern: "GET /v1/ping", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "pong")
	})}}
})

// urlOf is a module that reports the value variable has for its service.
func urlOf(variable string, got *string) fx.Option {
	return fx.Invoke(func(e servicekit.Env) { *got, _, _ = e.Lookup(variable) })
}

// newCluster starts a one-broker cluster for the services' buses.
func newCluster(t *testing.T) *embeddedkafka.Cluster {
	t.Helper()
	return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Brokers: 1, Partitions: 2})
}

// testContext is a context that ends with the test, at most after d.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func environ(c interface{ Addrs() []string }, extra ...string) []string {
	return append([]string{
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(c.Addrs(), ","),
		"LOG_LEVEL=error",
		"KAFKA_METADATA_MIN_AGE=100ms",
	}, extra...)
}

func TestStartStartsDependenciesFirstAndSetsTheirURLs(t *testing.T) {
	c := newCluster(t)
	var got string
	specs := []servicekit.ServiceSpec{
		{Name: "caller_service", Module: urlOf("CALLEE_URL", &got), DependencyURLs: map[string]string{"callee_service": "CALLEE_URL"}},
		{Name: "callee_service", Module: pingRoutes},
	}
	g, err := Start(testContext(t, 30*time.Second), environ(c), specs, servicekit.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())

	var order []string
	for _, a := range g.Apps() {
		order = append(order, a.Service())
	}
	if strings.Join(order, " ") != "callee_service caller_service" {
		t.Fatalf("start order %v, want the dependency first", order)
	}
	callee, _ := g.App("callee_service")
	if got != callee.Endpoints().API {
		t.Fatalf("caller's CALLEE_URL = %q, want the callee's API %q", got, callee.Endpoints().API)
	}
	resp, err := http.Get(got + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET callee = %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestConfiguredDependencyURLWins(t *testing.T) {
	c := newCluster(t)
	var got string
	specs := []servicekit.ServiceSpec{
		{Name: "callee_service", Module: pingRoutes},
		{Name: "caller_service", Module: urlOf("CALLEE_URL", &got), DependencyURLs: map[string]string{"callee_service": "CALLEE_URL"}},
	}
	g, err := Start(testContext(t, 30*time.Second), environ(c, "CALLER_SERVICE_CALLEE_URL=http://callee.internal:8080"), specs,
		servicekit.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(context.Background())
	if got != "http://callee.internal:8080" {
		t.Fatalf("CALLEE_URL = %q, want the configured one", got)
	}
}

func TestStartOrderRejectsBadDependencies(t *testing.T) {
	cases := []struct {
		name  string
		specs []servicekit.ServiceSpec
		want  string
	}{
		{"cycle", []servicekit.ServiceSpec{
			{Name: "a", DependencyURLs: map[string]string{"b": "B_URL"}},
			{Name: "b", DependencyURLs: map[string]string{"a": "A_URL"}},
		}, "dependency cycle: a -> b -> a"},
		{"duplicate", []servicekit.ServiceSpec{{Name: "a"}, {Name: "a"}}, `service "a" listed twice`},
		{"no name", []servicekit.ServiceSpec{{}}, "has no Name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := startOrder(tc.specs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("startOrder = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDependencyOutsideTheListIsLeftToTheEnvironment(t *testing.T) {
	order, err := startOrder([]servicekit.ServiceSpec{{Name: "a", DependencyURLs: map[string]string{"elsewhere": "ELSEWHERE_URL"}}, {Name: "b"}})
	if err != nil || len(order) != 2 || order[0].Name != "a" {
		t.Fatalf("startOrder = %v, %v; want a, b", order, err)
	}
}

func TestStartStopsStartedServicesWhenOneFails(t *testing.T) {
	c := newCluster(t)
	specs := []servicekit.ServiceSpec{
		{Name: "good_service", Module: pingRoutes},
		{Name: "bad_service"},
	}
	_, err := Start(testContext(t, 30*time.Second), environ(c, "BAD_SERVICE_KAFKA_FALLBACK_OVERFLOW=drop"), specs,
		servicekit.WithLogOutput(io.Discard))
	if want := `BAD_SERVICE_KAFKA_FALLBACK_OVERFLOW="drop": must be block or reject`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start = %v, want an error containing %s", err, want)
	}
	// goleak (TestMain) checks that good_service was stopped again.
}

func TestRunPrintsAddressesAndStopsWhenContextEnds(t *testing.T) {
	c := newCluster(t)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []servicekit.ServiceSpec{{Name: "ping_service", Module: pingRoutes}}, RunOptions{
			Environ:   environ(c, "LOG_LEVEL=error"),
			Out:       pw,
			LogOutput: io.Discard,
			Also:      []Listing{{Name: "kafka", Address: strings.Join(c.Addrs(), ","), Note: "(the test's cluster)"}},
		})
		pw.Close()
	}()

	var printed strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
			break
		}
	}
	out := printed.String()
	api := regexp.MustCompile(`ping_service\s+api (http://127\.0\.0\.1:\d+)\s+admin (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out)
	if api == nil || !regexp.MustCompile(`kafka\s+127\.0\.0\.1:\d+\s+\(the test's cluster\)`).MatchString(out) {
		t.Fatalf("Run printed\n%s\nwant the listing of the cluster and ping_service's api and admin addresses", out)
	}
	resp, err := http.Get(api[1] + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want a clean stop", err)
	}
}

func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	c := newCluster(t)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), []servicekit.ServiceSpec{{Name: "ping_service", Module: pingRoutes}}, RunOptions{
			Environ: environ(c, "LOG_LEVEL=error"), Out: pw, LogOutput: io.Discard,
		})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// Run has its signal handler installed once it printed the
	// addresses, so the signal stops it rather than the test binary.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after SIGTERM, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop within 30s of SIGTERM")
	}
}
