package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/sqldb"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	pgtest.Main(m)
}

// backend is one database the tests run on.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "svc.db") }},
}

// forEachBackend runs test once per database.
func forEachBackend(t *testing.T, test func(t *testing.T, dsn string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.dsn(t)) })
	}
}

// testLogger writes the relays' logs to the test log, so a failing test
// shows what they did.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// openDB opens dsn with the outbox's and the test's migrations.
func openDB(t testing.TB, dsn string) (*sqldb.DB, *outbox.Outbox) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations(), stateMigrations}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, ob
}

// payload is the data of every test event: which key it belongs to and
// its place in that key's sequence (1, 2, ...) and in the whole run.
type payload struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
	N   int    `json:"n"`
}

const testTopic = "outbox-test"

// message returns event n (1-based), number seq of key, with a
// deterministic event id.
func message(t testing.TB, key string, seq, n int) outbox.Message {
	t.Helper()
	m, err := newMessage(key, seq, n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newMessage(key string, seq, n int) (outbox.Message, error) {
	env, err := event.NewEnvelope("huleedu.test.outbox.v1", "outbox-test", payload{Key: key, Seq: seq, N: n},
		event.WithEventID(event.DeterministicID(event.Namespace, "outbox-test", strconv.Itoa(n))))
	return outbox.Message{Topic: testTopic, Key: key, Envelope: env, AggregateType: "test", AggregateID: key}, err
}

// keyOf is the key of event n among keys keys, as the enqueuer spreads
// them.
func keyOf(n, keys int) string { return fmt.Sprintf("k%02d", n%keys) }

// enqueuer commits events: n events spread round-robin over keys, each in
// a transaction of its own together with a state change.
type enqueuer struct {
	t    testing.TB
	db   *sqldb.DB
	ob   *outbox.Outbox
	keys int

	// retry makes commit retry a failed transaction for up to 30s, as a
	// service's caller would; the retried event keeps its number.
	retry bool

	mu   sync.Mutex // guards seqs and n
	seqs map[string]int
	n    int
}

func newEnqueuer(t testing.TB, db *sqldb.DB, ob *outbox.Outbox, keys int) *enqueuer {
	return &enqueuer{t: t, db: db, ob: ob, keys: keys, seqs: map[string]int{}}
}

// commit enqueues count events, one transaction each, returning the total
// so far.
func (e *enqueuer) commit(count int) int {
	e.t.Helper()
	ctx := context.Background()
	for range count {
		e.mu.Lock()
		e.n++
		n := e.n
		key := keyOf(n, e.keys)
		e.seqs[key]++
		seq := e.seqs[key]
		e.mu.Unlock()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := e.db.InTx(ctx, func(tx *sql.Tx) error {
				if err := changeState(ctx, tx, key, seq); err != nil {
					return err
				}
				return e.ob.Enqueue(ctx, tx, message(e.t, key, seq, n))
			})
			if err == nil {
				break
			}
			if !e.retry || time.Now().After(deadline) {
				e.t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // a caller's retry back-off, not a wait for a condition
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// stateMigrations is the test service's own table, changed in the same
// transaction as each Enqueue.
var stateMigrations = sqldb.Migrations{
	Name:     "teststate",
	Postgres: mapFS("00001_state.sql", "-- +goose Up\nCREATE TABLE state (key text PRIMARY KEY, seq integer NOT NULL);\n-- +goose Down\nDROP TABLE state;\n"),
	SQLite:   mapFS("00001_state.sql", "-- +goose Up\nCREATE TABLE state (key TEXT PRIMARY KEY, seq INTEGER NOT NULL);\n-- +goose Down\nDROP TABLE state;\n"),
}

func mapFS(name, body string) fstest.MapFS { return fstest.MapFS{name: {Data: []byte(body)}} }

func changeState(ctx context.Context, tx *sql.Tx, key string, seq int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO state (key, seq) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET seq = excluded.seq`, key, seq)
	return err
}

// cluster starts an embedded Kafka with the test topic.
func cluster(t testing.TB, cfg embeddedkafka.Config) *embeddedkafka.Cluster {
	t.Helper()
	if cfg.Brokers == 0 {
		cfg.Brokers = 1
	}
	cfg.Topics = append(cfg.Topics, testTopic)
	return embeddedkafka.NewTestCluster(t, cfg)
}

// relayProduceTimeout is the produce bound of the tests' relays and buses:
// short, so that outages are noticed quickly.
const relayProduceTimeout = time.Second

func newBus(t testing.TB, addrs []string) *kafkabus.KafkaBus {
	t.Helper()
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: addrs, ClientID: "outbox-test", PublishTimeout: relayProduceTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = kb.Close(ctx)
	})
	return kb
}

func newBreaker(t testing.TB) *resilience.CircuitBreaker {
	t.Helper()
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "outbox-test.kafka_producer",
		FailureThreshold: 3, RecoveryTimeout: 200 * time.Millisecond, SuccessThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// testRelayOptions are fast relays: short leases and back-offs.
func testRelayOptions(t testing.TB, id string) outbox.RelayOptions {
	var log *slog.Logger
	if t != nil {
		log = testLogger(t)
	}
	return outbox.RelayOptions{
		ID: id, BatchSize: 100, PollInterval: 100 * time.Millisecond, ProduceTimeout: relayProduceTimeout,
		LeaseTTL: 3 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		OpenPoll: 100 * time.Millisecond, Logger: log,
	}
}

// startRelay runs a relay until the returned stop is called (or the test
// ends), failing the test if Run fails.
func startRelay(t testing.TB, ob *outbox.Outbox, p kafkabus.Producer, cb *resilience.CircuitBreaker, opts outbox.RelayOptions) (*outbox.Relay, func()) {
	t.Helper()
	r, err := outbox.NewRelay(ob, p, cb, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay %s: %v", r.ID(), err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

// waitDrained waits until the outbox has no pending rows.
func waitDrained(t testing.TB, ob *outbox.Outbox, timeout time.Duration) {
	t.Helper()
	testwait.For(t, timeout, "the outbox to drain", func() bool {
		st, err := ob.Stats(context.Background())
		return err == nil && st.Pending == 0
	})
}

// delivery is one test event read back from Kafka.
type delivery struct {
	payload
	EventID     string
	TraceParent string
	Partition   int32
	Offset      int64
}

func readDeliveries(t testing.TB, addrs []string) []delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := embeddedkafka.ReadAll(ctx, addrs, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]delivery, 0, len(recs))
	for _, r := range recs {
		out = append(out, parseDelivery(t, r))
	}
	return out
}

func parseDelivery(t testing.TB, r *kgo.Record) delivery {
	t.Helper()
	env, err := event.ParseEnvelope(r.Value)
	if err != nil {
		t.Fatalf("record at %d/%d: %v", r.Partition, r.Offset, err)
	}
	p, err := event.Decode[payload](env)
	if err != nil {
		t.Fatal(err)
	}
	d := delivery{payload: p, EventID: env.EventID.String(), Partition: r.Partition, Offset: r.Offset}
	for _, h := range r.Headers {
		if h.Key == event.HeaderTraceParent {
			d.TraceParent = string(h.Value)
		}
		if h.Key == event.HeaderEventID && string(h.Value) != d.EventID {
			t.Errorf("record %d/%d: event_id header %s, envelope %s", r.Partition, r.Offset, h.Value, d.EventID)
		}
	}
	if string(r.Key) != p.Key {
		t.Errorf("record %d/%d: key %q, payload says %q", r.Partition, r.Offset, r.Key, p.Key)
	}
	return d
}

// verdict is what the independent consumer found.
type verdict struct {
	distinct, duplicates, reordered int
	missing                         []int
}

// verify checks that events 1..n were each delivered, in order per key
// (first occurrences, in offset order), and counts duplicates.
func verify(t testing.TB, ds []delivery, n int) verdict {
	t.Helper()
	var v verdict
	seen := map[int]bool{}
	highest := map[string]int{}
	for _, d := range ds {
		if seen[d.N] {
			v.duplicates++
			continue
		}
		seen[d.N] = true
		if d.Seq < highest[d.Key] {
			v.reordered++
		}
		highest[d.Key] = max(highest[d.Key], d.Seq)
	}
	for i := 1; i <= n; i++ {
		if !seen[i] {
			v.missing = append(v.missing, i)
		}
	}
	v.distinct = len(seen)
	return v
}

// mustDeliverAll fails t unless events 1..n all reached Kafka in order per
// key; it returns the duplicates.
func mustDeliverAll(t testing.TB, addrs []string, n int) int {
	t.Helper()
	v := verify(t, readDeliveries(t, addrs), n)
	if len(v.missing) > 0 || v.reordered > 0 || v.distinct != n {
		t.Fatalf("Kafka holds %d distinct of %d events; missing %v; %d first deliveries out of order per key", v.distinct, n, head(v.missing), v.reordered)
	}
	return v.duplicates
}

func head(xs []int) []int { return xs[:min(len(xs), 20)] }

// asJSON is for failure messages.
func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
