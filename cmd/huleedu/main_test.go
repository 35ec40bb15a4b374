package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// childEnv makes the test binary act as the huleedu binary itself, so the
// crash drill can re-run it as its publisher process.
const childEnv = "HULEEDU_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// result is what one in-process run of the command line produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// newTestCLI returns the command line with the given streams, never a
// terminal, whose crash drill re-runs the test binary as its publisher.
func newTestCLI(stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr, isTTY: func(io.Writer) bool { return false },
		childCommand: func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, os.Args[0], childCommandName)
			cmd.Env = append(os.Environ(), childEnv+"=1")
			return cmd
		}}
}

// runCLI runs the command line in process with args and stdin.
func runCLI(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := newTestCLI(stdin, &out, &errOut).run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// assertCleanUsageError checks a usage error: exit status 2, the message
// on stderr, nothing on stdout and no stack trace.
func assertCleanUsageError(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != exitUsage {
		t.Errorf("exit status %d, want %d (stderr %q)", r.code, exitUsage, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
	assertNoStackTrace(t, r.stderr)
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

func assertNoStackTrace(t *testing.T, s string) {
	t.Helper()
	for _, sign := range []string{"goroutine ", "panic:", ".go:", "runtime."} {
		if strings.Contains(s, sign) {
			t.Errorf("output looks like a stack trace (%q): %q", sign, s)
		}
	}
}

func TestUsageErrorsExitWithStatus2AndAClearMessage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown fault kind", []string{"drill", "--fault", "meteor"}, `--fault "meteor": want one of none, cut, blackhole, error, slow, restart, leader-move`},
		{"outage without start", []string{"drill", "--outage", "10s"}, `--outage "10s": want LENGTH@START, for example 10s@8s`},
		{"outage with a bad length", []string{"drill", "--outage", "long@8s"}, `length "long" must be a positive Go duration`},
		{"crash-at with the memory queue", []string{"drill", "--crash-at", "5s", "--fallback", "memory"}, "--crash-at needs --fallback disk"},
		{"cut fault with brokers", []string{"drill", "--fault", "cut", "--brokers", "127.0.0.1:9092"}, "--fault cut needs the embedded cluster"},
		{"outage past the end", []string{"drill", "--duration", "5s", "--outage", "3s@4s"}, "ends at 7s, after --duration 5s"},
		{"unknown overflow policy", []string{"drill", "--overflow", "drop"}, `--overflow "drop": want block or reject`},
		{"unknown flag", []string{"drill", "--colour"}, "unknown flag: --colour"},
		{"bad duration value", []string{"drill", "--duration", "soon"}, `invalid argument "soon" for "--duration"`},
		{"stray argument", []string{"drill", "now"}, `unknown command "now" for "huleedu drill"`},
		{"report in a missing directory", []string{"drill", "--report-json", dir + "/no/such/dir/r.json"}, "--report-json " + dir + "/no/such/dir/r.json"},
		{"unknown command", []string{"serve-all"}, `unknown command "serve-all"`},
		{"unknown spool command", []string{"spool", "compact", dir}, `unknown spool command "compact"`},
		{"spool command without a directory", []string{"spool", "dump"}, "want exactly one spool directory"},
		{"redrive without brokers", []string{"spool", "redrive", dir}, "--brokers is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCleanUsageError(t, runCLI(t, nil, tt.args...), tt.want)
		})
	}
}

func TestUsageErrorPointsToTheCommandsHelp(t *testing.T) {
	r := runCLI(t, nil, "drill", "--rate", "fast")
	if !strings.Contains(r.stderr, "Run 'huleedu drill --help' for usage.") {
		t.Fatalf("stderr %q does not point to the drill's help", r.stderr)
	}
}

func TestHelpExitsZero(t *testing.T) {
	r := runCLI(t, nil, "drill", "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "--crash-at") || !strings.Contains(r.stdout, "--report-json") {
		t.Fatalf("drill --help: exit %d, stdout %q", r.code, r.stdout)
	}
}
