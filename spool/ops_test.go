package spool

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshot describes every file under dir: name, size, mode, mtime, hash.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %v", info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[path] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// opsSpool makes a closed spool of 300 records over three segments where
// the first 50 are acknowledged and the next 3 dead-lettered.
func opsSpool(t *testing.T) (dir string, wantBytes int64) {
	t.Helper()
	dir = t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	es, _ := d.Peek(context.Background(), 50)
	if err := d.Ack(es[49].Seq); err != nil {
		t.Fatal(err)
	}
	deadLetterHeads(t, d, 3)
	for i := 53; i < 300; i++ {
		r := rec(i)
		wantBytes += FrameSize(&r)
	}
	if d.Stats().Bytes != wantBytes {
		t.Fatalf("setup: Stats().Bytes = %d, want %d", d.Stats().Bytes, wantBytes)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, wantBytes
}

func TestInspectReportsTheSpoolWithoutChangingIt(t *testing.T) {
	dir, wantBytes := opsSpool(t)
	last := segmentPaths(t, dir)[2]
	spans := frameSpans(t, last)
	damaged := spans[len(spans)-2]
	modifyFile(t, last, func(b []byte) []byte { b[damaged.to-1] ^= 1; return b })
	r298 := rec(298)
	wantBytes -= FrameSize(&r298)
	before := snapshot(t, dir)

	r, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("Inspect changed the directory:\nbefore %v\nafter  %v", before, after)
	}
	if r.Locked || r.Head != "ok" || r.AckedSeq != 53 || r.NextSeq != 301 {
		t.Fatalf("report = %+v", r)
	}
	if r.Records != 300-53-1 || r.Bytes != wantBytes || r.DeadLetters != 3 || r.OldestAt.IsZero() {
		t.Fatalf("report counts %d records, %d bytes, %d dead letters; want %d, %d, 3",
			r.Records, r.Bytes, r.DeadLetters, 300-53-1, wantBytes)
	}
	if len(r.Segments) != 3 || r.Segments[0].FirstSeq != 1 || r.Segments[2].Name != filepath.Base(last) {
		t.Fatalf("segments = %+v", r.Segments)
	}
	if len(r.Damaged) != 1 || r.Damaged[0].Offset != damaged.from || r.Damaged[0].Bytes != damaged.to-damaged.from || r.Damaged[0].Torn {
		t.Fatalf("damaged = %+v, want the one damaged frame at %d", r.Damaged, damaged.from)
	}
}

func TestInspectOfLockedSpoolReportsTheHolder(t *testing.T) {
	dir, _ := opsSpool(t)
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	r, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Locked || r.LockPID != os.Getpid() || r.Records != 247 {
		t.Fatalf("report = %+v, want locked by pid %d with 247 records", r, os.Getpid())
	}
	appendRange(t, d, 300, 301) // the holder is not disturbed
}

func TestPurgeOfLockedSpoolFailsWithErrLocked(t *testing.T) {
	dir, _ := opsSpool(t)
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	if _, err := Purge(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("Purge of a held spool = %v, want ErrLocked", err)
	}
	if n := d.Stats().Records; n != 247 {
		t.Fatalf("Stats().Records = %d after a refused purge, want 247", n)
	}
}

func TestInspectAndPurgeWhileAnotherProcessHoldsTheSpool(t *testing.T) {
	dir, _ := opsSpool(t)
	pid, release := startLockHolder(t, dir)
	r, err := Inspect(dir)
	if err != nil || !r.Locked || r.LockPID != pid || r.Records != 247 {
		t.Fatalf("Inspect = %+v, %v; want locked by pid %d with 247 records", r, err, pid)
	}
	_, err = Purge(dir)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != pid {
		t.Fatalf("Purge = %v, want a LockedError naming pid %d", err, pid)
	}
	release()
	if _, err := Purge(dir); err != nil {
		t.Fatalf("Purge after the holder exited: %v", err)
	}
}

