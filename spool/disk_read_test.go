package spool

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
)

// Peeked entries alias the bytes the read cursor read, without a copy, so
// the cursor must never read over them while they may be in use: entries
// not yet acknowledged stay intact through later peeks (many refills of the
// cursor's buffer), acks (which reread frame headers and release buffers)
// and segment deletions.
func TestPeekedEntriesSurviveLaterReadsUntilAcknowledged(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 1 << 20})
	const n = 3000 // 3 MB: a dozen cursor refills, three segments
	appendNumbered(t, d, n)
	var held []Entry
	checked := 0 // held[:checked] were intact when they were acknowledged
	check := func(upto int) {
		t.Helper()
		for i := checked; i < upto; i++ {
			if e := held[i]; !isNumbered(e, i) {
				t.Fatalf("entry %d read back as key %q, value %.10q... after later reads", i, e.Key, e.Value)
			}
		}
		checked = upto
	}
	var last uint64
	for len(held) < n {
		es, err := d.PeekAfter(context.Background(), last, 250)
		if err != nil || len(es) == 0 {
			t.Fatalf("PeekAfter(%d) = %d entries, %v", last, len(es), err)
		}
		held = append(held, es...)
		last = es[len(es)-1].Seq
		if len(held)%1000 == 0 {
			k := len(held) - 500 // acknowledge all but the last 500
			check(k)
			if err := d.Ack(held[k-1].Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	check(n)
}

// A drain (Peek, Ack, Peek, ...) fills the same few buffers again instead
// of allocating one per 256 KiB read: the bytes of acknowledged entries
// are never looked at again. So does the read-ahead's own cursor in a
// drain through PeekAfter: each read-ahead first frees those the head has
// passed since the last.
func TestDrainReusesReadBuffers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ahead bool // PeekAfter, read ahead; else Peek
		// One buffer being read, one holding the head's record that
		// straddled its end, one more at most while the head catches up;
		// read ahead, one more: it reads two batches past the head, and
		// frees only what the head had passed when it started.
		max int
	}{{"Peek", false, 3}, {"PeekAfter", true, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 1 << 20})
			const n = 3000 // 3 MB: a dozen cursor refills
			appendNumbered(t, d, n)
			var last uint64
			for i := 0; i < n; {
				var es []Entry
				var err error
				if tc.ahead {
					es, err = d.PeekAfter(context.Background(), last, 100)
				} else {
					es, err = d.Peek(context.Background(), 100)
				}
				if err != nil || len(es) == 0 {
					t.Fatalf("%s = %d entries, %v", tc.name, len(es), err)
				}
				for _, e := range es {
					if !isNumbered(e, i) {
						t.Fatalf("entry %d read back as key %q, value %.10q...", i, e.Key, e.Value)
					}
					i++
				}
				last = es[len(es)-1].Seq
				if err := d.Ack(last); err != nil {
					t.Fatal(err)
				}
			}
			d.r.mu.Lock()
			d.ahead.mu.Lock()
			cursor := &d.r.cur.seg
			if tc.ahead {
				cursor = &d.ahead.cur.seg
			}
			allocated := cursor.allocated
			d.ahead.mu.Unlock()
			d.r.mu.Unlock()
			if allocated == 0 {
				t.Fatal("the cursor under test read nothing")
			}
			if allocated > tc.max {
				t.Errorf("draining 3 MB through %s allocated %d read buffers of %d KiB, want at most %d", tc.name, allocated, readBufferSize>>10, tc.max)
			}
		})
	}
}

