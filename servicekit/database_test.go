package servicekit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/sqldb"
)

// notesService is a service with a database: a note per id, changed by
// POST /notes/{id} and by events on topicA, each change announced on
// topicB in the same transaction.
const notesService = "notes_service"

var notesMigrations = sqldb.Migrations{
	Name: "notes",
	Postgres: fstest.MapFS{"00001_notes.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE notes (id text PRIMARY KEY, changes int NOT NULL);\n")}},
	SQLite: fstest.MapFS{"00001_notes.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE notes (id TEXT PRIMARY KEY, changes INTEGER NOT NULL);\n")}},
}

// notes is the notes service's state and behaviour.
type notes struct {
	db  *sqldb.DB
	bus kafkabus.Bus
}

// change counts a change of note id and announces it with an event whose
// id is derived from cause, in the transaction ctx carries (or one of
// its own).
func (n *notes) change(ctx context.Context, id, cause string) error {
	return n.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id, changes) VALUES ($1, 1)
			ON CONFLICT (id) DO UPDATE SET changes = notes.changes + 1`, id); err != nil {
			return err
		}
		env, err := event.NewEnvelope(event.TypeBatchFileAddedV1, notesService, map[string]string{"note": id},
			event.WithEventID(event.DeterministicID(event.Namespace, "note", id, cause)))
		if err != nil {
			return err
		}
		return n.bus.Publish(ctx, topicB, id, env)
	})
}

func (n *notes) changes(ctx context.Context, id string) (int, error) {
	var c int
	err := n.db.Conn(ctx).QueryRowContext(ctx, `SELECT changes FROM notes WHERE id = $1`, id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return c, err
}

// errPoison is the handler's answer to an event no retry can fix.
var errPoison = kafkaconsumer.Permanent(errors.New("poison note"))

// notesModule wires the notes service; got, when set, receives each
// populated value.
func notesModule(populate ...any) fx.Option {
	return fx.Options(
		WithDatabase(notesMigrations),
		fx.Provide(func(db *sqldb.DB, bus kafkabus.Bus) *notes { return &notes{db: db, bus: bus} }),
		AsRoutes(func(n *notes) []Route {
			return []Route{{Pattern: "POST /notes/{id}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := n.change(r.Context(), r.PathValue("id"), r.Header.Get(HeaderCorrelationID)); err != nil {
					writeErr(w, err)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})}}
		}),
		AsSubscriptions(func(n *notes) []Subscription {
			return []Subscription{{Topic: topicA, Handler: func(ctx context.Context, env *event.Envelope) error {
				var data map[string]string
				if err := json.Unmarshal(env.Data, &data); err != nil {
					return kafkaconsumer.Permanent(err)
				}
				if data["note"] == "poison" {
					return errPoison
				}
				return n.change(ctx, data["note"], env.EventID.String())
			}}}
		}),
		fx.Populate(populate...),
	)
}

// writeErr answers as the services' httpjson.WriteErr does for a
// database error (servicekit cannot import the services' packages).
func writeErr(w http.ResponseWriter, err error) {
	if sqldb.IsRetriable(err) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"database_unavailable","message":%q}}`, "the database is unavailable")
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// notesEnv is the notes service's environment on c, with its data in dir.
func notesEnv(c *embeddedkafka.Cluster, dir string, extra ...string) Env {
	return testEnv(notesService, c, append([]string{"HULEEDU_DATA_DIR=" + dir}, extra...)...)
}

