package resilience

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegistryRegisterRejectsDuplicateName(t *testing.T) {
	r := NewRegistry(Settings{})
	if _, err := r.Create(Settings{Name: "kafka"}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Create(Settings{Name: "kafka"})
	if !errors.Is(err, ErrDuplicateName) || !strings.Contains(err.Error(), `"kafka"`) {
		t.Fatalf("second Create = %v, want ErrDuplicateName naming kafka", err)
	}
}

func TestRegistryRegisterRejectsNilAndUnnamed(t *testing.T) {
	r := NewRegistry(Settings{})
	if err := r.Register(nil); err == nil {
		t.Fatal("Register(nil) succeeded")
	}
	// NewCircuitBreaker cannot build an unnamed breaker; a zero value is
	// the only way to get one.
	if err := r.Register(&CircuitBreaker{}); err == nil || !strings.Contains(err.Error(), "empty name") {
		t.Fatalf("Register(unnamed) = %v", err)
	}
}

// Issue 21: NewCircuitBreaker used to accept an empty Name that
// Registry.Create rejected. Every constructor now applies one rule, with
// one error.
func TestEmptyNameIsRejectedAlikeByEveryConstructor(t *testing.T) {
	_, want := NewCircuitBreaker(Settings{})
	var se *SettingsError
	if !errors.As(want, &se) || se.Field != "Name" {
		t.Fatalf("NewCircuitBreaker(Settings{}) = %v, want a *SettingsError for Name", want)
	}
	r := NewRegistry(Settings{})
	_, errCreate := r.Create(Settings{})
	_, errGetOrCreate := r.GetOrCreate("")
	for _, err := range []error{errCreate, errGetOrCreate} {
		if !errors.Is(err, ErrInvalidSettings) || err.Error() != want.Error() {
			t.Errorf("registry error %v, want %v", err, want)
		}
	}
	if n := len(r.All()); n != 0 {
		t.Fatalf("registry holds %d breakers after rejecting them", n)
	}
}

func TestRegistryCreateReportsInvalidSettings(t *testing.T) {
	r := NewRegistry(Settings{})
	if _, err := r.Create(Settings{Name: "x", FailureThreshold: -1}); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("Create = %v", err)
	}
	if _, ok := r.Get("x"); ok {
		t.Fatal("invalid breaker was registered")
	}
}

func TestRegistryGetOrCreateUsesDefaults(t *testing.T) {
	r := NewRegistry(Settings{Name: "ignored", FailureThreshold: 7, RecoveryTimeout: time.Second})
	cb, err := r.GetOrCreate("essays")
	if err != nil {
		t.Fatal(err)
	}
	if s := cb.Settings(); s.Name != "essays" || s.FailureThreshold != 7 || s.RecoveryTimeout != time.Second {
		t.Fatalf("settings %+v, want the registry defaults under the new name", s)
	}
	again, err := r.GetOrCreate("essays")
	if err != nil || again != cb {
		t.Fatalf("second GetOrCreate returned %p, %v; want the same breaker %p", again, err, cb)
	}
	if got, ok := r.Get("essays"); !ok || got != cb {
		t.Fatal("Get does not find the created breaker")
	}
}

func TestRegistryGetOrCreateReportsInvalidDefaults(t *testing.T) {
	r := NewRegistry(Settings{SuccessThreshold: -1})
	if _, err := r.GetOrCreate("x"); !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("GetOrCreate = %v, want the settings error", err)
	}
}

func TestRegistryGetOrCreateIsSafeForConcurrentUse(t *testing.T) {
	r := NewRegistry(Settings{})
	var wg sync.WaitGroup
	got := make([]*CircuitBreaker, 8)
	for i := range got {
		wg.Go(func() {
			cb, err := r.GetOrCreate("shared")
			if err != nil {
				t.Error(err)
			}
			got[i] = cb
		})
	}
	wg.Wait()
	for _, cb := range got {
		if cb != got[0] {
			t.Fatal("concurrent GetOrCreate returned different breakers")
		}
	}
}

func TestRegistryListsBreakersSortedByName(t *testing.T) {
	r := NewRegistry(Settings{})
	for _, n := range []string{"spellchecker", "kafka", "essays"} {
		if _, err := r.GetOrCreate(n); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, cb := range r.All() {
		names = append(names, cb.Name())
	}
	var snapNames []string
	for _, s := range r.Snapshots() {
		snapNames = append(snapNames, s.Name)
	}
	want := []string{"essays", "kafka", "spellchecker"}
	if !slices.Equal(names, want) || !slices.Equal(snapNames, want) {
		t.Fatalf("All: %v, Snapshots: %v; want %v", names, snapNames, want)
	}
}

func TestRegistryStatesAndResetAll(t *testing.T) {
	r := NewRegistry(Settings{})
	a, _ := r.GetOrCreate("a")
	b, _ := r.GetOrCreate("b")
	a.ForceOpen()
	if got := r.States(); got["a"] != StateOpen || got["b"] != StateClosed || len(got) != 2 {
		t.Fatalf("States() = %v", got)
	}
	b.ForceOpen()
	r.ResetAll()
	if got := r.States(); got["a"] != StateClosed || got["b"] != StateClosed {
		t.Fatalf("States() after ResetAll = %v", got)
	}
}

func TestRegistrySubscribeCoversCurrentAndFutureBreakers(t *testing.T) {
	r := NewRegistry(Settings{})
	before, _ := r.GetOrCreate("before")
	type event struct {
		name     string
		from, to State
	}
	var mu sync.Mutex
	var got []event
	cancel := r.Subscribe(func(name string, from, to State) {
		mu.Lock()
		got = append(got, event{name, from, to})
		mu.Unlock()
	})
	after, _ := r.GetOrCreate("after")
	before.ForceOpen()
	after.ForceOpen()
	cancel()
	before.Reset()
	mu.Lock()
	defer mu.Unlock()
	want := []event{{"before", StateClosed, StateOpen}, {"after", StateClosed, StateOpen}}
	if !slices.Equal(got, want) {
		t.Fatalf("registry listener saw %v, want %v", got, want)
	}
}

func TestRegistryHandlerServesSnapshotsAsJSON(t *testing.T) {
	r := NewRegistry(Settings{})
	kafka, _ := r.GetOrCreate("kafka")
	_, _ = r.GetOrCreate("essays")
	kafka.ForceOpen()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var body struct {
		Breakers []struct {
			Name       string `json:"name"`
			State      string `json:"state"`
			ForcedOpen bool   `json:"forced_open"`
			Totals     struct {
				Rejected uint64 `json:"rejected"`
			} `json:"totals"`
		} `json:"breakers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Breakers) != 2 || body.Breakers[0].Name != "essays" || body.Breakers[0].State != "closed" ||
		body.Breakers[1].Name != "kafka" || body.Breakers[1].State != "open" || !body.Breakers[1].ForcedOpen {
		t.Fatalf("body = %+v", body)
	}
}

func TestRegistryHandlerRejectsOtherMethods(t *testing.T) {
	h := NewRegistry(Settings{}).Handler()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/breakers", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodGet {
			t.Errorf("%s: %d, Allow %q; want 405, Allow GET", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}