// A reader that never acknowledges does not make the cursor keep every
// buffer it filled (the whole backlog, in memory): past maxReadBuffers the
// oldest are left to the garbage collector, still intact for the entries
// that alias them.
func TestUnacknowledgedReadsKeepBoundedBuffers(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 4 << 20})
	n := (maxReadBuffers + 8) * readBufferSize / 1024 // more bytes than the cap holds
	appendNumbered(t, d, n)
	var held []Entry
	var last uint64
	for len(held) < n {
		es, err := d.PeekAfter(context.Background(), last, 500)
		if err != nil || len(es) == 0 {
			t.Fatalf("PeekAfter(%d) = %d entries, %v", last, len(es), err)
		}
		held = append(held, es...)
		last = es[len(es)-1].Seq
	}
	// Both cursors: PeekAfter's own, and the read-ahead's, which reads
	// most of it.
	d.r.mu.Lock()
	d.ahead.mu.Lock()
	allocated := max(d.r.cur.seg.allocated, d.ahead.cur.seg.allocated)
	for name, rd := range map[string]*segReader{"cursor": &d.r.cur.seg, "read-ahead's cursor": &d.ahead.cur.seg} {
		if tracked := len(rd.inUse) + len(rd.spare); tracked > maxReadBuffers {
			t.Errorf("the %s tracks %d read buffers after reading %d MB unacknowledged, want at most %d", name, tracked, n>>10, maxReadBuffers)
		}
	}
	d.ahead.mu.Unlock()
	d.r.mu.Unlock()
	if allocated <= maxReadBuffers {
		t.Errorf("%d read buffers allocated for %d MB, want more than %d (else this tests nothing)", allocated, n>>10, maxReadBuffers)
	}
	for i, e := range held {
		if !isNumbered(e, i) {
			t.Fatalf("entry %d read back as key %q, value %.10q... after later reads", i, e.Key, e.Value)
		}
	}
}

// numberedValue is the 1000-byte value of appendNumbered's record i.
func numberedValue(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1000) }

