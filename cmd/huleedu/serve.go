package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/servicekit/servicegroup"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/platform"
)

// Default ports of `huleedu serve`: the i-th service of platform.Specs
// listens on apiPortBase+i and adminPortBase+i unless HTTP_ADDR and
// ADMIN_ADDR say otherwise. Fixed ports let the README's curl examples work
// on a fresh clone; --random-ports picks free ones instead.
const (
	apiPortBase   = 7001
	adminPortBase = 9001
)

func serviceNames() []string {
	var names []string
	for _, spec := range platform.Specs() {
		names = append(names, spec.Name)
	}
	return names
}

// newServeCmd returns `huleedu serve <service>|all`.
func newServeCmd() *cobra.Command {
	var (
		randomPorts bool
		dataDir     string
	)
	cmd := &cobra.Command{
		Use:   "serve <service>|all",
		Short: "Run a HuleEdu service, or all of them in one process",
		Long: `serve runs one service (` + strings.Join(serviceNames(), ", ") + `)
configured from the environment (deploy/env.example lists every variable;
each may be prefixed with the service's name, FILE_SERVICE_HTTP_ADDR).
KAFKA_BOOTSTRAP_SERVERS is required, and the services a service calls must be
given by URL (SPELLCHECKER_SERVICE_FILE_SERVICE_URL=http://...).

"serve all" runs every service in this process, each with its own settings,
breakers, metrics and ports, wired to each other's addresses, on an embedded
Kafka-protocol cluster (kfake) unless KAFKA_BOOTSTRAP_SERVERS is set. It
prints each service's API, admin address and database; the admin server
serves /healthz, /readyz, /metrics and /circuit-breakers.

The services keep their state in PostgreSQL when DATABASE_URL is set (one
database for all, a schema each), otherwise in a SQLite file each under the
data directory (--data-dir, or HULEEDU_DATA_DIR; default
$XDG_DATA_HOME/huleedu, else ~/.local/share/huleedu), which needs nothing
installed. "serve all" keeps its embedded cluster's records in
<data directory>/kafka too, so stopping it (or killing it) and starting it
again on the same data directory loses nothing: batches in flight go on.

Ports default to 7001-7008 (API) and 9001-9008 (admin) in the order listed;
--random-ports picks free ones. SIGINT or SIGTERM stops the services
gracefully within SHUTDOWN_TIMEOUT.`,
		Example: `  huleedu serve all
  huleedu serve all --data-dir /tmp/huleedu
  DATABASE_URL=postgres://huleedu@localhost/huleedu huleedu serve all
  KAFKA_BOOTSTRAP_SERVERS=kafka:9092 huleedu serve file_service`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			environ := os.Environ()
			if dataDir != "" {
				abs, err := filepath.Abs(dataDir)
				if err != nil {
					return fmt.Errorf("--data-dir %q: %w", dataDir, err)
				}
				// The flag wins over the environment, for every service.
				environ = withoutDataDir(environ)
				environ = append(environ, "HULEEDU_DATA_DIR="+abs)
			}
			specs, environ, err := serveSpecs(args[0], environ, randomPorts)
			if err != nil {
				return err
			}
			return serve(cmd, args[0], specs, environ)
		},
	}
	cmd.Flags().BoolVar(&randomPorts, "random-ports", false, "listen on free ports instead of 7001-7008 and 9001-9008")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "where the services keep their SQLite databases and spools, and serve all its Kafka log "+
		"(default $HULEEDU_DATA_DIR, else $XDG_DATA_HOME/huleedu or ~/.local/share/huleedu)")
	return cmd
}

