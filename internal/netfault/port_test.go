package netfault

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is an echo server standing in for a broker: it sends back every
// byte it receives and remembers how many it got.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	got   int
	conns []net.Conn
}

func startServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						s.mu.Lock()
						s.got += n
						s.mu.Unlock()
						c.Write(buf[:n])
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *server) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func listen(t *testing.T) *Port {
	t.Helper()
	p, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo writes msg on c and reads it back within timeout.
func echo(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

// freshEcho does one echo on a new connection.
func freshEcho(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	return echo(c, "ping", timeout)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}

func TestPortWithoutTargetResetsConnections(t *testing.T) {
	p := listen(t)
	if err := freshEcho(p.Addr(), 5*time.Second); !isReset(err) {
		t.Fatalf("connection to a port without a target: %v, want reset", err)
	}
}

func TestProxyForwardsBothWays(t *testing.T) {
	s := startServer(t)
	p := listen(t)
	p.ProxyTo(s.addr())
	c := dial(t, p.Addr())
	for _, msg := range []string{"hello", "world"} {
		if err := echo(c, msg, 5*time.Second); err != nil {
			t.Fatalf("echo %q through the proxy: %v", msg, err)
		}
	}
}

func TestProxyResetsClientsWhenTheServerIsDown(t *testing.T) {
	s := startServer(t)
	addr := s.addr()
	s.close() // nothing listens on addr now
	p := listen(t)
	p.ProxyTo(addr)
	if err := freshEcho(p.Addr(), 5*time.Second); !isReset(err) {
		t.Fatalf("connection proxied to a dead server: %v, want reset", err)
	}
}

// A server that answers and then closes (as Kafka does after a failed
// SASL handshake) must have its answer delivered, then a clean end.
func TestProxyDeliversTheLastBytesOfAServerThatCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(bytes.Repeat([]byte("x"), 64<<10))
		c.Close()
	}()
	p := listen(t)
	p.ProxyTo(ln.Addr().String())
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 64<<10 {
		t.Fatalf("read %d bytes, %v; want all 65536 and a clean end", len(got), err)
	}
	<-served
}

func TestCutResetsProxiedConnectionsAndNewOnesUntilPass(t *testing.T) {
	s := startServer(t)
	p := listen(t)
	p.ProxyTo(s.addr())
	open := dial(t, p.Addr())
	if err := echo(open, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if err := echo(open, "during", 5*time.Second); !isReset(err) {
		t.Errorf("open connection after Cut: %v, want reset", err)
	}
	if err := freshEcho(p.Addr(), 5*time.Second); !isReset(err) {
		t.Errorf("new connection during the cut: %v, want reset", err)
	}
	p.Pass()
	if err := freshEcho(p.Addr(), 5*time.Second); err != nil {
		t.Errorf("new connection after Pass: %v", err)
	}
}

func TestBlackholeHoldsBytesAndPassDropsThem(t *testing.T) {
	s := startServer(t)
	p := listen(t)
	p.ProxyTo(s.addr())
	open := dial(t, p.Addr())
	if err := echo(open, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := s.received()
	p.Blackhole()
	if err := echo(open, "held", 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("open connection in the blackhole: %v, want a timeout", err)
	}
	fresh := dial(t, p.Addr()) // accepted, then silent
	if err := echo(fresh, "held too", 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("new connection in the blackhole: %v, want a timeout", err)
	}
	p.Pass()
	open.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 64)); !isReset(err) {
		t.Errorf("blackholed connection after Pass: %v, want reset", err)
	}
	if err := freshEcho(p.Addr(), 5*time.Second); err != nil {
		t.Errorf("new connection after Pass: %v", err)
	}
	// Only "ping" of the last echo reached the server after "before".
	if got := s.received() - before; got != len("ping") {
		t.Errorf("the server received %d bytes after the blackhole began, want only the 4 of the last echo: held bytes were delivered", got)
	}
}

func TestSlowDelaysResponsesUntilPass(t *testing.T) {
	s := startServer(t)
	p := listen(t)
	p.ProxyTo(s.addr())
	c := dial(t, p.Addr())
	p.Slow(time.Minute)
	if err := echo(c, "slow", 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("response during the slowdown: %v, want a timeout", err)
	}
	p.Pass() // the held response goes out now
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "slow" {
		t.Fatalf("after Pass: %q, %v; want the delayed response", buf, err)
	}
}

func TestDetachResetsNewConnectionsAndKeepsOpenOnes(t *testing.T) {
	s := startServer(t)
	p := listen(t)
	p.ProxyTo(s.addr())
	open := dial(t, p.Addr())
	if err := echo(open, "a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Detach()
	if err := freshEcho(p.Addr(), 5*time.Second); !isReset(err) {
		t.Errorf("new connection after Detach: %v, want reset", err)
	}
	if err := echo(open, "b", 5*time.Second); err != nil {
		t.Errorf("open connection after Detach: %v", err)
	}
}

func TestAttachHandsConnectionsToTheListenerUntilItCloses(t *testing.T) {
	p := listen(t)
	l := p.Attach()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client := dial(t, p.Addr())
	select {
	case c := <-accepted:
		client.Write([]byte("x"))
		buf := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil || buf[0] != 'x' {
			t.Errorf("read through the attached listener: %q, %v", buf, err)
		}
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the attached listener got no connection")
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if err := freshEcho(p.Addr(), 5*time.Second); !isReset(err) {
		t.Errorf("connection after the listener closed: %v, want reset", err)
	}
}
