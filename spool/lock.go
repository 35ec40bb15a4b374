package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockedError reports that another holder has the spool directory. It
// wraps ErrLocked: errors.Is(err, ErrLocked) is true.
type LockedError struct {
	// Dir is the spool directory.
	Dir string
	// PID is the process holding the lock, or 0 when it could not be read
	// (the holder had not written it yet).
	PID int
}

// Error returns "spool: open <dir>: locked by pid <pid>".
func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("spool: open %s: locked by another process", e.Dir)
	}
	return fmt.Sprintf("spool: open %s: locked by pid %d", e.Dir, e.PID)
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Inspect probes the lock with a shared lock held for an instant (see
// lockHolder). A starting process that meets that probe retries for this
// long before it reports the directory as locked, so running an
// inspection never makes a service fail to start.
const (
	lockRetries       = 20
	lockRetryInterval = 5 * time.Millisecond
)

// fileLock is a held flock on an open lock file.
type fileLock struct{ f *os.File }

// Close releases the lock by closing the descriptor that holds it.
func (l *fileLock) Close() error { return l.f.Close() }

// lockFile takes an exclusive flock(2) on name and writes the caller's pid
// into it. flock locks belong to the open file description, so a second
// open in the same process conflicts exactly like another process does.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || attempt >= lockRetries {
			pid := readPID(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &LockedError{Dir: filepath.Dir(name), PID: pid}
			}
			return nil, fmt.Errorf("spool: lock %s: %w", name, err)
		}
		time.Sleep(lockRetryInterval)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: lock %s: %w", name, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: lock %s: %w", name, err)
	}
	return &fileLock{f: f}, nil
}

// lockHolder reports whether a process holds the lock file name and, when
// it does, its pid. It never creates or writes anything: it opens the file
// read-only and tries a shared, non-blocking flock which it drops at once.
func lockHolder(name string) (locked bool, pid int, err error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return false, 0, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return true, readPID(f), nil
	}
	return false, 0, err
}

// readPID reads the pid a lock holder wrote, or 0.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}
