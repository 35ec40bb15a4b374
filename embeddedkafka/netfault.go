package embeddedkafka

import (
	"net"
	"sync"
	"time"
)

// The network fault layer. Every broker has a port: a real TCP listener
// that lives as long as the Cluster, across kfake restarts. kfake does not
// listen itself; through kfake.ListenFn it gets a portListener whose Accept
// hands over connections that the port accepted and wrapped in a faultConn.
// The addresses kfake advertises in metadata are the ports' addresses, so
// every client connection, bootstrap or not, runs through this layer.
//
// A port's mode decides what its connections experience:
//
//	pass       bytes flow unchanged
//	cut        every open connection is reset (SO_LINGER 0, so the client
//	           sees ECONNRESET), and new ones are reset right after accept
//	blackhole  connections stay open but no byte moves in either direction;
//	           new connections are accepted and then hang the same way
//	slow       every write to the client (a response) waits for the delay
//
// A port without a kfake listener attached (during a restart fault) resets
// every connection it accepts: the broker is down.
//
// Concurrency: port.mu guards mode, delay, change, target and conns. A
// faultConn's Read and Write never hold it while blocking: they take a
// snapshot of the mode and its change channel, and wait on that channel,
// which is closed whenever the mode changes.

type mode int

const (
	modePass mode = iota
	modeCut
	modeBlackhole
	modeSlow
)

type port struct {
	ln   net.Listener
	done chan struct{} // closed when acceptLoop has returned

	mu     sync.Mutex
	mode   mode
	delay  time.Duration
	change chan struct{} // closed and replaced on every mode change
	target *portListener // nil while kfake is down
	conns  map[*faultConn]struct{}
}

func newPort() (*port, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &port{
		ln:     ln,
		done:   make(chan struct{}),
		change: make(chan struct{}),
		conns:  make(map[*faultConn]struct{}),
	}
	go p.acceptLoop()
	return p, nil
}

func (p *port) addr() string { return p.ln.Addr().String() }

func (p *port) acceptLoop() {
	defer close(p.done)
	for {
		raw, err := p.ln.Accept()
		if err != nil {
			// The listener is closed only by port.close; any other
			// accept error on a loopback listener is as fatal.
			return
		}
		p.mu.Lock()
		target := p.target
		if target == nil || p.mode == modeCut {
			p.mu.Unlock()
			reset(raw)
			continue
		}
		c := &faultConn{Conn: raw, p: p, closed: make(chan struct{})}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		select {
		case target.ch <- c:
		case <-target.closed:
			c.reset()
		}
	}
}

// attach returns a new listener for kfake to accept from.
func (p *port) attach() *portListener {
	l := &portListener{p: p, ch: make(chan net.Conn), closed: make(chan struct{})}
	p.mu.Lock()
	p.target = l
	p.mu.Unlock()
	return l
}

func (p *port) detach(l *portListener) {
	p.mu.Lock()
	if p.target == l {
		p.target = nil
	}
	p.mu.Unlock()
}

// transition switches the port to mode m. With drop, every open
// connection is reset, and marked closed before the mode changes, so that
// a Read or Write waiting on the old mode returns an error instead of
// letting bytes through: bytes held by a blackhole are never delivered.
func (p *port) transition(m mode, delay time.Duration, drop bool) {
	var victims []*faultConn
	p.mu.Lock()
	if drop {
		victims = make([]*faultConn, 0, len(p.conns))
		for c := range p.conns {
			// Linger 0 before waking kfake: kfake closes the
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

// dropAll resets every open connection and keeps the mode.
func (p *port) dropAll() {
	p.mu.Lock()
	m, d := p.mode, p.delay
	p.mu.Unlock()
	p.transition(m, d, true)
}

// close stops accepting and resets every connection.
func (p *port) close() {
	p.ln.Close()
	<-p.done
	p.transition(modePass, 0, true)
}

// wait blocks while the port's mode holds back this direction of c's
// traffic: reads and writes while blackholed, writes for the delay while
// slow. It returns net.ErrClosed once c is closed.
func (p *port) wait(c *faultConn, write bool) error {
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

// portListener is the net.Listener kfake accepts from.
type portListener struct {
	p      *port
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *portListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close detaches the listener from its port. The port's TCP listener stays
// open, so a restarted kfake gets the same address.
func (l *portListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.p.detach(l)
	})
	return nil
}

func (l *portListener) Addr() net.Addr { return l.p.ln.Addr() }

// faultConn is the broker side of one client connection.
type faultConn struct {
	net.Conn
	p      *port
	once   sync.Once
	closed chan struct{}
}

// Read passes bytes to kfake unless the port holds them. It waits before
// reading, so a blackhole leaves the bytes in the socket, and again after,
// so bytes that arrived as a blackhole began are held too.
func (c *faultConn) Read(b []byte) (int, error) {
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

// Write passes a response to the client after the port's mode allows it.
func (c *faultConn) Write(b []byte) (int, error) {
	if err := c.p.wait(c, true); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// Close closes the connection; kfake calls it when it is done with one.
func (c *faultConn) Close() error {
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
	c.shut()
	return c.Conn.Close()
}

// shut wakes every Read and Write waiting on the port's mode; they return
// net.ErrClosed.
func (c *faultConn) shut() { c.once.Do(func() { close(c.closed) }) }

// reset closes c so that the client sees a connection reset, not a clean
// end of stream: what a crashed broker or a cut cable gives.
func (c *faultConn) reset() {
	setLingerZero(c.Conn)
	c.Close()
}

// reset closes a connection with SO_LINGER 0, which makes the kernel send
// RST instead of FIN.
func reset(conn net.Conn) {
	setLingerZero(conn)
	conn.Close()
}

func setLingerZero(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}
