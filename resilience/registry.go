package resilience

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ErrDuplicateName is wrapped by Register and Create when the registry
// already holds a breaker of that name.
var ErrDuplicateName = errors.New("resilience: duplicate breaker name")

// Registry is a set of breakers with unique names: the place operators
// (Handler), metrics collectors (Snapshots) and listeners (Subscribe) find
// every breaker of a process. It is safe for concurrent use.
type Registry struct {
	defaults Settings

	mu        sync.RWMutex
	breakers  map[string]*CircuitBreaker
	listeners []*listener // copy-on-write
}

// NewRegistry returns an empty registry. defaults (Name ignored) are the
// settings GetOrCreate uses for breakers it creates; they are validated
// then, so invalid defaults surface as GetOrCreate errors.
func NewRegistry(defaults Settings) *Registry {
	defaults.Name = ""
	return &Registry{defaults: defaults, breakers: make(map[string]*CircuitBreaker)}
}

// Register adds cb. It fails with an error wrapping ErrDuplicateName if the
// name is taken, and rejects a nil breaker or a zero CircuitBreaker (the
// only way to have one without a name).
func (r *Registry) Register(cb *CircuitBreaker) error {
	if cb == nil {
		return errors.New("resilience: Registry.Register: nil breaker")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registerLocked(cb)
}

func (r *Registry) registerLocked(cb *CircuitBreaker) error {
	name := cb.Name()
	if name == "" {
		return errors.New("resilience: Registry.Register: breaker has an empty name")
	}
	if _, ok := r.breakers[name]; ok {
		return fmt.Errorf("%w: %q is already registered", ErrDuplicateName, name)
	}
	r.breakers[name] = cb
	// One subscription per breaker fans out to the registry's listeners,
	// so Subscribe covers breakers registered later too. Lock order is
	// r.mu then cb.mu; the breaker never calls into the registry with its
	// own lock held.
	cb.Subscribe(r.dispatch)
	return nil
}

// Create builds a breaker from s and registers it. Invalid settings,
// including an empty Name, fail exactly as in NewCircuitBreaker.
func (r *Registry) Create(s Settings) (*CircuitBreaker, error) {
	cb, err := NewCircuitBreaker(s)
	if err != nil {
		return nil, err
	}
	if err := r.Register(cb); err != nil {
		return nil, err
	}
	return cb, nil
}

// Get returns the breaker named name.
func (r *Registry) Get(name string) (*CircuitBreaker, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	cb, ok := r.breakers[name]
	return cb, ok
}

// GetOrCreate returns the breaker named name, creating it from the
// registry's defaults if there is none. Concurrent calls for one name get
// the same breaker. An empty name fails as Settings.Name does in
// NewCircuitBreaker.
func (r *Registry) GetOrCreate(name string) (*CircuitBreaker, error) {
	if cb, ok := r.Get(name); ok {
		return cb, nil
	}
	s := r.defaults
	s.Name = name
	cb, err := NewCircuitBreaker(s)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if existing, ok := r.breakers[name]; ok {
		return existing, nil
	}
	if err := r.registerLocked(cb); err != nil {
		return nil, err
	}
	return cb, nil
}

// All returns the registered breakers sorted by name.
func (r *Registry) All() []*CircuitBreaker {
	r.mu.RLock()
	all := make([]*CircuitBreaker, 0, len(r.breakers))
	for _, cb := range r.breakers {
		all = append(all, cb)
	}
	r.mu.RUnlock()
	slices.SortFunc(all, func(a, b *CircuitBreaker) int { return strings.Compare(a.Name(), b.Name()) })
	return all
}

// States returns every breaker's current state by name.
func (r *Registry) States() map[string]State {
	states := make(map[string]State)
	for _, cb := range r.All() {
		states[cb.Name()] = cb.State()
	}
	return states
}

// Snapshots returns every breaker's snapshot, sorted by name.
func (r *Registry) Snapshots() []Snapshot {
	all := r.All()
	snaps := make([]Snapshot, len(all))
	for i, cb := range all {
		snaps[i] = cb.Snapshot()
	}
	return snaps
}

// ResetAll resets every breaker.
func (r *Registry) ResetAll() {
	for _, cb := range r.All() {
		cb.Reset()
	}
}

// Subscribe registers fn for the state transitions of every breaker in the
// registry, present and future, with the guarantees of
// CircuitBreaker.Subscribe (per breaker, fn sees transitions in order).
func (r *Registry) Subscribe(fn func(name string, from, to State)) (cancel func()) {
	return subscribe(&r.mu, &r.listeners, fn)
}

func (r *Registry) dispatch(name string, from, to State) {
	r.mu.RLock()
	ls := r.listeners
	r.mu.RUnlock()
	for _, l := range ls {
		if l.active.Load() {
			l.fn(name, from, to)
		}
	}
}

// Handler serves the registry for operators: GET returns
// {"breakers":[Snapshot...]} as JSON, sorted by name; other methods get 405.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := json.Marshal(struct {
			Breakers []Snapshot `json:"breakers"`
		}{r.Snapshots()})
		if err != nil {
			http.Error(w, "resilience: encoding snapshots: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(body, '\n'))
	})
}