// withoutDataDir drops every variable that sets a data directory, the
// services' prefixed ones included, so that --data-dir decides alone.
func withoutDataDir(environ []string) []string {
	drop := map[string]bool{}
	for _, prefix := range append([]string{""}, servicePrefixes()...) {
		drop[prefix+"HULEEDU_DATA_DIR"], drop[prefix+"DATA_DIR"] = true, true
	}
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

// servicePrefixes are the variable prefixes of the platform's services.
func servicePrefixes() []string {
	var ps []string
	for _, name := range serviceNames() {
		ps = append(ps, servicekit.Prefix(name))
	}
	return ps
}

// serveSpecs returns the services name selects and the environment with
// their default addresses added where none is configured.
func serveSpecs(name string, environ []string, randomPorts bool) ([]servicekit.ServiceSpec, []string, error) {
	var specs []servicekit.ServiceSpec
	environ = slices.Clip(environ)
	for i, spec := range platform.Specs() {
		if name != "all" && name != spec.Name {
			continue
		}
		specs = append(specs, spec)
		e := servicekit.NewEnv(spec.Name, environ)
		prefix := servicekit.Prefix(spec.Name)
		for _, addr := range []struct {
			variable string
			port     int
		}{{"HTTP_ADDR", apiPortBase + i}, {"ADMIN_ADDR", adminPortBase + i}} {
			_, from, set := e.Lookup(addr.variable)
			// With several services, a plain HTTP_ADDR cannot be right for
			// all of them: only the prefixed form counts.
			if set && (name != "all" || from == prefix+addr.variable) {
				continue
			}
			port := addr.port
			if randomPorts {
				port = 0
			}
			environ = append(environ, fmt.Sprintf("%s%s=127.0.0.1:%d", prefix, addr.variable, port))
		}
	}
	if len(specs) == 0 {
		return nil, nil, fmt.Errorf("unknown service %q: want all or one of %s", name, strings.Join(serviceNames(), ", "))
	}
	return specs, environ, nil
}

// serve runs specs until the command's context ends (SIGINT, SIGTERM).
func serve(cmd *cobra.Command, name string, specs []servicekit.ServiceSpec, environ []string) error {
	tracingName := "huleedu"
	if name != "all" {
		tracingName = name
	}
	shutdownTracing, err := observability.SetupTracingTo(cmd.Context(), tracingName, cmd.ErrOrStderr())
	if err != nil {
		return failed(err)
	}
	defer func() { _ = shutdownTracing(cmd.Context()) }()

	out := cmd.OutOrStdout()
	logs := cmd.ErrOrStderr()
	var also []servicegroup.Listing
	if name == "all" {
		fmt.Fprintln(out, "HuleEdu: starting every service in this process.")
		if _, _, set := servicekit.NewEnv("", environ).Lookup("KAFKA_BOOTSTRAP_SERVERS"); !set {
			dir := filepath.Join(servicekit.DataDir(servicekit.NewEnv("", environ)), "kafka")
			cluster, unlock, err := startEmbeddedKafka(contracts.Topics(), dir)
			if err != nil {
				return failed(err)
			}
			defer unlock()
			defer cluster.Close()
			addrs := strings.Join(cluster.Addrs(), ",")
			environ = append(slices.Clip(environ), "KAFKA_BOOTSTRAP_SERVERS="+addrs)
			also = append(also, servicegroup.Listing{Name: "kafka", Address: addrs, Note: "(embedded kfake cluster, its log in " + dir + ")"})
		}
	}
	err = servicegroup.Run(cmd.Context(), specs, servicegroup.RunOptions{
		Environ:   environ,
		Out:       out,
		LogOutput: logs,
		Also:      also,
	})
	if err != nil {
		return failed(err)
	}
	return nil
}

// startEmbeddedKafka starts the cluster that "serve all" uses when no
// KAFKA_BOOTSTRAP_SERVERS is given, with topics and their dead-letter
// topics, its records and committed offsets kept in dir so that a
// restarted serve all finds what it left (events in flight, where each
// consumer group was). One process at a time may own dir: a second serve
// all on the same data directory is refused, naming the holder. Only this
// command links the fake broker: no service package imports
// embeddedkafka. unlock releases dir.
func startEmbeddedKafka(topics []string, dir string) (c *embeddedkafka.Cluster, unlock func(), err error) {
	unlock, err = lockDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded kafka: %w", err)
	}
	c, err = embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Partitions: 3, Topics: kafkaconsumer.WithDeadLetterTopics(topics), DataDir: dir})
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("embedded kafka in %s: %w", dir, err)
	}
	return c, unlock, nil
}

// lockDir creates dir and takes an exclusive lock on dir/LOCK, which the
// kernel releases when the process ends, however it ends.
func lockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is in use by another huleedu serve all (pid %s); stop it or give this one another --data-dir",
				dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