// noteEvent is an event on topicA that changes note id.
func noteEvent(t *testing.T, id string) *event.Envelope {
	t.Helper()
	env, err := event.NewEnvelope(event.TypeBatchFileAddedV1, "test", map[string]string{"note": id})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// produce sends env to topic straight to the cluster, as another
// service would.
func produce(t *testing.T, c *embeddedkafka.Cluster, topic string, env *event.Envelope) {
	t.Helper()
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs(), PublishTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close(context.Background())
	if err := kb.Publish(testContext(t, 20*time.Second), topic, "k", env); err != nil {
		t.Fatal(err)
	}
}

// post sends POST /notes/{id} and returns the status and body.
func post(t *testing.T, a *App, id string) (int, string) {
	t.Helper()
	resp, err := http.Post(a.Endpoints().API+"/notes/"+id, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// eventCounts returns how often each event id is on topic now.
func eventCounts(t *testing.T, c *embeddedkafka.Cluster, topic string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, r := range readTopic(t, c, topic) {
		ids[header(r, event.HeaderEventID)]++
	}
	return ids
}

func TestServiceWithADatabasePublishesThroughItsOutbox(t *testing.T) {
	c := newCluster(t)
	var bus kafkabus.Bus
	a := startApp(t, notesEnv(c, t.TempDir()), notesModule(&bus))
	ob, ok := bus.(*OutboxBus)
	if !ok {
		t.Fatalf("bus is %T, want *OutboxBus", bus)
	}
	k := a.Runner().Kafka()
	if k.Mode != PublishOutbox || k.Relay == nil || k.Resilient != nil {
		t.Fatalf("mode %s, relay %v, resilient bus %v; want outbox with a relay and no fallback queue", k.Mode, k.Relay, k.Resilient)
	}
	if cb, ok := a.Runner().breakers.Get(notesService + ".kafka_producer"); !ok || cb != k.Breaker {
		t.Fatal("the relay's breaker is not registered as notes_service.kafka_producer")
	}
	if db := a.Runner().Database(); db == nil || db.DB.Dialect() != sqldb.SQLite {
		t.Fatalf("database %v, want SQLite in the data directory", db)
	}
	if err := ob.Publish(context.Background(), topicB, "k", newEnvelope(t, `{}`)); !errors.Is(err, ErrNoTransaction) {
		t.Fatalf("Publish outside a transaction = %v, want ErrNoTransaction", err)
	}

	if code, body := post(t, a, "n-1"); code != http.StatusCreated {
		t.Fatalf("POST = %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the note's event in Kafka", func() bool { return len(eventCounts(t, c, topicB)) == 1 })
	waitFor(t, 10*time.Second, "the outbox emptied", func() bool {
		st, err := a.Runner().Database().Outbox.Stats(context.Background())
		return err == nil && st.Pending == 0
	})
	resp, err := http.Get(a.Endpoints().Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{`outbox_queue_depth{service="notes_service"}`, `outbox_publish_latency_seconds_count{service="notes_service"} 1`,
		`circuit_breaker_state{circuit_name="notes_service.kafka_producer",service="notes_service"}`} {
		if !strings.Contains(string(metrics), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestConsumerChangesStateOnceForAnEventDeliveredTwice(t *testing.T) {
	c := newCluster(t)
	var n *notes
	startApp(t, notesEnv(c, t.TempDir()), notesModule(&n))
	env := noteEvent(t, "n-1")
	produce(t, c, topicA, env)
	produce(t, c, topicA, env)
	produce(t, c, topicA, noteEvent(t, "marker"))
	waitFor(t, 20*time.Second, "the events after the duplicate handled", func() bool {
		m, err := n.changes(context.Background(), "marker")
		return err == nil && m == 1
	})
	if got, err := n.changes(context.Background(), "n-1"); err != nil || got != 1 {
		t.Fatalf("note n-1 changed %d times (%v) for one event delivered twice, want once", got, err)
	}
}

func TestDeadLettersGoThroughTheOutbox(t *testing.T) {
	c := newCluster(t)
	a := startApp(t, notesEnv(c, t.TempDir()), notesModule())
	env := noteEvent(t, "poison")
	produce(t, c, topicA, env)
	waitFor(t, 20*time.Second, "the poison event dead-lettered", func() bool {
		return eventCounts(t, c, kafkaconsumer.DeadLetterTopic(topicA))[env.EventID.String()] > 0
	})
	if rs := a.Runner().Kafka().Relay.Stats(); rs.Published == 0 {
		t.Fatalf("relay stats %+v: the dead letter did not go through the outbox", rs)
	}
}

func TestDatabaseAndOutboxSettingsFailStartupNamingTheVariable(t *testing.T) {
	c := newCluster(t)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		service string
		env     []string
		want    []string
	}{
		{"unreachable server", notesService, []string{"NOTES_SERVICE_DATABASE_URL=postgres://u:s3cret@127.0.0.1:1/notes?connect_timeout=2"},
			[]string{"NOTES_SERVICE_DATABASE_URL", "postgres://u:xxxxx@127.0.0.1:1/notes", "server unreachable"}},
		{"not a PostgreSQL URL", notesService, []string{"DATABASE_URL=mysql://u:s3cret@db/notes"},
			[]string{`DATABASE_URL="mysql://u:xxxxx@db/notes": must be a postgres://`}},
		{"data directory under a file", notesService, []string{"HULEEDU_DATA_DIR=" + filepath.Join(notADir, "data")},
			[]string{"HULEEDU_DATA_DIR", filepath.Join(notADir, "data", notesService, notesService+".sqlite")}},
		{"bad schema", notesService, []string{"DATABASE_SCHEMA=Notes-Schema"},
			[]string{`DATABASE_SCHEMA="Notes-Schema": must be lower-case letters`}},
		{"outbox without a database", "thing_service", []string{"KAFKA_FALLBACK_MODE=outbox"},
			[]string{`KAFKA_FALLBACK_MODE="outbox": thing_service keeps no database`}},
		{"outbox without breakers", notesService, []string{"KAFKA_FALLBACK_MODE=outbox", "CIRCUIT_BREAKER_ENABLED=false"},
			[]string{`KAFKA_FALLBACK_MODE="outbox": needs CIRCUIT_BREAKER_ENABLED=true`}},
		{"lease shorter than a produce", notesService, []string{"OUTBOX_LEASE_TTL=1s"},
			[]string{`OUTBOX_LEASE_TTL="1s": must be between 2.5 x KAFKA_PUBLISH_TIMEOUT (1.25s) and 1h`}},
		{"batch size", notesService, []string{"NOTES_SERVICE_OUTBOX_BATCH_SIZE=0"},
			[]string{`NOTES_SERVICE_OUTBOX_BATCH_SIZE="0": must be between 1 and 10000`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(tc.service, c, append([]string{"HULEEDU_DATA_DIR=" + t.TempDir()}, tc.env...)...)
			module := fx.Options()
			if tc.service == notesService {
				module = notesModule()
			}
			_, err := New(env, module, WithLogOutput(io.Discard))
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New = %v\nwant it to contain %s", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestServiceWithADatabaseKeepsAFallbackQueueItIsGiven(t *testing.T) {
	c := newCluster(t)
	var bus kafkabus.Bus
	newApp(t, notesEnv(c, t.TempDir(), "KAFKA_FALLBACK_MODE=disk"), notesModule(&bus))
	if _, ok := bus.(*kafkabus.ResilientBus); !ok {
		t.Fatalf("bus is %T with KAFKA_FALLBACK_MODE=disk, want the ResilientBus", bus)
	}
}

func TestRestartOnTheSameDataDirKeepsStateAndDeliversTheOutbox(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	var n *notes
	a := startApp(t, notesEnv(c, dir), notesModule(&n))
	heal := cut(t, c)
	if code, body := post(t, a, "n-1"); code != http.StatusCreated {
		t.Fatalf("POST while Kafka is cut = %d %s, want 201: the outbox accepts", code, body)
	}
	if err := a.Halt(); err != nil {
		t.Logf("halt: %v", err)
	}
	b := startApp(t, notesEnv(c, dir), notesModule(&n))
	if got, err := n.changes(context.Background(), "n-1"); err != nil || got != 1 {
		t.Fatalf("after the restart note n-1 has %d changes (%v), want 1", got, err)
	}
	st, err := b.Runner().Database().Outbox.Stats(context.Background())
	if err != nil || st.Pending != 1 {
		t.Fatalf("outbox after the restart: %+v (%v), want the event the halted process committed", st, err)
	}
	heal()
	waitFor(t, 30*time.Second, "the event of the halted process in Kafka", func() bool { return len(eventCounts(t, c, topicB)) == 1 })
}
