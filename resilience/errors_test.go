package resilience

import (
	"context"
	"errors"
	"testing"
)

func TestHalfOpenRejectionMatchesErrTooManyProbes(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{})
	p, err := cb.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Report(nil)
	_, err = call(cb, nil)
	if !errors.Is(err, ErrTooManyProbes) || !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("half-open rejection %v: want both ErrTooManyProbes and ErrCircuitOpen", err)
	}
}

func TestOpenRejectionDoesNotMatchErrTooManyProbes(t *testing.T) {
	cb, _ := openBreaker(t, Settings{})
	_, err := call(cb, nil)
	if !errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrTooManyProbes) {
		t.Fatalf("open rejection %v: want ErrCircuitOpen only", err)
	}
	cb.ForceOpen()
	if _, err := call(cb, nil); errors.Is(err, ErrTooManyProbes) {
		t.Fatalf("forced-open rejection %v matches ErrTooManyProbes", err)
	}
}
