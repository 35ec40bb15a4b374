package netfault

import (
	"io"
	"net"
	"time"
)

// dialTimeout bounds the proxy's dial of the server. The server is on
// loopback: a dial either connects or is refused at once, unless the
// server is hung with a full accept backlog, and then the client's own
// timeouts should decide, not the proxy's.
const dialTimeout = 30 * time.Second

// ProxyTo forwards every connection p accepts from now on to addr, a
// server's own listener: the client's bytes go through p's fault layer to
// addr, the server's back. A connection the server refuses or resets is
// reset for the client too; one it closes cleanly is closed cleanly, after
// every byte the server sent.
func (p *Port) ProxyTo(addr string) { p.setTarget(&proxy{p: p, addr: addr}) }

type proxy struct {
	p    *Port
	addr string
}

func (x *proxy) take(c *conn) bool {
	x.p.proxies.Add(1)
	go x.serve(c)
	return true
}

// serve copies between the client connection c and a new connection to
// the server until either side ends, then ends the other.
func (x *proxy) serve(c *conn) {
	defer x.p.proxies.Done()
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(x.p.ctx, "tcp", x.addr)
	if err != nil {
		c.reset()
		return
	}
	down := make(chan struct{})
	go func() { // server → client
		defer close(down)
		_, err := io.Copy(onlyWriter{c}, onlyReader{up})
		if err == nil {
			c.Close() // the server closed cleanly: so does the client's end
		} else {
			c.reset()
		}
		up.Close()
	}()
	// client → server
	_, err = io.Copy(onlyWriter{up}, onlyReader{c})
	if err == nil {
		up.Close() // the client closed cleanly
	} else {
		reset(up)
	}
	<-down
}

// onlyReader and onlyWriter hide a connection's ReadFrom and WriteTo, so
// io.Copy goes through conn's Read and Write, where the faults are.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }
