package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/outbox"
)

// deadLetter is a consumer's dead letter of m: the record as the consumer
// read it, with a reason added to its headers.
func deadLetter(t *testing.T, m outbox.Message) event.Record {
	t.Helper()
	rec, err := m.Envelope.Record(m.Topic, m.Key)
	if err != nil {
		t.Fatal(err)
	}
	rec.Topic += ".dlq"
	rec.Headers = append(rec.Headers, event.Header{Key: "dlq_reason", Value: []byte("handler_failed")})
	return rec
}

func TestEnqueuedRecordIsKeptByteForByte(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		m := message(t, "k1", 1, 1)
		rec := deadLetter(t, m)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, outbox.Message{Record: &rec}) }); err != nil {
			t.Fatal(err)
		}
		rows := pending(t, ob.Store(), time.Now())
		if len(rows) != 1 {
			t.Fatalf("%d rows, want 1", len(rows))
		}
		got := rows[0].Record()
		if got.Topic != rec.Topic || string(got.Key) != "k1" || string(got.Value) != string(rec.Value) || asJSON(got.Headers) != asJSON(rec.Headers) {
			t.Fatalf("relayed record %s/%s %s %s\nwant %s/%s %s %s", got.Topic, got.Key, got.Value, asJSON(got.Headers),
				rec.Topic, rec.Key, rec.Value, asJSON(rec.Headers))
		}
		if rows[0].EventID != m.Envelope.EventID {
			t.Fatalf("row's event id %s, want the envelope's %s", rows[0].EventID, m.Envelope.EventID)
		}
	})
}

func TestEnqueueRefusesRecordsItCannotStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		good := message(t, "k", 1, 1)
		rec := deadLetter(t, good)
		notJSON, badKey, badHeader, noTopic := rec, rec, rec, rec
		notJSON.Value = []byte("\x00not an envelope")
		badKey.Key = []byte{0xff, 0xfe}
		badHeader.Headers = append([]event.Header{{Key: "h", Value: []byte{0xff}}}, rec.Headers...)
		noTopic.Topic = ""
		for name, m := range map[string]outbox.Message{
			"value not an envelope":  {Record: &notJSON},
			"key not UTF-8":          {Record: &badKey},
			"header not UTF-8":       {Record: &badHeader},
			"no topic":               {Record: &noTopic},
			"record and envelope":    {Record: &rec, Envelope: good.Envelope},
			"record and a topic too": {Record: &rec, Topic: "other"},
		} {
			err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, m) })
			if !errors.Is(err, outbox.ErrInvalidMessage) {
				t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
			}
		}
		if rows := pending(t, ob.Store(), time.Now()); len(rows) != 0 {
			t.Fatalf("%d rows written for refused records", len(rows))
		}
	})
}
