package servicekit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/servicekit"
)

func ExampleLoadSettingsFrom() {
	env := servicekit.NewEnv("file_service", []string{
		"KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092,kafka-2:9092",
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=5",
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=20", // wins for file_service
	})
	s, err := servicekit.LoadSettingsFrom(env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Kafka.Breaker.FailureThreshold, s.Kafka.Breaker.Name, s.ConsumerGroup)

	_, err = servicekit.LoadSettingsFrom(env.With(map[string]string{"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "-1"}))
	fmt.Println(err)
	// Output:
	// 20 file_service.kafka_producer file_service
	// servicekit: file_service: invalid settings: FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000
}

func ExampleNew() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	env := servicekit.NewEnv("hello_service", []string{
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(cluster.Addrs(), ","),
	})
	hello := servicekit.AsRoutes(func() []servicekit.Route {
		return []servicekit.Route{{Pattern: "GET /v1/hello", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hello")
		})}}
	})
	app, err := servicekit.New(env, hello, servicekit.WithLogOutput(io.Discard))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer app.Stop(ctx)

	resp, err := http.Get(app.Endpoints().Admin + "/readyz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var rd servicekit.Readiness
	_ = json.NewDecoder(resp.Body).Decode(&rd)
	fmt.Println(resp.StatusCode, rd.Status, rd.Kafka, rd.Fallback)
	// Output: 200 ready reachable accepting
}
