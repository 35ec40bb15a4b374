package testwait

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type fakeT struct{ failed string }

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f) // like t.Fatalf, it does not return
}

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	For(t, 10*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

func TestForFailsNamingWhatItWaitedFor(t *testing.T) {
	f := &fakeT{}
	func() {
		defer func() { _ = recover() }()
		For(f, 5*time.Millisecond, "the impossible", func() bool { return false })
	}()
	if !strings.Contains(f.failed, "waiting for the impossible") || !strings.Contains(f.failed, "5ms") {
		t.Fatalf("failure message %q, want it to name what was awaited and the timeout", f.failed)
	}
}
