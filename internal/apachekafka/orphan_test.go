package apachekafka

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/testwait"
)

// The orphan tests run a test binary (this one, re-executed with
// orphanEnv) that starts a cluster and then dies: by panicking, by
// Ctrl-C's SIGINT, or by SIGKILL. Every JVM it started must die with it.

const orphanEnv = "APACHEKAFKA_ORPHAN_TEST"

// orphanChild starts a one-node cluster, reports its directory and the
// JVMs' pids on stdout, and then panics (mode "panic") or waits to be
// signalled.
func orphanChild(mode string) {
	c, err := Start(context.Background(), Config{Nodes: 1})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	fmt.Println("DIR", c.Dir())
	pids := c.pids()
	fields := make([]string, len(pids))
	for i, p := range pids {
		fields[i] = strconv.Itoa(p)
	}
	fmt.Println("PIDS", strings.Join(fields, " "))
	if mode == "panic" {
		panic("apachekafka orphan test: a panic with the cluster running")
	}
	time.Sleep(time.Hour) // until the parent's signal
}

func TestNoJVMOutlivesItsParent(t *testing.T) {
	install(t)
	for _, end := range []string{"panic", "SIGINT", "SIGKILL"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), orphanEnv+"="+end)
			cmd.Stderr = nil // the panic's trace is expected; keep it out of the log
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pids, dir := readOrphan(t, out)
			t.Cleanup(func() {
				for _, p := range pids {
					_ = syscall.Kill(p, syscall.SIGKILL) // only if the test failed
				}
				os.RemoveAll(dir)
			})
			switch end {
			case "SIGINT":
				cmd.Process.Signal(syscall.SIGINT)
			case "SIGKILL":
				cmd.Process.Kill()
			}
			if err := cmd.Wait(); err == nil {
				t.Fatal("the child exited cleanly; it was meant to die")
			}
			testwait.For(t, 30*time.Second, fmt.Sprintf("JVMs %v to die with their parent (%s)", pids, end), func() bool {
				for _, p := range pids {
					if !processGone(p) {
						return false
					}
				}
				return true
			})
		})
	}
}

// readOrphan reads the child's report: the JVMs' pids and the cluster's
// directory.
func readOrphan(t *testing.T, out interface{ Read([]byte) (int, error) }) (pids []int, dir string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the child exited before it reported its JVMs")
			}
			f := strings.Fields(line)
			switch {
			case len(f) > 0 && f[0] == "ERR":
				t.Fatalf("child: %s", line)
			case len(f) == 2 && f[0] == "DIR":
				dir = f[1]
			case len(f) > 1 && f[0] == "PIDS":
				for _, s := range f[1:] {
					p, err := strconv.Atoi(s)
					if err != nil {
						t.Fatalf("child: %s", line)
					}
					pids = append(pids, p)
				}
				// The rest of the output (the panic) is drained by the
				// scanner goroutine until the pipe closes.
				go func() {
					for range lines {
					}
				}()
				return pids, dir
			}
		case <-deadline:
			t.Fatal("the child did not start its cluster within 3 minutes")
		}
	}
}
