package netfault

import (
	"context"
	"net"
	"sync"
	"time"
)

// Concurrency: Port.mu guards mode, delay, change, target and conns. A
// conn's Read and Write never hold it while they block: they take a
// snapshot of the mode and its change channel and wait on that channel,
// which is closed whenever the mode changes.

type mode int

const (
	modePass mode = iota
	modeCut
	modeBlackhole
	modeSlow
)

// Port is a loopback TCP listener with a fault layer; see the package
// documentation. It is safe for concurrent use.
type Port struct {
	ln   net.Listener
	done chan struct{} // closed when acceptLoop has returned

	// ctx ends with Close: it cancels proxy dials in progress.
	ctx    context.Context
	cancel context.CancelFunc
	// proxies counts proxy goroutines; Close waits for them.
	proxies sync.WaitGroup

	mu     sync.Mutex
	mode   mode
	delay  time.Duration
	change chan struct{} // closed and replaced on every mode change
	target target        // nil: the server is down, connections are reset
	conns  map[*conn]struct{}
}

// target takes the connections a Port accepts.
type target interface {
	// take hands c over, or reports false when the target is gone (c
	// is then reset). It is called without Port.mu held.
	take(c *conn) bool
}

// Listen opens a Port on a free loopback port (127.0.0.1:0). It has no
// target yet: until Attach or ProxyTo, it resets every connection.
func Listen() (*Port, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Port{
		ln:     ln,
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		change: make(chan struct{}),
		conns:  make(map[*conn]struct{}),
	}
	go p.acceptLoop()
	return p, nil
}

// Addr returns the Port's address, 127.0.0.1:port. It never changes.
func (p *Port) Addr() string { return p.ln.Addr().String() }

func (p *Port) acceptLoop() {
	defer close(p.done)
	for {
		raw, err := p.ln.Accept()
		if err != nil {
			// The listener is closed only by Close; any other accept
			// error on a loopback listener is as fatal.
			return
		}
		p.mu.Lock()
		t := p.target
		if t == nil || p.mode == modeCut {
			p.mu.Unlock()
			reset(raw)
			continue
		}
		c := &conn{Conn: raw, p: p, closed: make(chan struct{})}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		if !t.take(c) {
			c.reset()
		}
	}
}

// setTarget makes t the target of new connections. Connections already
// handed over stay where they are.
func (p *Port) setTarget(t target) {
	p.mu.Lock()
	p.target = t
	p.mu.Unlock()
}

// clearTarget removes t if it is still the target.
func (p *Port) clearTarget(t target) {
	p.mu.Lock()
	if p.target == t {
		p.target = nil
	}
	p.mu.Unlock()
}

// Detach removes the target: from now on every new connection is reset,
// as by a server that is down. Open connections stay.
func (p *Port) Detach() { p.setTarget(nil) }

// Cut resets every open connection and every new one until Pass.
func (p *Port) Cut() { p.transition(modeCut, 0, true) }

// Blackhole holds every byte of every connection, open and new, in both
// directions, until Pass, which resets those connections and drops what
// they held.
func (p *Port) Blackhole() { p.transition(modeBlackhole, 0, false) }

// Slow delays every write to a client (every response) by d until Pass.
// d must be > 0.
func (p *Port) Slow(d time.Duration) { p.transition(modeSlow, d, false) }

// Pass ends a fault: bytes flow again. After a blackhole, the connections
// it held are reset first, so bytes held in them are never delivered.
func (p *Port) Pass() {
	p.mu.Lock()
	drop := p.mode == modeBlackhole
	p.mu.Unlock()
	p.transition(modePass, 0, drop)
}

// DropAll resets every open connection and keeps the mode.
func (p *Port) DropAll() {
	p.mu.Lock()
	m, d := p.mode, p.delay
	p.mu.Unlock()
	p.transition(m, d, true)
}

// transition switches the port to mode m. With drop, every open
// connection is reset, and marked closed before the mode changes, so that
// a Read or Write waiting on the old mode returns an error instead of
// letting bytes through: bytes held by a blackhole are never delivered.
func (p *Port) transition(m mode, delay time.Duration, drop bool) {
	var victims []*conn
	p.mu.Lock()
	if drop {
		victims = make([]*conn, 0, len(p.conns))
		for c := range p.conns {
			// Linger 0 before waking the server: it closes the
			// connection as soon as its Read fails, and that close
			// must be a reset too, not a FIN.
			setLingerZero(c.Conn)
			c.shut()
			victims = append(victims, c)
		}
		clear(p.conns)
	}
	p.mode, p.delay = m, delay
	close(p.change)
	p.change = make(chan struct{})
	p.mu.Unlock()
	for _, c := range victims {
		reset(c.Conn)
	}
}

// Close stops accepting, resets every connection and waits for the
// proxy goroutines to end. The address is released.
func (p *Port) Close() {
	p.ln.Close()
	<-p.done
	p.cancel()
	p.setTarget(nil)
	p.transition(modePass, 0, true)
	p.proxies.Wait()
}

// wait blocks while the port's mode holds back this direction of c's
// traffic: reads and writes while blackholed, writes for the delay while
// slow. It returns net.ErrClosed once c is closed.
func (p *Port) wait(c *conn, write bool) error {
	for {
		p.mu.Lock()
		m, delay, change := p.mode, p.delay, p.change
		p.mu.Unlock()
		select {
		case <-c.closed:
			return net.ErrClosed
		default:
		}
		switch {
		case m == modeBlackhole:
			select {
			case <-change:
			case <-c.closed:
				return net.ErrClosed
			}
		case m == modeSlow && write:
			t := time.NewTimer(delay)
			select {
			case <-t.C:
				return nil
			case <-change:
				t.Stop()
			case <-c.closed:
				t.Stop()
				return net.ErrClosed
			}
		default:
			return nil
		}
	}
}

// conn is the server side of one client connection.
type conn struct {
	net.Conn
	p      *Port
	once   sync.Once
	closed chan struct{}
}

// Read passes the client's bytes on unless the port holds them. It waits
// before reading, so a blackhole leaves the bytes in the socket, and
// again after, so bytes that arrived as a blackhole began are held too.
func (c *conn) Read(b []byte) (int, error) {
	if err := c.p.wait(c, false); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		if werr := c.p.wait(c, false); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

// Write passes a response to the client once the port's mode allows it.
func (c *conn) Write(b []byte) (int, error) {
	if err := c.p.wait(c, true); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// Close closes the connection and forgets it.
func (c *conn) Close() error {
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
	c.shut()
	return c.Conn.Close()
}

// shut wakes every Read and Write waiting on the port's mode; they return
// net.ErrClosed.
func (c *conn) shut() { c.once.Do(func() { close(c.closed) }) }

// reset closes c so that the client sees a connection reset, not a clean
// end of stream: what a crashed server or a cut cable gives.
func (c *conn) reset() {
	setLingerZero(c.Conn)
	c.Close()
}

// reset closes a connection with SO_LINGER 0, which makes the kernel send
// RST instead of FIN.
func reset(nc net.Conn) {
	setLingerZero(nc)
	nc.Close()
}

func setLingerZero(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}
