package apachekafka

import (
	"context"
	"fmt"
	"syscall"
)

// The node controls below act on one node at once and leave the rest to
// the caller; Fault and Heal are built from them. They do not change
// Active, and Heal after them restores every node all the same.

// Kill SIGKILLs node id (a broker, or the dedicated controller, id
// Nodes) and waits until the process is gone. Killing a dead node is a
// no-op.
func (c *Cluster) Kill(id int32) error { return c.kill(id) }

// kill kills every node of ids at once, then waits for each.
func (c *Cluster) kill(ids ...int32) error {
	ns, err := c.nodesByID(ids)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for _, n := range ns {
		if n.proc != nil {
			n.proc.kill()
		}
	}
	for _, n := range ns {
		if err := c.killNode(n); err != nil {
			return err
		}
	}
	return nil
}

// Restart starts node id again on its data if it is down, and waits until
// the cluster is healthy again (see WaitHealthy).
func (c *Cluster) Restart(ctx context.Context, id int32) error {
	ns, err := c.nodesByID([]int32{id})
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !ns[0].running() {
		err = c.startNode(ns[0])
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// Pause SIGSTOPs node id: a hung process, whose sockets still accept and
// buffer what they are sent.
func (c *Cluster) Pause(id int32) error { return c.stopCont(id, true) }

// Resume SIGCONTs a node Pause stopped.
func (c *Cluster) Resume(id int32) error { return c.stopCont(id, false) }

func (c *Cluster) stopCont(id int32, stop bool) error {
	ns, err := c.nodesByID([]int32{id})
	if err != nil {
		return err
	}
	n := ns[0]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if !n.running() {
		return fmt.Errorf("apachekafka: %s is not running", n.name())
	}
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	if err := n.proc.signal(sig); err != nil {
		return fmt.Errorf("apachekafka: %v to %s: %w", sig, n.name(), err)
	}
	n.paused = stop
	c.log.Info("kafka node "+map[bool]string{true: "stopped", false: "continued"}[stop], "node", n.id)
	return nil
}

func (c *Cluster) nodesByID(ids []int32) ([]*node, error) {
	ns := make([]*node, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= len(c.all) {
			return nil, fmt.Errorf("apachekafka: no node %d: the nodes are 0 to %d", id, len(c.all)-1)
		}
		ns[i] = c.all[id]
	}
	return ns, nil
}