// appendNumbered appends n records, record i keyed by i in decimal with
// numberedValue(i), in batches of 100.
func appendNumbered(t *testing.T, d *Disk, n int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		batch := make([]event.Record, min(100, n-i))
		for j := range batch {
			batch[j] = event.Record{Topic: "t", Key: []byte(strconv.Itoa(i + j)), Value: numberedValue(i + j)}
		}
		if err := d.Append(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
}

// isNumbered reports whether e is appendNumbered's record i.
func isNumbered(e Entry, i int) bool {
	return string(e.Key) == strconv.Itoa(i) && bytes.Equal(e.Value, numberedValue(i)) && e.Topic == "t"
}

// A drainer reading ahead (PeekAfter, batch after batch, acknowledging as
// it goes) while publishers keep appending sees every record exactly once,
// in order: the background read-ahead stops at the tail, is restarted
// after it, and never hands over a batch that does not continue the last.
func TestReadAheadWhileAppendingDeliversEveryRecordOnceInOrder(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 1 << 20})
	const n, writers = 6000, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				if err := d.Append(context.Background(), rec(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := make([]bool, n)
	lastByWriter := make([]int, writers)
	for i := range lastByWriter {
		lastByWriter[i] = -1
	}
	var last uint64
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n {
		if time.Now().After(deadline) {
			t.Fatalf("drained %d of %d records", got, n)
		}
		max := 50 + got%7*40 // the batch size varies, as read-aheads must cope
		es, err := d.PeekAfter(context.Background(), last, max)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			i := recIndex(t, e)
			if e.Seq <= last || seen[i] {
				t.Fatalf("record %d (seq %d) again, after seq %d", i, e.Seq, last)
			}
			if w := i % writers; i <= lastByWriter[w] {
				t.Fatalf("writer %d's record %d after its record %d", w, i, lastByWriter[w])
			} else {
				lastByWriter[w] = i
			}
			seen[i], last = true, e.Seq
			got++
		}
		if len(es) > 0 && got%3 == 0 {
			if err := d.Ack(last); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
}

// A PeekAfter that returns a full batch reads the next batches in the
// background: the PeekAfter that continues from it reads nothing from
// disk. One that takes a batch from a read-ahead and leaves the next one
// buffered has already started reading the one after. One that returns
// less (the tail) starts no read-ahead.
func TestFullPeekAfterReadsTheNextBatchAhead(t *testing.T) {
	ffs := newFaultFS()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs})
	// Four records of 100 kB are more than the cursor's buffer holds, so
	// a batch cannot come from bytes read for the previous one.
	const n, batch = 21, 4 // several read-aheads, each of readAheadBatches batches
	for i := range n {
		r := rec(i)
		r.Key = make([]byte, 100_000)
		if err := d.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	var last uint64
	for from := 0; from < n; from += batch {
		if from > 0 {
			d.r.mu.Lock()
			buffered, ra := d.r.buffered != nil, d.r.ahead
			d.r.mu.Unlock()
			if ra != nil {
				<-ra.done
			} else if !buffered {
				t.Fatalf("nothing read ahead after a full batch ending at record %d", from-1)
			}
		}
		// The read-ahead this PeekAfter starts reads under the read-ahead
		// cursor's lock: held, its reads cannot count as this PeekAfter's.
		d.ahead.mu.Lock()
		reads := ffs.readBytes.Load()
		es, err := d.PeekAfter(context.Background(), last, batch)
		read := ffs.readBytes.Load() - reads
		d.ahead.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		want := ints(from, min(from+batch, n))
		if got := indexesOf(t, es); !equalInts(got, want) {
			t.Fatalf("PeekAfter(%d, %d) = %v, want %v", last, batch, got, want)
		}
		if from > 0 && read != 0 {
			t.Fatalf("PeekAfter of records %v read %d bytes: the batch was not read ahead", want, read)
		}
		last = es[len(es)-1].Seq
		d.r.mu.Lock()
		if b := d.r.buffered; b != nil && b.full {
			end := b.window[len(b.window)-1].end()
			if d.r.ahead == nil || d.r.ahead.start != end {
				t.Errorf("PeekAfter of records %v left %d buffered, but did not start reading after them", want, len(b.entries))
			}
		}
		d.r.mu.Unlock()
	}
	d.r.mu.Lock()
	defer d.r.mu.Unlock()
	if d.r.ahead != nil {
		t.Fatal("a PeekAfter that reached the tail started a read-ahead")
	}
}

// The read-ahead reads with a cursor of its own, outside the read side's
// lock: while it is stuck in a read, the PeekAfter that takes the batch
// buffered before it, and an Ack of what was delivered, go on.
func TestReadAheadDoesNotHoldUpPeekAfterOrAck(t *testing.T) {
	ffs := newFaultFS()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs})
	// Records of 100 kB, more than fit the cursor's buffer in one batch,
	// so the read-ahead must read from the file.
	const n, batch = 21, 4
	for i := range n {
		r := rec(i)
		r.Key = make([]byte, 100_000)
		if err := d.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	peek := func(after uint64, want []int) uint64 {
		t.Helper()
		got := make(chan []Entry, 1)
		go func() {
			es, err := d.PeekAfter(ctx, after, batch)
			if err != nil {
				t.Error(err)
			}
			got <- es
		}()
		select {
		case es := <-got:
			if idx := indexesOf(t, es); !equalInts(idx, want) {
				t.Fatalf("PeekAfter(%d) = %v, want %v", after, idx, want)
			}
			return es[len(es)-1].Seq
		case <-time.After(10 * time.Second):
			t.Fatalf("PeekAfter(%d) waited for the read-ahead's read", after)
			return 0
		}
	}
	waitAhead := func() {
		d.r.mu.Lock()
		ra := d.r.ahead
		d.r.mu.Unlock()
		if ra == nil {
			t.Fatal("no read-ahead under way after a full batch")
		}
		<-ra.done
	}

	last := peek(0, ints(0, 4)) // read now; records 4..11 are read ahead
	waitAhead()

	entered, release := holdFirstRead(ffs)
	// A failed check must not leave Close waiting for the read.
	defer release()
	last = peek(last, ints(4, 8)) // leaves 8..11 buffered, starts reading 12..19
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the read-ahead after records 8..11 never read")
	}
	last = peek(last, ints(8, 12))
	acked := make(chan error, 1)
	go func() { acked <- d.Ack(last) }()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ack waited for the read-ahead's read")
	}

	release()
	ffs.setRead(nil)
	last = peek(last, ints(12, 16))
	last = peek(last, ints(16, 20))
	peek(last, ints(20, 21))
	if got := d.Stats().Records; got != n-12 {
		t.Fatalf("Stats().Records = %d after acknowledging 12, want %d", got, n-12)
	}
}

// holdFirstRead makes the next read of a segment through ffs wait until
// release is called; entered is closed once it waits. Reads after it
// (by other readers too) go through.
func holdFirstRead(ffs *faultFS) (entered chan struct{}, release func()) {
	entered, gate := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	ffs.setRead(func(name string) {
		if isSegment(name) && first.CompareAndSwap(false, true) {
			close(entered)
			<-gate
		}
	})
	return entered, sync.OnceFunc(func() { close(gate) })
}

