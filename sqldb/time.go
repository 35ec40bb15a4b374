package sqldb

import (
	"database/sql"
	"fmt"
	"time"
)

// Time columns: timestamptz on PostgreSQL; on SQLite INTEGER microseconds
// since 1970-01-01 UTC (the outbox's convention), so that they sort and
// compare as times there too, which the driver's text form of a
// time.Time does not (its fraction has no fixed width).

// TimeArg returns t as a statement argument for a time column of db's
// dialect (see Time).
func (db *DB) TimeArg(t time.Time) any {
	if db.dialect == SQLite {
		return t.UnixMicro()
	}
	return t.UTC()
}

// Time scans a time column of either dialect into a time.Time in UTC; a
// NULL gives the zero time.
type Time struct{ time.Time }

var _ sql.Scanner = (*Time)(nil)

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = x.UTC()
	case int64:
		t.Time = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("sqldb: scanning a time column: got %T, want a timestamp or microseconds", v)
	}
	return nil
}
