package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and failed (a drill that did not pass, an I/O error)
	exitUsage   = 2 // bad flags or arguments
	exitSignals = 130
)

// cli is what the commands need from the process, so tests run them in
// process with their own streams.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// isTTY reports whether w is a terminal (progress display).
	isTTY func(w io.Writer) bool
	// childCommand builds the crash drill's child publisher process.
	childCommand func(ctx context.Context) *exec.Cmd
}

// run executes the command line args and returns the exit status: 0 on
// success, 1 when the command ran and failed, 2 for a usage error. Errors
// go to stderr as one clear message, never a stack trace.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, isTTY: isTerminal, childCommand: selfCommand}
	return c.run(context.Background(), args)
}

// run executes args until they are done, ctx ends, or SIGINT or SIGTERM
// arrives, which end the command as an interrupt (exit status 130).
func (c *cli) run(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := c.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.err != nil {
			fmt.Fprintf(c.stderr, "huleedu: %v\n", ex.err)
		}
		// Interrupted means a signal (or the caller) ended the command.
		// A command that failed on its own is not interrupted, even when
		// its error carries a context.Canceled from closing what it had
		// opened (a bus closed without waiting after its spool failed).
		if ex.code == exitFailed && ctx.Err() != nil {
			return exitSignals
		}
		return ex.code
	}
	// Anything not marked as a failure of a command that ran is a usage
	// error: cobra's own (unknown flag or command, bad value) and ours.
	fmt.Fprintf(c.stderr, "huleedu: %v\n", err)
	path := "huleedu"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", path)
	return exitUsage
}

// exitError ends a command that ran with a status; err, when set, is
// printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// failed marks err as the failure of a command that ran: exit status 1,
// or 130 when the command was interrupted (run decides that from the
// context, not from err).
func failed(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitFailed, err: err}
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "huleedu",
		Short: "HuleEdu resilience tools: the outage drill, spool operations and the services",
		Long: `huleedu runs the outage drill that proves the resilient Kafka publisher
loses and reorders nothing it accepted, the operator commands for the
durable fallback spool, and the platform's services (serve).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetIn(c.stdin)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(c.drillCommand(), c.spoolCommand(), newServeCmd(), c.kafkaCommand(), c.childCommandCmd())
	root.AddCommand(c.outboxCommand())
	return root
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// selfCommand runs this binary's hidden drill-publisher command.
func selfCommand(ctx context.Context) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.CommandContext(ctx, exe, childCommandName)
}
