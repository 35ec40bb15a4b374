package servicekit

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/kafkaconsumer"
)

// readiness fetches /readyz.
func readiness(t *testing.T, a *App) (int, Readiness, string) {
	t.Helper()
	resp, err := http.Get(a.Endpoints().Admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var rd Readiness
	if err := json.Unmarshal(raw, &rd); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rd, string(raw)
}

// A service on PostgreSQL whose server stops: /readyz says so, the API
// answers 503 with a JSON error at once, what was committed before stays
// in the outbox and is delivered, and an event that arrives meanwhile
// waits for the database instead of being dead-lettered.
func TestPostgresOutageIsReportedRefusedAndLosesNothing(t *testing.T) {
	c := newCluster(t)
	url := pgtest.NewDatabase(t)
	server := pgtest.Private(t)
	var n *notes
	logs := &logLines{}
	a, err := New(notesEnv(c, t.TempDir(), "DATABASE_URL="+url, "DATABASE_CONNECT_TIMEOUT=1s", "LOG_LEVEL=warn"), notesModule(&n), WithLogOutput(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	if err := a.Start(testContext(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	if code, rd, raw := readiness(t, a); code != http.StatusOK || rd.Status != StatusReady || rd.Database != "reachable" || rd.Outbox == nil {
		t.Fatalf("/readyz = %d %s, want 200 ready with the database reachable and the outbox backlog", code, raw)
	}
	// Kafka cut: the outbox takes the event; the service is degraded.
	heal := cut(t, c)
	if code, body := post(t, a, "n-1"); code != http.StatusCreated {
		t.Fatalf("POST while Kafka is cut = %d %s, want 201", code, body)
	}
	code, rd, raw := readiness(t, a)
	if code != http.StatusOK || rd.Status != StatusDegraded || rd.Outbox == nil || rd.Outbox.Pending != 1 {
		t.Fatalf("/readyz with Kafka cut = %d %s, want 200 degraded with 1 event pending in the outbox", code, raw)
	}
	t.Logf("/readyz while Kafka is cut: %s", raw)
	heal()

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = server.Start()
		}
	})
	code, rd, raw = readiness(t, a)
	if code != http.StatusServiceUnavailable || rd.Status != StatusUnavailable || !strings.HasPrefix(rd.Database, "unreachable: ") {
		t.Fatalf("/readyz with PostgreSQL stopped = %d %s, want 503 unavailable naming the database unreachable", code, raw)
	}
	t.Logf("/readyz while PostgreSQL is down: %s", raw)
	status, body := post(t, a, "n-2")
	var errBody struct {
		Error struct{ Code, Message string }
	}
	if status != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &errBody) != nil || errBody.Error.Code != "database_unavailable" {
		t.Fatalf("POST with PostgreSQL stopped = %d %s, want 503 with a database_unavailable JSON error", status, body)
	}
	// An event arrives while the database is down: the consumer waits
	// for it, far beyond its 5 attempts, and dead-letters nothing.
	produce(t, c, topicA, noteEvent(t, "n-3"))
	waitFor(t, 20*time.Second, "the consumer waiting for the database", func() bool {
		return len(logs.with(t, "database unavailable; the event waits and is retried until it answers")) > 0
	})

	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitFor(t, 30*time.Second, "the event that arrived during the outage handled", func() bool {
		got, err := n.changes(context.Background(), "n-3")
		return err == nil && got == 1
	})
	waitFor(t, 30*time.Second, "the events of n-1 (committed before the outage) and n-3 in Kafka", func() bool {
		return len(eventCounts(t, c, topicB)) == 2
	})
	if dl := eventCounts(t, c, kafkaconsumer.DeadLetterTopic(topicA)); len(dl) != 0 {
		t.Fatalf("dead letters %v: an outage of the database must not dead-letter events", dl)
	}
	if got, _ := n.changes(context.Background(), "n-2"); got != 0 {
		t.Fatalf("note n-2, refused with 503, has %d changes", got)
	}
	waitFor(t, 20*time.Second, "/readyz ready again", func() bool {
		code, rd, _ := readiness(t, a)
		return code == http.StatusOK && rd.Status == StatusReady
	})
}
