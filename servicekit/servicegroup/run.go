package servicegroup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/huleedu/huleedu/servicekit"
)

// RunOptions configure Run.
type RunOptions struct {
	// Environ is the environment (KEY=value); nil means os.Environ().
	Environ []string
	// Out receives the addresses of the started services (default
	// os.Stdout).
	Out io.Writer
	// LogOutput receives the services' JSON logs (default os.Stderr).
	LogOutput io.Writer
	// Also lists what runs beside the services (the command line's
	// embedded Kafka cluster, say), printed before their addresses.
	Also []Listing
}

// Listing is one line of Run's address table: a name, its address and
// a note ("kafka", "127.0.0.1:41235", "(embedded kfake cluster)").
type Listing struct {
	Name, Address, Note string
}

// Run runs specs in one process, each service its own App (own
// settings, breakers, metrics and ports), until SIGINT, SIGTERM or ctx
// ends, then stops them in reverse order within the longest
// SHUTDOWN_TIMEOUT. Once started it prints each service's addresses as
// http://127.0.0.1:PORT, and its database.
func Run(ctx context.Context, specs []servicekit.ServiceSpec, o RunOptions) error {
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
	g, err := Start(ctx, o.Environ, specs, servicekit.WithLogOutput(o.LogOutput))
	if err != nil {
		return err
	}
	printAddresses(o.Out, g, o.Also)

	var cause error
	select {
	case <-ctx.Done():
	case a := <-g.Failed(ctx):
		cause = a.Runner().Err()
	}
	fmt.Fprintln(o.Out, "stopping...")
	stopCtx, cancel := context.WithTimeout(context.Background(), g.ShutdownTimeout())
	defer cancel()
	return errors.Join(cause, g.Stop(stopCtx))
}

func printAddresses(w io.Writer, g *Group, also []Listing) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range also {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Name, l.Address, l.Note)
	}
	for _, a := range g.Apps() {
		ep := a.Endpoints()
		api := ep.API
		if api == "" {
			api = "(no API: consumes events only)"
		}
		state := ""
		if db := a.Runner().Database(); db != nil {
			state = "\tdb " + db.String()
			if schema := db.DB.Schema(); schema != "" {
				state += " (schema " + schema + ")"
			}
		}
		fmt.Fprintf(tw, "%s\tapi %s\tadmin %s%s\n", a.Service(), api, ep.Admin, state)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
