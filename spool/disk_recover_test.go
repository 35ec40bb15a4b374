package spool

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recoverySpool is the spool every recovery row starts from: 300 records
// (values v0..v299, seqs 1..300) over three segments of 4 KiB.
const recoveryRecords = 300

func makeRecoverySpool(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, recoveryRecords)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentPaths(t, dir)); n != 3 {
		t.Fatalf("setup made %d segments, want 3", n)
	}
	return dir
}

func segmentPaths(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

// frameSpans returns where each frame of a segment file lies.
func frameSpans(t *testing.T, path string) []span {
	t.Helper()
	return logFrameSpans(t, path, segmentKind)
}

// logFrameSpans returns where each frame of a log file of kind lies.
func logFrameSpans(t *testing.T, path string, kind logKind) []span {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	var out []span
	s := newFrameScanner(f, info.Size(), kind, 1, math.MaxUint64)
	err = s.scan(logHeaderSize, func(it scanItem) error {
		if it.damaged {
			t.Fatalf("%s: damage at %d before the test damaged it", path, it.off)
		}
		out = append(out, span{it.off, it.off + it.n})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func modifyFile(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func quarantineFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, quarantineDir, "*"))
	return paths
}

// recordsIn returns how many records the segment at path holds.
func recordsIn(t *testing.T, path string) int { return len(frameSpans(t, path)) }

func TestOpenRecoversDamagedDirectories(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the directory and returns the record indexes
		// that must be queued afterwards, in order.
		damage          func(t *testing.T, dir string) []int
		wantQuarantined int
		// missing returns the gaps the open must report, in seqs (record
		// i has seq i+1).
		missing func(t *testing.T, dir string) []Gap
		check   func(t *testing.T, dir string)
	}{{
		name: "torn frame at the end of the newest segment is truncated",
		damage: func(t *testing.T, dir string) []int {
			last := segmentPaths(t, dir)[2]
			frame := appendRecordFrame(nil, recoveryRecords+1, 0, new(rec(999)))
			modifyFile(t, last, func(b []byte) []byte { return append(b, frame[:20]...) })
			return ints(0, recoveryRecords)
		},
	}, {
		name: "zeros at the end of the newest segment are truncated",
		damage: func(t *testing.T, dir string) []int {
			modifyFile(t, segmentPaths(t, dir)[2], func(b []byte) []byte { return append(b, make([]byte, 100)...) })
			return ints(0, recoveryRecords)
		},
	}, {
		name: "flipped bit mid-segment is quarantined and later records delivered",
		damage: func(t *testing.T, dir string) []int {
			first := segmentPaths(t, dir)[0]
			sp := frameSpans(t, first)[5]
			modifyFile(t, first, func(b []byte) []byte { b[sp.from+20] ^= 0x10; return b })
			return ints(0, recoveryRecords, 5)
		},
		wantQuarantined: 1,
		missing:         func(*testing.T, string) []Gap { return []Gap{{First: 6, Last: 6, Records: 1}} },
		check: func(t *testing.T, dir string) {
			q := quarantineFiles(t, dir)
			if len(q) != 1 || fileSize(t, q[0]) != frameSpans(t, segmentPaths(t, dir)[0])[5].to-frameSpans(t, segmentPaths(t, dir)[0])[4].to {
				t.Errorf("quarantine holds %v, want one file of the damaged frame", q)
			}
		},
	}, {
		name: "corrupt length mid-segment is quarantined and the scan resynchronises",
		damage: func(t *testing.T, dir string) []int {
			second := segmentPaths(t, dir)[1]
			sp := frameSpans(t, second)[10]
			first := recordsIn(t, segmentPaths(t, dir)[0])
			modifyFile(t, second, func(b []byte) []byte { copy(b[sp.from:], []byte{0xff, 0xff, 0xff, 0x7f}); return b })
			return ints(0, recoveryRecords, first+10)
		},
		wantQuarantined: 1,
		missing: func(t *testing.T, dir string) []Gap {
			seq := uint64(recordsIn(t, segmentPaths(t, dir)[0]) + 11)
			return []Gap{{First: seq, Last: seq, Records: 1}}
		},
	}, {
		name: "bad checksum on the newest record is quarantined, not silently truncated",
		damage: func(t *testing.T, dir string) []int {
			last := segmentPaths(t, dir)[2]
			spans := frameSpans(t, last)
			modifyFile(t, last, func(b []byte) []byte { b[spans[len(spans)-1].to-1] ^= 1; return b })
			return ints(0, recoveryRecords-1)
		},
		wantQuarantined: 1,
		// How many records the damaged tail held is unknown: the seqs as
		// many as could have fit in it are skipped, never handed out
		// again, and reported.
		missing: func(t *testing.T, dir string) []Gap {
			spans := frameSpans(t, segmentPaths(t, dir)[2])
			k := uint64((spans[len(spans)-1].to-spans[len(spans)-1].from)/minFrameSize + 1)
			return []Gap{{First: recoveryRecords, Last: recoveryRecords + k - 1, Records: int64(k)}}
		},
	}, {
		name: "segment truncated mid-frame before a newer segment loses only the cut record",
		damage: func(t *testing.T, dir string) []int {
			first := segmentPaths(t, dir)[0]
			spans := frameSpans(t, first)
			cut := spans[len(spans)-1]
			if err := os.Truncate(first, cut.from+(cut.to-cut.from)/2); err != nil {
				t.Fatal(err)
			}
			return ints(0, recoveryRecords, len(spans)-1)
		},
		wantQuarantined: 1,
		missing: func(t *testing.T, dir string) []Gap {
			seq := segmentBase(t, segmentPaths(t, dir)[1]) - 1
			return []Gap{{First: seq, Last: seq, Records: 1}}
		},
	}, {
		name: "older segment truncated to zero: its records are reported missing",
		damage: func(t *testing.T, dir string) []int {
			segs := segmentPaths(t, dir)
			if err := os.Truncate(segs[1], 0); err != nil {
				t.Fatal(err)
			}
			return append(ints(0, int(segmentBase(t, segs[1]))-1), ints(int(segmentBase(t, segs[2]))-1, recoveryRecords)...)
		},
		missing: func(t *testing.T, dir string) []Gap { return segmentGap(t, dir, 1) },
	}, {
		name: "middle segment deleted: its records are reported missing",
		damage: func(t *testing.T, dir string) []int {
			segs := segmentPaths(t, dir)
			if err := os.Remove(segs[1]); err != nil {
				t.Fatal(err)
			}
			return append(ints(0, int(segmentBase(t, segs[1]))-1), ints(int(segmentBase(t, segs[2]))-1, recoveryRecords)...)
		},
		missing: func(t *testing.T, dir string) []Gap { return segmentGap(t, dir, 1) },
	}, {
		name: "older segment cut short between records: the records cut off are reported missing",
		damage: func(t *testing.T, dir string) []int {
			first := segmentPaths(t, dir)[0]
			spans := frameSpans(t, first)
			if err := os.Truncate(first, spans[10].from); err != nil {
				t.Fatal(err)
			}
			return append(ints(0, 10), ints(len(spans), recoveryRecords)...)
		},
		missing: func(t *testing.T, dir string) []Gap {
			middle := segmentBase(t, segmentPaths(t, dir)[1])
			return []Gap{{First: 11, Last: middle - 1, Records: int64(middle - 11)}}
		},
	}, {
		name: "oldest unacknowledged segment deleted: the records from the head on are reported missing",
		damage: func(t *testing.T, dir string) []int {
			ackAndClose(t, dir, 50)
			if err := os.Remove(segmentPaths(t, dir)[0]); err != nil {
				t.Fatal(err)
			}
			return ints(int(segmentBase(t, segmentPaths(t, dir)[0]))-1, recoveryRecords)
		},
		missing: func(t *testing.T, dir string) []Gap {
			middle := segmentBase(t, segmentPaths(t, dir)[1])
			return []Gap{{First: 51, Last: middle - 1, Records: int64(middle - 51)}}
		},
	}, {
		name: "newest segment deleted: the head file's last update says how far the log went",
		damage: func(t *testing.T, dir string) []int {
			ackAndClose(t, dir, 50)
			newest := segmentPaths(t, dir)[2]
			if err := os.Remove(newest); err != nil {
				t.Fatal(err)
			}
			return ints(50, int(segmentBase(t, newest))-1)
		},
		missing: func(t *testing.T, dir string) []Gap {
			newest := segmentBase(t, segmentPaths(t, dir)[2])
			return []Gap{{First: newest, Last: recoveryRecords, Records: int64(recoveryRecords - newest + 1)}}
		},
	}, {
		name: "zero-length newest segment is removed",
		damage: func(t *testing.T, dir string) []int {
			if err := os.WriteFile(filepath.Join(dir, segmentName(recoveryRecords+1)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return ints(0, recoveryRecords)
		},
		check: func(t *testing.T, dir string) {
			if n := len(segmentPaths(t, dir)); n != 3 {
				t.Errorf("%d segments after recovery, want 3", n)
			}
		},
	}, {
		name: "newest segment cut inside its header is removed",
		damage: func(t *testing.T, dir string) []int {
			h := logHeader(segmentKind, recoveryRecords+1)
			if err := os.WriteFile(filepath.Join(dir, segmentName(recoveryRecords+1)), h[:7], 0o644); err != nil {
				t.Fatal(err)
			}
			return ints(0, recoveryRecords)
		},
	}, {
		name: "damaged segment header is quarantined and its records kept",
		damage: func(t *testing.T, dir string) []int {
			modifyFile(t, segmentPaths(t, dir)[1], func(b []byte) []byte { copy(b, "XXXX"); return b })
			return ints(0, recoveryRecords)
		},
		wantQuarantined: 1,
	}, {
		name: "torn write at the end of the dead-letter log is truncated",
		damage: func(t *testing.T, dir string) []int {
			deadLetterAndClose(t, dir, 3)
			frame := appendDeadLetterFrame(nil, &DeadLetter{ID: 4, Entry: Entry{Seq: 4, Record: rec(3)}})
			modifyFile(t, filepath.Join(dir, deadLetterName), func(b []byte) []byte { return append(b, frame[:30]...) })
			return ints(3, recoveryRecords)
		},
		check: func(t *testing.T, dir string) { wantDumpedDeadLetters(t, dir, 0, 1, 2) },
	}, {
		name: "flipped bit in a dead letter is quarantined and the others kept",
		damage: func(t *testing.T, dir string) []int {
			deadLetterAndClose(t, dir, 3)
			log := filepath.Join(dir, deadLetterName)
			sp := logFrameSpans(t, log, deadLetterKind)[1]
			modifyFile(t, log, func(b []byte) []byte { b[sp.to-1] ^= 0x04; return b })
			return ints(3, recoveryRecords)
		},
		wantQuarantined: 1,
		check:           func(t *testing.T, dir string) { wantDumpedDeadLetters(t, dir, 0, 2) },
	}, {
		name: "acknowledged segment whose removal a crash interrupted is removed unread",
		damage: func(t *testing.T, dir string) []int {
			first := segmentPaths(t, dir)[0]
			b, err := os.ReadFile(first)
			if err != nil {
				t.Fatal(err)
			}
			ackAndClose(t, dir, 150)
			b[len(b)-1] ^= 1 // damage that only a scan would find
			if err := os.WriteFile(first, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return ints(150, recoveryRecords)
		},
		check: func(t *testing.T, dir string) {
			if n := len(segmentPaths(t, dir)); n != 2 {
				t.Errorf("%d segments after recovery, want the 2 with queued records", n)
			}
		},
	}, {
		name: "corrupt head file replays from the oldest segment",
		damage: func(t *testing.T, dir string) []int {
			from := ackAndClose(t, dir, 150)
			modifyFile(t, filepath.Join(dir, headFileName), func(b []byte) []byte {
				b[9] ^= 1
				b[headSlotSize+9] ^= 1
				return b
			})
			return ints(from, recoveryRecords)
		},
	}, {
		name: "missing head file replays from the oldest segment",
		damage: func(t *testing.T, dir string) []int {
			from := ackAndClose(t, dir, 150)
			if err := os.Remove(filepath.Join(dir, headFileName)); err != nil {
				t.Fatal(err)
			}
			return ints(from, recoveryRecords)
		},
	}, {
		name: "unknown files are left alone and leftover temporary files removed",
		damage: func(t *testing.T, dir string) []int {
			for _, name := range []string{"notes.txt", "123.seg", "0000000000000000000x.seg", "00000000000000000000.seg"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("garbage"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Mkdir(filepath.Join(dir, "extra"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{headFileName + tempExt, segmentName(1) + tempExt} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("half written"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return ints(0, recoveryRecords)
		},
		check: func(t *testing.T, dir string) {
			for _, name := range []string{"notes.txt", "123.seg", "0000000000000000000x.seg", "00000000000000000000.seg", "extra"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("unknown file %s: %v", name, err)
				}
			}
			for _, name := range []string{headFileName + tempExt, segmentName(1) + tempExt} {
				if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
					t.Errorf("temporary file %s still there (%v)", name, err)
				}
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeRecoverySpool(t)
			var wantMissing []Gap
			if tt.missing != nil {
				wantMissing = tt.missing(t, dir)
			}
			want := tt.damage(t, dir)

			if r, err := Inspect(dir); err != nil || !slices.Equal(r.Missing, wantMissing) || r.MissingRecords != missingRecords(wantMissing) {
				t.Fatalf("Inspect before the open: missing %v (%d records), %v; want %v", r.Missing, r.MissingRecords, err, wantMissing)
			}
			d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
			if got := queued(t, d); !equalInts(got, want) {
				t.Fatalf("queued after recovery = %v,\nwant %v", got, want)
			}
			if got := d.Stats(); got.Quarantined != tt.wantQuarantined || got.Records != int64(len(want)) {
				t.Fatalf("Stats() = %+v, want %d records and %d quarantined", got, len(want), tt.wantQuarantined)
			}
			if got := d.Stats(); !slices.Equal(got.Gaps, wantMissing) || got.MissingRecords != missingRecords(wantMissing) {
				t.Fatalf("Stats() reports missing %v (%d records), want %v", got.Gaps, got.MissingRecords, wantMissing)
			}
			if n := len(quarantineFiles(t, dir)); n != tt.wantQuarantined {
				t.Fatalf("%d quarantine files, want %d", n, tt.wantQuarantined)
			}
			if r, err := Inspect(dir); err != nil || len(r.Damaged) != 0 {
				t.Fatalf("Inspect after recovery = %+v, %v; want nothing left to repair", r.Damaged, err)
			}
			if tt.check != nil {
				tt.check(t, dir)
			}
			// Seq numbering continues after everything the spool held.
			if err := d.Append(context.Background(), rec(1000)); err != nil {
				t.Fatal(err)
			}
			es, _ := d.Peek(context.Background(), 1<<20)
			if last := es[len(es)-1]; last.Seq <= recoveryRecords {
				t.Fatalf("seq after recovery = %d, want above %d", last.Seq, recoveryRecords)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			// Recovery is done once: a second open finds nothing to repair.
			d2 := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
			if got := queued(t, d2); !equalInts(got, append(want, 1000)) {
				t.Fatalf("queued after a second open = %v", got)
			}
			if q := d2.Stats().Quarantined; q != 0 {
				t.Fatalf("second open quarantined %d ranges", q)
			}
		})
	}
}

// deadLetterAndClose opens the spool in dir, dead-letters its first n
// records and closes it.
func deadLetterAndClose(t *testing.T, dir string, n int) {
	t.Helper()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	deadLetterHeads(t, d, n)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantDumpedDeadLetters checks the record indexes of the dead letters in
// dir, read without the lock.
func wantDumpedDeadLetters(t *testing.T, dir string, want ...int) {
	t.Helper()
	got := []int{}
	if err := DumpDeadLetters(dir, func(dl DeadLetter) error {
		got = append(got, recIndex(t, dl.Entry))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !equalInts(got, want) {
		t.Fatalf("dead letters after recovery = %v, want %v", got, want)
	}
}

// ackAndClose opens the spool in dir, acknowledges the first n records and
// closes it. It returns the index of the first record in the oldest
// segment left: where a replay without a head file starts.
func ackAndClose(t *testing.T, dir string, n int) int {
	t.Helper()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	es, err := d.Peek(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ack(es[n-1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	base, _ := parseSegmentName(filepath.Base(segmentPaths(t, dir)[0]))
	return int(base) - 1 // rec(i) has seq i+1
}

// An update of the head file overwrites its older slot, so a torn update
// leaves the newer one intact. If the newer one is damaged all the same
// (bit rot), the older slot is the head and the records acknowledged
// since come back, as duplicates; with both damaged, everything does.
func TestDamagedHeadSlotFallsBackToTheOther(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(newer int64) []int64 // offsets to flip
		want   []int
	}{
		{"intact", func(int64) []int64 { return nil }, ints(6, 10)},
		{"newer slot damaged", func(newer int64) []int64 { return []int64{newer + 20} }, ints(3, 10)},
		{"older slot damaged", func(newer int64) []int64 { return []int64{headSlotSize - newer + 20} }, ints(6, 10)},
		{"both damaged", func(int64) []int64 { return []int64{20, headSlotSize + 20} }, ints(0, 10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openTest(t, dir, DiskOptions{})
			appendRange(t, d, 0, 10)
			es, err := d.Peek(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{2, 5} { // two updates: one slot each
				if err := d.Ack(es[i].Seq); err != nil {
					t.Fatal(err)
				}
			}
			newer := d.head.state.slot()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			modifyFile(t, filepath.Join(dir, headFileName), func(b []byte) []byte {
				for _, off := range tt.damage(newer) {
					b[off] ^= 1
				}
				return b
			})
			d2 := openTest(t, dir, DiskOptions{})
			if got := queued(t, d2); !equalInts(got, tt.want) {
				t.Fatalf("queued after reopening = %v, want %v", got, tt.want)
			}
			// The reopened spool goes on with a sound head file.
			es, err = d2.Peek(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := d2.Ack(es[0].Seq); err != nil {
				t.Fatal(err)
			}
			d2.Close()
			if r, err := Inspect(dir); err != nil || r.Head != "ok" || r.Records != int64(len(tt.want)-1) {
				t.Fatalf("Inspect after one more Ack = %+v, %v; want head ok and %d records", r, err, len(tt.want)-1)
			}
		})
	}
}

// A spool whose head file has format version 1 opens with that head, and
// the file is rewritten in version 2.
func TestOpenReadsAVersion1HeadFile(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{})
	appendRange(t, d, 0, 10)
	d.Close()
	b := make([]byte, headV1Size)
	copy(b, "HHED")
	b[4] = 1
	binary.LittleEndian.PutUint64(b[8:], 4)   // acked: seqs 1..4, records 0..3
	binary.LittleEndian.PutUint64(b[40:], 11) // next seq floor
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli))
	if err := os.WriteFile(filepath.Join(dir, headFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	d2 := openTest(t, dir, DiskOptions{})
	if got := queued(t, d2); !equalInts(got, ints(4, 10)) {
		t.Fatalf("queued = %v, want 4..9", got)
	}
	d2.Close()
	if fi, err := os.Stat(filepath.Join(dir, headFileName)); err != nil || fi.Size() != headFileSize {
		t.Fatalf("head file after open: %v, %v; want %d bytes", fi, err, headFileSize)
	}
}
