package promtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long Prometheus gets to exit after SIGTERM before it is
// killed. It flushes its head block on the way out; in a temp dir with a
// few seconds of data that takes well under a second.
const stopGrace = 10 * time.Second

// portAttempts bounds the retries when another process takes the free port
// between our probe and Prometheus's bind.
const portAttempts = 3

// Server is a running Prometheus. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT, for requests
	// the helpers do not cover.
	URL string

	cfg     Config
	client  *http.Client
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result; read after exited is closed
	logPath string
}

// Start runs Prometheus as cfg describes and returns once it is ready. It
// stops the server in t.Cleanup. A missing prometheus binary skips the test,
// or fails it in CI (see the package documentation); any other problem
// fails the test with Prometheus's log.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin, err := findBinary(cfg.Binary)
	if err != nil {
		if fail, msg := missingBinary(os.Getenv("CI"), err); fail {
			t.Fatal(msg)
		} else {
			t.Skip(msg)
		}
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	configPath, err := cfg.writeFiles(dir)
	if err != nil {
		t.Fatal(err)
	}

	for attempt := 1; ; attempt++ {
		s, err := launch(bin, cfg, dir, configPath, attempt)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			t.Fatalf("promtest: %v\n%s", err, readLog(s.logPath))
		}
	}
}

// errPortTaken marks a start that failed because the port was taken.
var errPortTaken = errors.New("listen address already in use")

// launch starts one Prometheus process and waits until it is ready. On
// error the process has exited or been killed, and s.logPath is its log.
func launch(bin string, cfg Config, dir, configPath string, attempt int) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return &Server{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &Server{
		URL:     "http://" + addr,
		cfg:     cfg,
		client:  &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		exited:  make(chan struct{}),
		logPath: filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt)),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return s, err
	}
	// The process writes to the file directly, so no copying goroutine
	// outlives it.
	defer logFile.Close()

	s.cmd = exec.Command(bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
		"--web.listen-address="+addr,
	)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		return s, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		s.client.CloseIdleConnections()
		if bytes.Contains([]byte(readLog(s.logPath)), []byte("address already in use")) {
			return s, fmt.Errorf("%s: %w", addr, errPortTaken)
		}
		return s, err
	}
	return s, nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before Prometheus binds it; Start retries when that happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /-/ready until it answers 200, the process exits, or ctx
// ends.
func (s *Server) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := s.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/-/ready answered %s", resp.Status)
		}
		last = err
		select {
		case <-s.exited:
			return fmt.Errorf("prometheus exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready within %v: %w", s.cfg.StartTimeout, last)
		case <-tick.C:
		}
	}
}

// stop ends the process (SIGTERM, then SIGKILL after stopGrace), closes
// idle client connections, and prints the log if the test failed.
func (s *Server) stop(t testing.TB) {
	defer s.client.CloseIdleConnections()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("promtest: stop prometheus: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
		t.Errorf("promtest: prometheus did not exit %v after SIGTERM; killing it", stopGrace)
		s.kill()
	}
	if t.Failed() {
		t.Logf("promtest: prometheus log (%s):\n%s", s.logPath, readLog(s.logPath))
	}
}

// kill ends the process at once and waits for it.
func (s *Server) kill() {
	_ = s.cmd.Process.Kill() // an already exited process is fine
	<-s.exited
}

// readLog returns the last 8 KiB of a log file, or why it cannot.
func readLog(path string) string {
	if path == "" {
		return "(no log)"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	const keep = 8 << 10
	if len(b) > keep {
		b = append([]byte("...\n"), b[len(b)-keep:]...)
	}
	return string(b)
}
