package spool

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// deadLetterHeads dead-letters the first n queued entries.
func deadLetterHeads(t *testing.T, d *Disk, n int) {
	t.Helper()
	for range n {
		es, err := d.Peek(context.Background(), 1)
		if err != nil || len(es) == 0 {
			t.Fatalf("Peek: %v (%d entries)", err, len(es))
		}
		if err := d.DeadLetter(es[0], "poison "+string(es[0].Value)); err != nil {
			t.Fatal(err)
		}
	}
}

func deadValues(t *testing.T, d *Disk) []int {
	t.Helper()
	dls, err := d.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	out := []int{}
	for _, dl := range dls {
		out = append(out, recIndex(t, dl.Entry))
	}
	return out
}

func TestDeadLetterIsStoredDurablyWithItsReason(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	d := openTest(t, dir, DiskOptions{Now: func() time.Time { return at }})
	appendRange(t, d, 0, 3)
	es, _ := d.Peek(context.Background(), 1)
	if err := d.DeadLetter(es[0], "message too large"); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d2 := openTest(t, dir, DiskOptions{})
	dls, err := d2.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 {
		t.Fatalf("%d dead letters after reopening, want 1", len(dls))
	}
	dl := dls[0]
	if dl.ID != 1 || dl.Reason != "message too large" || !dl.At.Equal(at) || dl.Entry.Seq != es[0].Seq ||
		!dl.Entry.AppendedAt.Equal(at) || string(dl.Entry.Value) != "v0" {
		t.Fatalf("dead letter = %+v", dl)
	}
	if got := queued(t, d2); !equalInts(got, []int{1, 2}) || d2.Stats().DeadLetters != 1 {
		t.Fatalf("queued %v, Stats %+v", got, d2.Stats())
	}
}

func TestDeadLetterKeepsTheSpooledBytesNotTheCallersCopy(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{})
	appendRange(t, d, 0, 1)
	es, _ := d.Peek(context.Background(), 1)
	e := es[0]
	e.Value = []byte("changed by the caller")
	if err := d.DeadLetter(e, "r"); err != nil {
		t.Fatal(err)
	}
	if got := deadValues(t, d); !equalInts(got, []int{0}) {
		t.Fatalf("dead letters = %v", got)
	}
}

func TestRedriveRemovesOnlySuccessfullySentDeadLetters(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{})
	appendRange(t, d, 0, 5)
	deadLetterHeads(t, d, 5)
	refused := errors.New("kafka still says no")
	var sent []int
	n, err := d.Redrive(context.Background(), func(_ context.Context, dl DeadLetter) error {
		if len(sent) == 2 {
			return refused
		}
		sent = append(sent, recIndex(t, dl.Entry))
		return nil
	})
	if n != 2 || !errors.Is(err, refused) {
		t.Fatalf("Redrive = %d, %v; want 2 and the send error", n, err)
	}
	if !equalInts(sent, []int{0, 1}) {
		t.Fatalf("sent %v, want [0 1]", sent)
	}
	if got := deadValues(t, d); !equalInts(got, []int{2, 3, 4}) || d.Stats().DeadLetters != 3 {
		t.Fatalf("dead letters left = %v, Stats %+v", got, d.Stats())
	}
	d.Close()

	d2 := openTest(t, dir, DiskOptions{})
	if got := deadValues(t, d2); !equalInts(got, []int{2, 3, 4}) {
		t.Fatalf("dead letters after reopening = %v", got)
	}
}

func TestRedriveOfEverythingEmptiesTheLogAndIDsContinue(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{})
	appendRange(t, d, 0, 4)
	deadLetterHeads(t, d, 3)
	n, err := d.Redrive(context.Background(), func(context.Context, DeadLetter) error { return nil })
	if n != 3 || err != nil {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	if size := fileSize(t, filepath.Join(dir, deadLetterName)); size != logHeaderSize {
		t.Fatalf("emptied dead-letter log is %d bytes, want its %d-byte header", size, logHeaderSize)
	}
	d.Close()
	d2 := openTest(t, dir, DiskOptions{})
	deadLetterHeads(t, d2, 1)
	dls, _ := d2.DeadLetters()
	if len(dls) != 1 || dls[0].ID != 4 {
		t.Fatalf("dead letters = %+v, want one with id 4", dls)
	}
}

func TestRequeueDeadLettersAppendsThemToTheTail(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{})
	appendRange(t, d, 0, 4)
	deadLetterHeads(t, d, 2)
	n, err := d.RequeueDeadLetters(context.Background())
	if n != 2 || err != nil {
		t.Fatalf("RequeueDeadLetters = %d, %v", n, err)
	}
	if got := queued(t, d); !equalInts(got, []int{2, 3, 0, 1}) {
		t.Fatalf("queued = %v, want the requeued records after the rest", got)
	}
	if got := deadValues(t, d); len(got) != 0 {
		t.Fatalf("dead letters left = %v", got)
	}
}
