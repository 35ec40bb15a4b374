package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

func ExampleCircuitBreaker_Call() {
	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name:             "spellchecker",
		FailureThreshold: 2,
		RecoveryTimeout:  30 * time.Second,
		SuccessThreshold: 1,
		Clock:            clock,
		OnStateChange: func(name string, from, to resilience.State) {
			fmt.Printf("%s: %s -> %s\n", name, from, to)
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	down := func(context.Context) error { return errors.New("connection refused") }
	up := func(context.Context) error { return nil }

	_ = cb.Call(ctx, down)
	_ = cb.Call(ctx, down) // second consecutive failure opens the circuit

	err = cb.Call(ctx, up) // rejected: up is not called
	fmt.Println(errors.Is(err, resilience.ErrCircuitOpen), err)

	clock.Advance(30 * time.Second)
	fmt.Println(cb.Call(ctx, up)) // the probe succeeds and closes the circuit
	// Output:
	// spellchecker: closed -> open
	// true resilience: circuit "spellchecker" is open until 2025-01-01T00:00:30Z
	// spellchecker: open -> half_open
	// spellchecker: half_open -> closed
	// <nil>
}

func ExampleExecute() {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "class-management"})
	if err != nil {
		panic(err)
	}
	students, err := resilience.Execute(context.Background(), cb, func(ctx context.Context) ([]string, error) {
		return []string{"Ada", "Grace"}, nil // e.g. an HTTP call
	})
	fmt.Println(students, err)
	// Output: [Ada Grace] <nil>
}

func ExampleRegistry() {
	reg := resilience.NewRegistry(resilience.Settings{FailureThreshold: 3})
	kafka, err := reg.GetOrCreate("kafka")
	if err != nil {
		panic(err)
	}
	if _, err := reg.GetOrCreate("essay-service"); err != nil {
		panic(err)
	}
	if _, err := reg.Create(resilience.Settings{Name: "kafka"}); errors.Is(err, resilience.ErrDuplicateName) {
		fmt.Println(err)
	}
	fmt.Println("kafka failure threshold:", kafka.Settings().FailureThreshold)
	kafka.ForceOpen() // an operator takes Kafka out of rotation
	for _, s := range reg.Snapshots() {
		fmt.Printf("%s: %s\n", s.Name, s.State)
	}
	// Output:
	// resilience: duplicate breaker name: "kafka" is already registered
	// kafka failure threshold: 3
	// essay-service: closed
	// kafka: open
}

func ExampleNewTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "file-service", FailureThreshold: 1})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: resilience.NewTransport(cb, nil)}

	resp, err := client.Get(srv.URL) // a 503 is returned to the caller and counted as a failure
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, cb.State())

	_, err = client.Get(srv.URL) // rejected without a request
	fmt.Println(errors.Is(err, resilience.ErrCircuitOpen))
	// Output:
	// 503 open
	// true
}

func ExampleCircuitBreaker_Acquire() {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "kafka", FailureThreshold: 1})
	if err != nil {
		panic(err)
	}
	// The outcome of a Kafka produce arrives later, in a delivery callback.
	permit, err := cb.Acquire(context.Background())
	if err != nil {
		fmt.Println("not sent:", err)
		return
	}
	deliveryCallback := func(err error) {
		permit.Report(err) // exactly once; a second Report returns false
	}
	deliveryCallback(errors.New("NOT_ENOUGH_REPLICAS"))
	fmt.Println(cb.State(), permit.Report(nil))
	// Output: open false
}
