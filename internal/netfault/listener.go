package netfault

import (
	"net"
	"sync"
)

// Attach returns a listener that receives the connections p accepts from
// now on, for a server in this process. Closing it detaches it (new
// connections are then reset) and leaves p open, so a server restarted
// on a new Attach keeps p's address.
func (p *Port) Attach() net.Listener {
	l := &listener{p: p, ch: make(chan net.Conn), closed: make(chan struct{})}
	p.setTarget(l)
	return l
}

// listener is the net.Listener Attach returns.
type listener struct {
	p      *Port
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *listener) take(c *conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close detaches the listener from its port. The port's TCP listener stays
// open.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.p.clearTarget(l)
	})
	return nil
}

func (l *listener) Addr() net.Addr { return l.p.ln.Addr() }
