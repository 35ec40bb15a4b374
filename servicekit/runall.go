package servicekit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/huleedu/huleedu/internal/kafkatest"
)

// RunOptions configure RunAll.
type RunOptions struct {
	// Environ is the environment (KEY=value); nil means os.Environ().
	Environ []string
	// Out receives the addresses of the started services (default
	// os.Stdout).
	Out io.Writer
	// LogOutput receives the services' JSON logs (default os.Stderr).
	LogOutput io.Writer
	// EmbeddedKafka starts an embedded Kafka-protocol cluster (kfake, in
	// memory) and points the services at it, unless
	// KAFKA_BOOTSTRAP_SERVERS is set.
	EmbeddedKafka bool
	// Topics are created in the embedded cluster, each with its
	// dead-letter topic.
	Topics []string
}

// RunAll runs specs in one process, each service its own App (own
// settings, breakers, metrics and ports), until SIGINT, SIGTERM or ctx
// ends, then stops them in reverse order within the longest
// SHUTDOWN_TIMEOUT. Once started it prints each service's addresses as
// http://127.0.0.1:PORT.
func RunAll(ctx context.Context, specs []ServiceSpec, o RunOptions) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.Environ == nil {
		o.Environ = os.Environ()
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.LogOutput == nil {
		o.LogOutput = os.Stderr
	}
	environ := o.Environ
	var cluster *kafkatest.Cluster
	if o.EmbeddedKafka && !setIn(environ, "KAFKA_BOOTSTRAP_SERVERS") {
		c, err := kafkatest.Start(kafkatest.Config{Brokers: 1, Partitions: 3, Topics: WithDeadLetterTopics(o.Topics)})
		if err != nil {
			return fmt.Errorf("servicekit: embedded kafka: %w", err)
		}
		cluster = c
		defer cluster.Close()
		environ = append(environ[:len(environ):len(environ)], "KAFKA_BOOTSTRAP_SERVERS="+strings.Join(c.Addrs(), ","))
	}

	g, err := StartAll(ctx, environ, specs, WithLogOutput(o.LogOutput))
	if err != nil {
		return err
	}
	printAddresses(o.Out, g, cluster)

	var cause error
	select {
	case <-ctx.Done():
	case a := <-g.Failed(ctx):
		cause = a.runner.Err()
	}
	fmt.Fprintln(o.Out, "stopping...")
	stopCtx, cancel := context.WithTimeout(context.Background(), g.ShutdownTimeout())
	defer cancel()
	return errors.Join(cause, g.Stop(stopCtx))
}

func printAddresses(w io.Writer, g *Group, cluster *kafkatest.Cluster) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if cluster != nil {
		fmt.Fprintf(tw, "kafka\t%s\t(embedded kfake cluster)\n", strings.Join(cluster.Addrs(), ","))
	}
	for _, a := range g.Apps() {
		ep := a.Endpoints()
		api := ep.API
		if api == "" {
			api = "(no API: consumes events only)"
		}
		fmt.Fprintf(tw, "%s\tapi %s\tadmin %s\n", a.Service(), api, ep.Admin)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}

// setIn reports whether environ sets name to a non-empty value.
func setIn(environ []string, name string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
			return true
		}
	}
	return false
}
