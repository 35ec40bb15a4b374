package servicekit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/sqldb"
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

// A service that keeps state declares its database; servicekit opens it
// (SQLite in HULEEDU_DATA_DIR here, PostgreSQL with DATABASE_URL), runs
// the migrations, and publishes through the outbox. A change and its
// event commit in one transaction: the event waits in the outbox until
// the commit, and the relay sends it to Kafka after.
func ExampleWithDatabase() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Topics: []string{"greetings"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	dir, _ := os.MkdirTemp("", "servicekit-example")
	defer os.RemoveAll(dir)

	greetings := sqldb.Migrations{
		Name:     "greetings",
		Postgres: fstest.MapFS{"00001_greetings.sql": {Data: []byte("-- +goose Up\nCREATE TABLE greetings (name text PRIMARY KEY);\n")}},
		SQLite:   fstest.MapFS{"00001_greetings.sql": {Data: []byte("-- +goose Up\nCREATE TABLE greetings (name TEXT PRIMARY KEY);\n")}},
	}
	greet := func(db *sqldb.DB, bus kafkabus.Bus) []servicekit.Route {
		return []servicekit.Route{{Pattern: "POST /v1/greetings/{name}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			err := db.Transact(r.Context(), func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO greetings (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
					return err
				}
				env, err := event.NewEnvelope(event.TypeClassCreatedV1, "greeting_service", map[string]string{"name": name})
				if err != nil {
					return err
				}
				return bus.Publish(ctx, "greetings", name, env) // into the outbox, in tx
			})
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusCreated)
		})}}
	}
	env := servicekit.NewEnv("greeting_service", []string{
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(cluster.Addrs(), ","),
		"HULEEDU_DATA_DIR=" + dir,
	})
	app, err := servicekit.New(env, fx.Options(servicekit.WithDatabase(greetings), servicekit.AsRoutes(greet)),
		servicekit.WithLogOutput(io.Discard))
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

	resp, err := http.Post(app.Endpoints().API+"/v1/greetings/ada", "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for rctx.Err() == nil {
		if envs, err := embeddedkafka.ReadEnvelopes(rctx, cluster.Addrs(), "greetings"); err == nil && len(envs) == 1 {
			break
		}
	}
	db := app.Runner().Database()
	fmt.Println(resp.StatusCode, app.Runner().Kafka().Mode, db.DB.Dialect(), filepath.Base(db.String()))
	// Output: 201 outbox sqlite greeting_service.sqlite
}