// Close while a read-ahead is in the middle of a read waits for it, and
// the read-ahead does not reopen the segment the Close closed.
func TestCloseWaitsForAReadAheadMidRead(t *testing.T) {
	ffs := newFaultFS()
	d, err := OpenDisk(t.TempDir(), DiskOptions{FS: ffs})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		r := rec(i)
		r.Key = make([]byte, 100_000)
		if err := d.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	es, err := d.PeekAfter(context.Background(), 0, 2) // reads 0..1 itself
	if err != nil || len(es) != 2 {
		t.Fatalf("first batch: %d entries, %v", len(es), err)
	}
	entered, release := holdFirstRead(ffs)
	defer release()
	d.r.mu.Lock()
	ra := d.r.ahead
	d.r.mu.Unlock()
	if ra == nil {
		t.Fatal("no read-ahead after a full batch")
	}
	select {
	case <-entered:
	case <-ra.done: // it read everything before the hook was set: nothing to test
		t.Skip("the read-ahead finished before its read could be held")
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	// Close marks the spool closed before it closes the files, so once it
	// is marked, the read-ahead must not open any more.
	for !d.w.isClosed() {
		runtime.Gosched()
	}
	opens := ffs.opens.Load()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := ffs.opens.Load(); got != opens {
		t.Fatalf("%d files opened after Close began", got-opens)
	}
}

// Peek never sees records whose group commit has not finished, although
// their bytes are already in the segment file.
func TestPeekSeesOnlyCommittedRecords(t *testing.T) {
	ffs := newFaultFS()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs})
	appendRange(t, d, 0, 1)
	if got := queued(t, d); !equalInts(got, []int{0}) {
		t.Fatalf("queued = %v", got)
	}
	entered, gate := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	defer release() // a failed check must not leave Close waiting for the commit
	ffs.setSync(func(name string) error {
		if isSegment(name) {
			close(entered)
			<-gate // written, not yet fsynced
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- d.Append(context.Background(), rec(1)) }()
	<-entered
	if got := queued(t, d); !equalInts(got, []int{0}) {
		t.Fatalf("queued while the second append is being fsynced = %v, want only the first", got)
	}
	if got := d.Stats().Records; got != 1 {
		t.Fatalf("Stats().Records = %d while the second append is being fsynced, want 1", got)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ffs.setSync(nil)
	if got := queued(t, d); !equalInts(got, []int{0, 1}) {
		t.Fatalf("queued after the commit = %v", got)
	}
}

// Ack writes the head file (two fsyncs) without holding up readers: a
// drainer's PeekAfter, and the read-ahead behind it, go on while an Ack of
// the batches before is waiting for the disk.
func TestPeekAfterGoesOnWhileAckWritesTheHead(t *testing.T) {
	ffs := newFaultFS()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs})
	appendRange(t, d, 0, 20)
	ctx := context.Background()
	first, err := d.PeekAfter(ctx, 0, 10)
	if err != nil || len(first) != 10 {
		t.Fatalf("first batch: %d entries, %v", len(first), err)
	}

	syncing, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ffs.setSync(func(name string) error {
		if name == headFileName {
			once.Do(func() { close(syncing) })
			<-release
		}
		return nil
	})
	acked := make(chan error, 1)
	go func() { acked <- d.Ack(first[9].Seq) }()
	<-syncing

	read := make(chan []Entry, 1)
	go func() {
		es, err := d.PeekAfter(ctx, first[9].Seq, 10)
		if err != nil {
			t.Error(err)
		}
		read <- es
	}()
	select {
	case es := <-read:
		if got := indexesOf(t, es); !equalInts(got, ints(10, 20)) {
			t.Errorf("PeekAfter during the Ack returned %v, want 10..19", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("PeekAfter waited for the Ack's head-file fsync")
	}
	// A Peek from the head meanwhile rebuilds the window from the old
	// head: the Ack, once written, must still leave exactly 10..19.
	go func() {
		es, err := d.Peek(ctx, 5)
		if err != nil {
			t.Error(err)
		}
		read <- es
	}()
	select {
	case es := <-read:
		if got := indexesOf(t, es); !equalInts(got, ints(0, 5)) {
			t.Errorf("Peek during the Ack returned %v, want 0..4 (not acknowledged yet)", got)
		}
	case <-time.After(10 * time.Second):
		t.Error("Peek waited for the Ack's head-file fsync")
	}
	close(release)
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	if got, st := queued(t, d), d.Stats(); !equalInts(got, ints(10, 20)) || st.Records != 10 {
		t.Fatalf("queued %v, %d records after the Ack, want 10..19", got, st.Records)
	}
}
