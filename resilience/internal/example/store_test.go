package example

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/internal/breakergen"
)

func TestGeneratedWrappersAreUpToDate(t *testing.T) {
	for _, typ := range []string{"Store", "Admin"} {
		file := breakergen.DefaultOutput(typ)
		want, err := breakergen.Generate(breakergen.Config{Dir: ".", Type: typ, Skip: file})
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./resilience/internal/example", file)
		}
	}
}

var errDown = errors.New("store unreachable")

// fakeStore records calls and fails while down is set.
type fakeStore struct {
	down  bool
	calls []string
}

func (f *fakeStore) record(call string) error {
	f.calls = append(f.calls, call)
	if f.down {
		return errDown
	}
	return nil
}

func (f *fakeStore) Get(_ context.Context, key string) ([]byte, error) {
	if err := f.record("Get " + key); err != nil {
		return nil, err
	}
	return []byte("value of " + key), nil
}

func (f *fakeStore) Put(_ context.Context, key string, _ []byte) error { return f.record("Put " + key) }

func (f *fakeStore) Stat(_ context.Context, key string) (int64, time.Time, error) {
	if err := f.record("Stat " + key); err != nil {
		return -1, time.Unix(1, 0), err
	}
	return 42, time.Unix(1700000000, 0), nil
}

func (f *fakeStore) Delete(_ context.Context, keys ...string) error {
	return f.record("Delete " + strings.Join(keys, ","))
}

func (f *fakeStore) Watch(_ context.Context, prefix string, fn func(string)) {
	_ = f.record("Watch " + prefix)
	fn(prefix + "x")
}

func (f *fakeStore) List(_ context.Context, prefix string) ([]string, error) {
	if err := f.record("List " + prefix); err != nil {
		return nil, err
	}
	return []string{prefix + "a", prefix + "b"}, nil
}

func (f *fakeStore) Name() string { _ = f.record("Name"); return "fake" }

func newWrapped(t *testing.T, threshold int) (*ResilientStore, *fakeStore, *resilience.CircuitBreaker) {
	t.Helper()
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "store", FailureThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	inner := &fakeStore{}
	return NewResilientStore(inner, cb), inner, cb
}

func TestResilientStoreReturnsInnerResults(t *testing.T) {
	s, inner, _ := newWrapped(t, 5)
	ctx := context.Background()
	if v, err := s.Get(ctx, "k"); string(v) != "value of k" || err != nil {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if size, mod, err := s.Stat(ctx, "k"); size != 42 || !mod.Equal(time.Unix(1700000000, 0)) || err != nil {
		t.Fatalf("Stat = %d, %v, %v", size, mod, err)
	}
	if keys, err := s.List(ctx, "p/"); !slices.Equal(keys, []string{"p/a", "p/b"}) || err != nil {
		t.Fatalf("List = %v, %v", keys, err)
	}
	if err := s.Delete(ctx, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	want := []string{"Get k", "Stat k", "List p/", "Delete a,b", "Put k"}
	if !slices.Equal(inner.calls, want) {
		t.Fatalf("inner saw %v, want %v", inner.calls, want)
	}
}

func TestResilientStoreFailuresTripBreaker(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *ResilientStore) error
	}{
		{"Put (error only)", func(ctx context.Context, s *ResilientStore) error { return s.Put(ctx, "k", nil) }},
		{"Get (value and error)", func(ctx context.Context, s *ResilientStore) error { _, err := s.Get(ctx, "k"); return err }},
		{"Stat (several results)", func(ctx context.Context, s *ResilientStore) error { _, _, err := s.Stat(ctx, "k"); return err }},
		{"Delete (variadic)", func(ctx context.Context, s *ResilientStore) error { return s.Delete(ctx, "k") }},
		{"List (embedded interface)", func(ctx context.Context, s *ResilientStore) error { _, err := s.List(ctx, "k"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, inner, cb := newWrapped(t, 2)
			inner.down = true
			ctx := context.Background()
			for range 2 {
				if err := tt.call(ctx, s); !errors.Is(err, errDown) {
					t.Fatalf("call = %v, want the inner error", err)
				}
			}
			if cb.State() != resilience.StateOpen {
				t.Fatalf("breaker %v after 2 failures, want open", cb.State())
			}
			before := len(inner.calls)
			if err := tt.call(ctx, s); !errors.Is(err, resilience.ErrCircuitOpen) {
				t.Fatalf("call on open breaker = %v, want ErrCircuitOpen", err)
			}
			if len(inner.calls) != before {
				t.Fatal("inner store was called while the breaker was open")
			}
		})
	}
}

func TestResilientStoreStatReturnsZeroValuesWhenRejected(t *testing.T) {
	s, _, cb := newWrapped(t, 1)
	cb.ForceOpen()
	size, mod, err := s.Stat(context.Background(), "k")
	if size != 0 || !mod.IsZero() || !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("Stat = %d, %v, %v; want zero values and ErrCircuitOpen", size, mod, err)
	}
}

func TestResilientStorePassesThroughMethodsWithoutContextOrError(t *testing.T) {
	s, inner, cb := newWrapped(t, 1)
	cb.ForceOpen()
	if s.Name() != "fake" {
		t.Fatal("Name not passed through")
	}
	var watched string
	s.Watch(context.Background(), "p/", func(k string) { watched = k })
	if watched != "p/x" || !slices.Equal(inner.calls, []string{"Name", "Watch p/"}) {
		t.Fatalf("pass-through calls: %v, watched %q", inner.calls, watched)
	}
	if got := cb.Snapshot().Totals.Rejected; got != 0 {
		t.Fatalf("pass-through methods were counted as rejected: %d", got)
	}
}
