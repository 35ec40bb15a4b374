package platformtest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/servicekit/servicegroup"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/platform"
)

// defaultEnv is what every service sees besides the cluster's address: a
// publish gives up on Kafka after 500ms and goes to the fallback queue,
// two failures open the Kafka breaker, which probes again after 250ms and
// closes on the first success; clients notice a healed cluster within
// 100ms; a vanished consumer is replaced within 2s. API and admin servers
// listen on free loopback ports (the servicekit defaults).
var defaultEnv = []string{
	"KAFKA_PUBLISH_TIMEOUT=500ms",
	"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2",
	"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=250ms",
	"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=1",
	"KAFKA_METADATA_MIN_AGE=100ms",
	"KAFKA_CONSUMER_SESSION_TIMEOUT=2s",
	"KAFKA_CONSUMER_RETRY_BACKOFF=50ms",
	"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=500ms",
	"KAFKA_CONSUMER_MAX_ATTEMPTS=20",
	"SHUTDOWN_TIMEOUT=20s",
	"LOG_LEVEL=info",
}

// DatabaseEnv names the variable that picks the services' database when
// Options.Database is empty: "sqlite" (the default) or "postgres" (a
// database of pgtest's server, or DATABASE_URL's), so the same e2e tests
// run on either.
const DatabaseEnv = "HULEEDU_E2E_DATABASE"

// Options configure Start.
type Options struct {
	// Env adds variables (KEY=value) after the defaults, which they
	// override.
	Env []string
	// Module, when set, returns what to add to service's module (a
	// decoration, say). Restart adds it to the new process too.
	Module func(service string) fx.Option
	// Database is where the services keep their state: "sqlite" (a file
	// per service in DataDir), "postgres" (one new database of pgtest's
	// server, a schema per service; the test binary's TestMain must call
	// pgtest.Main), or a postgres:// URL. Empty: $HULEEDU_E2E_DATABASE,
	// else sqlite.
	Database string
	// DataDir is the services' HULEEDU_DATA_DIR: their SQLite files and
	// disk spools. Empty: a new directory of the test's.
	DataDir string
	// PersistKafka keeps the cluster's records and committed offsets in
	// <DataDir>/kafka, as `huleedu serve all` keeps its embedded cluster,
	// so RestartAll can restart the cluster too.
	PersistKafka bool
}

// Platform is every service of the platform, running in the test process
// on Cluster. Its methods may be called from any goroutine of the test.
type Platform struct {
	// Cluster is the Kafka-protocol cluster the services use: break it
	// with Cluster.Fault, end the fault with Cluster.Heal.
	Cluster *embeddedkafka.Cluster
	// Logs holds every service's JSON log lines.
	Logs *servicekittest.LogBuffer

	t       testing.TB
	opts    Options
	client  *http.Client
	environ []string // every service's environment, for restarts

	mu     sync.Mutex // guards apps and halted
	apps   []*servicekit.App
	halted map[*servicekit.App]bool
}

