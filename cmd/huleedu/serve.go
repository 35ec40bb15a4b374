package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

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
	var randomPorts bool
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
Kafka-protocol cluster (kfake, in memory) unless KAFKA_BOOTSTRAP_SERVERS is
set. It prints each service's API and admin address; the admin server serves
/healthz, /readyz, /metrics and /circuit-breakers.

Ports default to 7001-7008 (API) and 9001-9008 (admin) in the order listed;
--random-ports picks free ones. SIGINT or SIGTERM stops the services
gracefully within SHUTDOWN_TIMEOUT.`,
		Example: `  huleedu serve all
  KAFKA_BOOTSTRAP_SERVERS=kafka:9092 huleedu serve file_service`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, environ, err := serveSpecs(args[0], os.Environ(), randomPorts)
			if err != nil {
				return err
			}
			return serve(cmd, args[0], specs, environ)
		},
	}
	cmd.Flags().BoolVar(&randomPorts, "random-ports", false, "listen on free ports instead of 7001-7008 and 9001-9008")
	return cmd
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
			cluster, err := startEmbeddedKafka(contracts.Topics())
			if err != nil {
				return failed(err)
			}
			defer cluster.Close()
			addrs := strings.Join(cluster.Addrs(), ",")
			environ = append(slices.Clip(environ), "KAFKA_BOOTSTRAP_SERVERS="+addrs)
			also = append(also, servicegroup.Listing{Name: "kafka", Address: addrs, Note: "(embedded kfake cluster)"})
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

// startEmbeddedKafka starts the in-memory cluster that "serve all" uses
// when no KAFKA_BOOTSTRAP_SERVERS is given, with topics and their
// dead-letter topics. Only this command links the fake broker: no service
// package imports embeddedkafka.
func startEmbeddedKafka(topics []string) (*embeddedkafka.Cluster, error) {
	c, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Partitions: 3, Topics: kafkaconsumer.WithDeadLetterTopics(topics)})
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return c, nil
}
