package drill

import (
	"slices"
	"testing"
)

// acceptedUpTo returns an accepted slice for seqs 1..n, all accepted
// except those in rejected.
func acceptedUpTo(n int, rejected ...int64) []bool {
	acc := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		acc[i] = !slices.Contains(rejected, int64(i))
	}
	return acc
}

// deliveries builds deliveries on partition 0 with key "k", in the order
// given, at increasing offsets.
func deliveries(seqs ...int64) []Delivery {
	out := make([]Delivery, len(seqs))
	for i, s := range seqs {
		out[i] = Delivery{Partition: 0, Offset: int64(i), Key: "k", Seq: s}
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name       string
		accepted   []bool
		deliveries []Delivery
		want       Verdict
	}{
		{
			name:       "every accepted seq once in order passes",
			accepted:   acceptedUpTo(4),
			deliveries: deliveries(1, 2, 3, 4),
			want:       Verdict{Delivered: 4},
		},
		{
			name:       "an accepted seq missing is lost",
			accepted:   acceptedUpTo(4),
			deliveries: deliveries(1, 2, 4),
			want:       Verdict{Delivered: 3, Lost: 1, LostSeqs: []int64{3}},
		},
		{
			name:       "a seq after a larger one is reordered",
			accepted:   acceptedUpTo(4),
			deliveries: deliveries(1, 3, 2, 4),
			want:       Verdict{Delivered: 4, Reordered: 1, ReorderedSeqs: []int64{2}},
		},
		{
			name:       "a replayed copy of an earlier seq is a duplicate, not a reorder",
			accepted:   acceptedUpTo(4),
			deliveries: deliveries(1, 2, 3, 2, 3, 4),
			want:       Verdict{Delivered: 4, Duplicates: 2},
		},
		{
			name:       "a rejected seq that is absent is not lost",
			accepted:   acceptedUpTo(4, 3),
			deliveries: deliveries(1, 2, 4),
			want:       Verdict{Delivered: 3},
		},
		{
			name:       "a rejected seq that landed is counted apart and not order-checked",
			accepted:   acceptedUpTo(4, 2),
			deliveries: deliveries(1, 3, 2, 4),
			want:       Verdict{Delivered: 3, DeliveredUnaccepted: 1},
		},
		{
			name:       "seqs outside 1..sent are foreign",
			accepted:   acceptedUpTo(2),
			deliveries: deliveries(1, 2, 7, 0),
			want:       Verdict{Delivered: 2, Foreign: 2},
		},
		{
			name:     "order is per key: interleaved keys are not reordered",
			accepted: acceptedUpTo(4),
			deliveries: []Delivery{
				{Partition: 0, Offset: 0, Key: "a", Seq: 2},
				{Partition: 0, Offset: 1, Key: "b", Seq: 1},
				{Partition: 0, Offset: 2, Key: "a", Seq: 4},
				{Partition: 0, Offset: 3, Key: "b", Seq: 3},
			},
			want: Verdict{Delivered: 4},
		},
		{
			name:     "deliveries are judged in offset order whatever order they come in",
			accepted: acceptedUpTo(3),
			deliveries: []Delivery{
				{Partition: 1, Offset: 2, Key: "k", Seq: 3},
				{Partition: 1, Offset: 0, Key: "k", Seq: 1},
				{Partition: 1, Offset: 1, Key: "k", Seq: 2},
			},
			want: Verdict{Delivered: 3},
		},
		{
			name:       "nothing sent and nothing read passes",
			accepted:   acceptedUpTo(0),
			deliveries: nil,
			want:       Verdict{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verify(tt.accepted, tt.deliveries)
			if !equalVerdict(got, tt.want) {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
			if got.Passed() != (tt.want.Lost == 0 && tt.want.Reordered == 0) {
				t.Fatalf("Passed() = %v for %+v", got.Passed(), got)
			}
		})
	}
}

func equalVerdict(a, b Verdict) bool {
	return a.Delivered == b.Delivered && a.Lost == b.Lost && a.DeliveredUnaccepted == b.DeliveredUnaccepted &&
		a.Duplicates == b.Duplicates && a.Reordered == b.Reordered && a.Foreign == b.Foreign &&
		slices.Equal(a.LostSeqs, b.LostSeqs) && slices.Equal(a.ReorderedSeqs, b.ReorderedSeqs)
}

func TestVerifyCapsListedSeqs(t *testing.T) {
	v := Verify(acceptedUpTo(maxListed+10), nil)
	if v.Lost != maxListed+10 || len(v.LostSeqs) != maxListed {
		t.Fatalf("Lost = %d with %d listed, want %d with %d listed", v.Lost, len(v.LostSeqs), maxListed+10, maxListed)
	}
}

// Accepted seqs missing from Kafka but still in the disk spool are left
// in the spool, not lost; those in neither are lost; a seq both delivered
// and still spooled (delivered, not yet acknowledged) is delivered.
func TestVerifyWithSpoolTellsLeftInTheSpoolFromLost(t *testing.T) {
	v := VerifyWithSpool(acceptedUpTo(6, 6), deliveries(1, 2, 3), []int64{3, 4, 6})
	if v.Delivered != 3 || v.LeftInSpool != 1 || v.Lost != 1 || !slices.Equal(v.LeftInSpoolSeqs, []int64{4}) ||
		!slices.Equal(v.LostSeqs, []int64{5}) || v.Passed() {
		t.Fatalf("verdict %+v, want 1..3 delivered, 4 left in the spool, 5 lost (6 was never accepted)", v)
	}
	v = VerifyWithSpool(acceptedUpTo(4), deliveries(1, 2), []int64{3, 4})
	if v.Lost != 0 || v.LeftInSpool != 2 || !v.Passed() {
		t.Fatalf("verdict %+v, want a pass with 2 left in the spool", v)
	}
}
