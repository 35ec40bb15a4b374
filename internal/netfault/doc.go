// Package netfault puts a fault layer between Kafka clients and the
// brokers they talk to: a loopback TCP port per broker whose connections
// can be cut, blackholed or slowed, as a failing network would. The
// embedded kfake cluster (package embeddedkafka) and the Apache Kafka
// launcher (package apachekafka) share it.
//
// A Port is a TCP listener that lives as long as its owner. What it does
// with the connections it accepts depends on its target:
//
//   - Attach returns a net.Listener that receives them, for a server that
//     runs in the same process (kfake's ListenFn);
//   - ProxyTo forwards them to a server's own address, for a server in
//     another process (a broker JVM whose advertised listener is the
//     Port's address, so clients reach it only through the Port);
//   - with no target (Detach, or before either call) every accepted
//     connection is reset at once: the server is down.
//
// A Port's mode decides what its connections experience:
//
//	pass       bytes flow unchanged
//	cut        every open connection is reset (SO_LINGER 0, so the client
//	           sees ECONNRESET), and new ones are reset right after accept
//	blackhole  connections stay open but no byte moves in either direction;
//	           new connections are accepted and then hang the same way
//	slow       every write to the client (a response) waits for a delay
//
// Pass after a blackhole resets the connections that were blackholed and
// drops the bytes they held, as a firewall that lost its state would: a
// request a client gave up on is never delivered late. Pass after a cut
// or a slowdown leaves the connections that survived alone.
//
// Usage:
//
//	p, err := netfault.Listen()
//	if err != nil { return err }
//	defer p.Close()
//	p.ProxyTo("127.0.0.1:19092") // the broker's own listener
//	// clients dial p.Addr()
//	p.Cut()  // every connection reset, new ones too
//	p.Pass() // healthy again
package netfault