func TestPurgeRemovesEverythingAndCountsExactly(t *testing.T) {
	dir, wantBytes := opsSpool(t)
	quarantined := filepath.Join(dir, quarantineDir, "00000000000000000001-100.bin")
	if err := os.MkdirAll(filepath.Dir(quarantined), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(quarantined, []byte("damaged range"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Purge(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := PurgeResult{Records: 247, Bytes: wantBytes, DeadLetters: 3, Segments: 3}
	if res != want {
		t.Fatalf("Purge = %+v, want %+v", res, want)
	}
	if n := len(segmentPaths(t, dir)); n != 0 {
		t.Fatalf("%d segment files left", n)
	}
	if _, err := os.Stat(quarantined); err != nil {
		t.Fatalf("Purge did not keep the quarantined file for the operator: %v", err)
	}
	d := openTest(t, dir, DiskOptions{})
	if s := d.Stats(); s.Records != 0 || s.DeadLetters != 0 {
		t.Fatalf("Stats() after purge = %+v", s)
	}
	appendRange(t, d, 0, 1)
	if es, _ := d.Peek(context.Background(), 1); es[0].Seq != 301 {
		t.Fatalf("seq after purge = %d, want 301", es[0].Seq)
	}
	d.Close()
	if res, err := Purge(dir); err != nil || res.Records != 1 || res.DeadLetters != 0 {
		t.Fatalf("second Purge = %+v, %v; want 1 record", res, err)
	}
}

func TestDumpStreamsQueuedEntriesOnly(t *testing.T) {
	dir, _ := opsSpool(t)
	openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes}) // works while held
	var got []int
	err := Dump(dir, func(e Entry) error {
		got = append(got, recIndex(t, e))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(got, ints(53, 300)) {
		t.Fatalf("Dump = %v", got)
	}
	var dead []int
	if err := DumpDeadLetters(dir, func(dl DeadLetter) error {
		dead = append(dead, recIndex(t, dl.Entry))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !equalInts(dead, []int{50, 51, 52}) {
		t.Fatalf("DumpDeadLetters = %v", dead)
	}
}

func TestDumpStopsAtTheCallbacksError(t *testing.T) {
	dir, _ := opsSpool(t)
	stop := errors.New("enough")
	n := 0
	err := Dump(dir, func(Entry) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("Dump = %v after %d entries, want the callback's error after 10", err, n)
	}
}

// The operator functions, and OpenDisk with Existing, refuse a path that
// is not a spool with ErrNotSpool and create nothing there; an existing
// spool opens as usual.
func TestOperatorFunctionsRefuseAPathThatIsNotASpool(t *testing.T) {
	base := t.TempDir()
	missing, empty := filepath.Join(base, "missing"), filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{missing, empty} {
		calls := map[string]error{}
		_, calls["Inspect"] = Inspect(dir)
		calls["Dump"] = Dump(dir, func(Entry) error { return nil })
		calls["DumpDeadLetters"] = DumpDeadLetters(dir, func(DeadLetter) error { return nil })
		_, calls["Purge"] = Purge(dir)
		_, calls["OpenDisk"] = OpenDisk(dir, DiskOptions{Existing: true, Logger: quietLogger})
		for name, err := range calls {
			if !errors.Is(err, ErrNotSpool) || !strings.Contains(err.Error(), dir+": not a spool directory") {
				t.Errorf("%s(%s) = %v, want ErrNotSpool naming the directory", name, dir, err)
			}
		}
		if entries, _ := os.ReadDir(base); len(entries) != 1 {
			t.Fatalf("the refused calls created files: %v", entries)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Fatalf("the refused calls wrote into %s: %v", empty, entries)
		}
	}
	d := openTest(t, empty, DiskOptions{}) // now it is a spool
	d.Close()
	openTest(t, empty, DiskOptions{Existing: true})
}
