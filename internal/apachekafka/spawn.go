package apachekafka

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Child processes must not outlive this one, whether it returns, panics,
// is interrupted or is killed. Three things see to it:
//
//   - every child is started in a process group of its own (Setpgid), so
//     a terminal's Ctrl-C reaches this process and not the JVMs (which
//     would otherwise run their shutdown hooks, a fault nobody asked
//     for), and Kill signals the whole group;
//   - every child has Pdeathsig SIGKILL: the kernel kills it when the
//     thread that started it exits, which a panic, a signal or os.Exit
//     makes happen at once;
//   - that thread is a goroutine's, locked to it (spawner), and the
//     goroutine lives while any child it started does. Go may otherwise
//     start a child from any thread, and a thread that Go retires (after
//     a locked goroutine of someone else's exits on it) would take the
//     child with it while this process runs on.

// spawnReq asks the spawner to start cmd.
type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawner starts child processes from one OS thread.
type spawner struct {
	// mu guards reqs and live.
	mu   sync.Mutex
	reqs chan spawnReq // nil while no spawner goroutine runs
	live int           // children started (or being started) and not yet reaped
}

var children spawner

// start starts cmd as a child that dies with this process (see above).
// The caller must call reaped once cmd.Wait has returned, and only then.
func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	s.mu.Lock()
	if s.reqs == nil {
		s.reqs = make(chan spawnReq)
		go spawnLoop(s.reqs)
	}
	s.live++
	reqs := s.reqs
	s.mu.Unlock()

	req := spawnReq{cmd: cmd, done: make(chan error, 1)}
	reqs <- req
	if err := <-req.done; err != nil {
		s.reaped()
		return err
	}
	return nil
}

// reaped records that a child started by start has exited and been
// waited for. The last one ends the spawner goroutine.
func (s *spawner) reaped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live--
	if s.live == 0 {
		close(s.reqs)
		s.reqs = nil
	}
}

// spawnLoop starts processes on its own OS thread until reqs is closed,
// which happens only when none of its children is alive. It never unlocks
// the thread: the runtime then ends the thread with the goroutine, which
// kills no one.
func spawnLoop(reqs chan spawnReq) {
	runtime.LockOSThread()
	for req := range reqs {
		req.done <- req.cmd.Start()
	}
}
