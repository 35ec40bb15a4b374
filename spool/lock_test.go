package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
)

func TestSecondOpenInSameProcessFailsWithErrLocked(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, DiskOptions{})
	_, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenDisk = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("spool: open %s: locked by pid %d", dir, os.Getpid())
	if err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestOpenAfterCloseTakesTheLock(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, DiskOptions{})
}

// lockChild is the helper process of the lock tests: it opens the spool
// named by SPOOL_TEST_DIR, says READY, and holds it until stdin closes.
func lockChild() {
	d, err := OpenDisk(os.Getenv("SPOOL_TEST_DIR"), DiskOptions{Logger: quietLogger})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	d.Close()
}

// startLockHolder starts a child process holding the spool in dir and
// returns its pid and a function that makes it let go and waits for it.
func startLockHolder(t *testing.T, dir string) (pid int, release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=lock", "SPOOL_TEST_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			stdin.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(release)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "READY\n" {
		t.Fatalf("lock holder said %q, %v", line, err)
	}
	return cmd.Process.Pid, release
}

func TestOpenWhileAnotherProcessHoldsTheSpoolFailsWithErrLocked(t *testing.T) {
	dir := t.TempDir()
	pid, release := startLockHolder(t, dir)
	_, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("OpenDisk = %v, want a *LockedError", err)
	}
	if le.PID != pid || le.Dir != dir {
		t.Fatalf("LockedError = %+v, want pid %d and dir %s", le, pid, dir)
	}
	release()
	openTest(t, dir, DiskOptions{})
}
