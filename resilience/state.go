package resilience

import "fmt"

// State is the state of a circuit breaker.
//
// The numeric values are part of the contract: they are exported as the
// circuit_breaker_state gauge (0 closed, 1 open, 2 half-open).
type State int32

const (
	// StateClosed lets every call through and counts the outcomes.
	StateClosed State = 0
	// StateOpen rejects every call with ErrCircuitOpen until the recovery
	// timeout has passed.
	StateOpen State = 1
	// StateHalfOpen lets a limited number of probe calls through; their
	// outcomes decide whether the circuit closes or opens again.
	StateHalfOpen State = 2
)

// String returns "closed", "open" or "half_open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	default:
		return fmt.Sprintf("State(%d)", int32(s))
	}
}

// ParseState is the inverse of String.
func ParseState(s string) (State, error) {
	switch s {
	case "closed":
		return StateClosed, nil
	case "open":
		return StateOpen, nil
	case "half_open":
		return StateHalfOpen, nil
	}
	return 0, fmt.Errorf("resilience: unknown state %q (want closed, open or half_open)", s)
}

// MarshalText encodes the state as its String form, so JSON shows "open"
// rather than 1.
func (s State) MarshalText() ([]byte, error) {
	if s < StateClosed || s > StateHalfOpen {
		return nil, fmt.Errorf("resilience: cannot marshal invalid state %d", int32(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes the String form.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
