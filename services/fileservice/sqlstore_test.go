package fileservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/sqldb"
)

// The ContentStore conformance suite, run against the memory store and
// the SQL one on SQLite and PostgreSQL.

func forEachStore(t *testing.T, test func(t *testing.T, store fileservice.ContentStore)) {
	t.Run("memory", func(t *testing.T) { test(t, fileservice.NewMemoryContentStore()) })
	for dialect, open := range servicekittest.Databases(t, fileservice.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) { test(t, fileservice.NewSQLContentStore(open(t))) })
	}
}

func TestContentStoreKeepsBytesAndRefusesOthersUnderAnID(t *testing.T) {
	forEachStore(t, func(t *testing.T, store fileservice.ContentStore) {
		ctx := context.Background()
		if _, err := store.Get(ctx, "c-1"); !errors.Is(err, fileservice.ErrContentNotFound) {
			t.Fatalf("Get of nothing = %v, want ErrContentNotFound", err)
		}
		text := []byte("An essay with \x00 and \xff in it.")
		for range 2 { // the second Put is a repeated upload
			if err := store.Put(ctx, "c-1", text); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := store.Get(ctx, "c-1"); err != nil || string(got) != string(text) {
			t.Fatalf("Get = %q, %v; want the bytes put", got, err)
		}
		if err := store.Put(ctx, "c-1", []byte("other")); !errors.Is(err, fileservice.ErrContentConflict) {
			t.Fatalf("Put of other bytes = %v, want ErrContentConflict", err)
		}
	})
}

// failingBus fails its n-th Publish and passes the others on.
type failingBus struct {
	*servicekit.OutboxBus
	n, calls int
}

func (b *failingBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	if b.calls++; b.calls == b.n {
		return errors.New("kafka unavailable")
	}
	return b.OutboxBus.Publish(ctx, topic, key, env)
}

// An upload on the service's database commits whole or not at all: when
// the last file's last event is not accepted, no text is kept and no
// event waits in the outbox.
func TestUploadCommitsItsTextsAndEventsTogether(t *testing.T) {
	for dialect, open := range servicekittest.Databases(t, fileservice.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			ob, err := outbox.New(ctx, db, outbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			bus := &failingBus{OutboxBus: servicekit.NewOutboxBus(db, ob, nil), n: 4}
			store := fileservice.NewSQLContentStore(db)
			svc, err := fileservice.New(fileservice.Config{}, fileservice.Deps{Bus: bus, Store: store})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			svc.Routes(mux)
			upload := func() int {
				body, ct := multipartBody(t, field("batch_id", "b-1"), file("a.txt", "An essay."), file("b.txt", "Another essay."))
				req := httptest.NewRequest(http.MethodPost, "/v1/files/batch", body)
				req.Header.Set("Content-Type", ct)
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				return rec.Code
			}
			if code := upload(); code != http.StatusServiceUnavailable {
				t.Fatalf("upload with its 4th event refused = %d, want 503", code)
			}
			if n := count(t, db, "contents"); n != 0 {
				t.Fatalf("%d texts kept after a refused upload, want none", n)
			}
			if st, _ := ob.Stats(ctx); st.Pending != 0 {
				t.Fatalf("%d events in the outbox after a refused upload, want none", st.Pending)
			}
			if code := upload(); code != http.StatusAccepted {
				t.Fatalf("repeated upload = %d, want 202", code)
			}
			if st, _ := ob.Stats(ctx); count(t, db, "contents") != 2 || st.Pending != 4 {
				t.Fatalf("after the upload: %d texts and %d events, want 2 and 4", count(t, db, "contents"), st.Pending)
			}
		})
	}
}

func count(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