// Start starts the cluster with every platform topic and all services on
// it, and stops them when the test ends. It fails the test if a service
// does not start within 30s.
func Start(t testing.TB, o Options) *Platform {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	cfg := embeddedkafka.Config{
		Brokers:       1,
		Partitions:    3,
		Topics:        kafkaconsumer.WithDeadLetterTopics(contracts.Topics()),
		BrokerConfigs: map[string]string{"group.min.session.timeout.ms": "100"},
	}
	if o.PersistKafka {
		cfg.DataDir = filepath.Join(o.DataDir, "kafka")
	}
	cluster := embeddedkafka.NewTestCluster(t, cfg)
	p := &Platform{Cluster: cluster, Logs: &servicekittest.LogBuffer{}, t: t, opts: o,
		client: &http.Client{Transport: &http.Transport{}}, halted: map[*servicekit.App]bool{}}
	p.environ = slices.Concat([]string{"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(cluster.Addrs(), ","), "HULEEDU_DATA_DIR=" + o.DataDir},
		databaseEnv(t, o.Database), defaultEnv, o.Env)
	t.Cleanup(p.stop)
	p.startAll()
	return p
}

// databaseEnv is the environment that puts the services on database (see
// Options.Database).
func databaseEnv(t testing.TB, database string) []string {
	t.Helper()
	if database == "" {
		database = os.Getenv(DatabaseEnv)
	}
	switch {
	case database == "" || database == "sqlite":
		return nil
	case database == "postgres":
		return []string{"DATABASE_URL=" + pgtest.NewDatabase(t)}
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return []string{"DATABASE_URL=" + database}
	}
	t.Fatalf("platformtest: database %q: want sqlite, postgres or a postgres:// URL (Options.Database or %s)", database, DatabaseEnv)
	return nil
}

// startAll starts every service from the platform's environment.
func (p *Platform) startAll() {
	p.t.Helper()
	specs := platform.Specs()
	for i, s := range specs {
		specs[i].Module = p.module(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := servicegroup.Start(ctx, p.environ, specs, servicekit.WithLogOutput(p.Logs))
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.apps = g.Apps()
	p.mu.Unlock()
}

// DataDir is the services' HULEEDU_DATA_DIR.
func (p *Platform) DataDir() string { return p.opts.DataDir }

// RestartAll restarts the whole platform as `huleedu serve all` restarts
// after a crash: every service halted (in the reverse of the start order,
// without draining), with Options.PersistKafka the cluster stopped and
// started again from its data directory, and every service started again
// from the same environment, so on the same data directory and database.
// Platform's methods use the new processes from then on.
func (p *Platform) RestartAll() {
	p.t.Helper()
	for _, a := range slices.Backward(p.Apps()) {
		if err := a.Halt(); err != nil {
			p.t.Logf("halt %s: %v", a.Service(), err)
		}
		p.mu.Lock()
		p.halted[a] = true
		p.mu.Unlock()
	}
	if p.opts.PersistKafka {
		if err := p.Cluster.Fault(embeddedkafka.FaultRestart); err != nil {
			p.t.Fatal(err)
		}
		if err := p.Cluster.Heal(); err != nil {
			p.t.Fatal(err)
		}
	}
	p.startAll()
}

// module is spec's module with Options.Module's addition.
func (p *Platform) module(spec servicekit.ServiceSpec) fx.Option {
	if p.opts.Module == nil {
		return spec.Module
	}
	return fx.Options(spec.Module, p.opts.Module(spec.Name))
}

// stop stops every running service, in the reverse of the start order.
func (p *Platform) stop() {
	defer p.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, a := range slices.Backward(p.Apps()) {
		if p.isHalted(a) {
			continue
		}
		if err := a.Stop(ctx); err != nil {
			p.t.Errorf("stopping %s: %v", a.Service(), err)
		}
	}
	if p.t.Failed() || os.Getenv("HULEEDU_E2E_LOGS") != "" {
		p.t.Logf("service logs (last 256 KiB):\n%s", p.Logs.Tail(256<<10))
	}
}

func (p *Platform) isHalted(a *servicekit.App) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.halted[a]
}

// Apps returns the running apps, in start order.
func (p *Platform) Apps() []*servicekit.App {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.apps)
}

// App returns the running app of service; it fails the test for an
// unknown service.
func (p *Platform) App(service string) *servicekit.App {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.apps {
		if a.Service() == service {
			return a
		}
	}
	p.t.Fatalf("no service %s", service)
	return nil
}

// API returns the API base URL of service.
func (p *Platform) API(service string) string { return p.App(service).Endpoints().API }

// Restart halts service as a crash would (no drain: a disk spool keeps
// what it accepted) and starts a new process of it from the same
// environment, so on the same spool directory. It returns the new app,
// which App returns from then on.
func (p *Platform) Restart(service string) *servicekit.App {
	p.t.Helper()
	old := p.App(service)
	i := slices.IndexFunc(platform.Specs(), func(s servicekit.ServiceSpec) bool { return s.Name == service })
	// Halt reports what it cut short; the spool keeps the records.
	if err := old.Halt(); err != nil {
		p.t.Logf("halt %s: %v", service, err)
	}
	p.mu.Lock()
	p.halted[old] = true
	p.mu.Unlock()
	a, err := servicekit.New(old.Env(), p.module(platform.Specs()[i]), servicekit.WithLogOutput(p.Logs))
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.apps[slices.Index(p.apps, old)] = a
	p.mu.Unlock()
	return a
}

// WaitFor polls cond until it holds, failing the test when d passes first.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, d, what, cond)
}
