package servicekit

import (
	"testing"
	"time"

	"github.com/huleedu/huleedu/spool"
)

// A disk spool whose storage failed refuses every append until it works
// again: /readyz says so and does not count it as accepting, so with Kafka
// unreachable the service is unavailable rather than degraded-but-ready.
func TestFallbackStateReportsAFailedSpoolAsNotAccepting(t *testing.T) {
	failed := &spool.StorageFailure{Cause: "write /spool/00000000000000000001.seg: no space left on device", Since: time.Unix(1, 0)}
	for _, tc := range []struct {
		name    string
		q       spool.Stats
		want    string
		accepts bool
	}{
		{"empty disk spool", spool.Stats{MaxBytes: 1 << 20}, "accepting", true},
		{"disk spool with room", spool.Stats{Bytes: 10, MaxBytes: 1 << 20}, "accepting", true},
		{"full disk spool", spool.Stats{Bytes: 1 << 20, MaxBytes: 1 << 20}, "full", false},
		{"full memory queue", spool.Stats{Records: 5, MaxRecords: 5}, "full", false},
		{"failed disk spool with room", spool.Stats{Bytes: 10, MaxBytes: 1 << 20, Failed: failed},
			"failed: write /spool/00000000000000000001.seg: no space left on device", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, accepts := fallbackState(tc.q)
			if got != tc.want || accepts != tc.accepts {
				t.Fatalf("fallbackState = %q, %v; want %q, %v", got, accepts, tc.want, tc.accepts)
			}
		})
	}
}
