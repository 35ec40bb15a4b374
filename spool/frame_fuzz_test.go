package spool

import (
	"bytes"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// Seeds in testdata/fuzz/<target> complement the f.Add seeds below; run
// scripts/fuzz.sh to fuzz every target.

// FuzzDecodeFrame feeds arbitrary bytes to the frame and payload decoders:
// they must never panic, never accept a frame whose checksum does not
// match, and every payload they accept must encode back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	for i, r := range frameTestRecords {
		f.Add(appendRecordFrame(nil, uint64(i+1), int64(i)*1e9, &r))
	}
	dl := DeadLetter{ID: 1, Reason: "r", Entry: Entry{Seq: 3, Record: frameTestRecords[2]}}
	f.Add(appendDeadLetterFrame(nil, &dl))
	f.Add([]byte{})
	f.Add(make([]byte, 30))
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, n, err := parseFrame(b)
		if err != nil {
			return
		}
		if n > len(b) || n != frameHeaderSize+len(payload) {
			t.Fatalf("parseFrame returned length %d for %d bytes with a %d-byte payload", n, len(b), len(payload))
		}
		if crc32.Checksum(payload, castagnoli) != crc32.Checksum(b[frameHeaderSize:n], castagnoli) ||
			crc32.Checksum(payload, castagnoli) != uint32(b[4])|uint32(b[5])<<8|uint32(b[6])<<16|uint32(b[7])<<24 {
			t.Fatal("parseFrame accepted a frame whose checksum does not match")
		}
		var e, shared Entry
		var rd recordDecoder
		if (decodeRecordPayload(payload, &e) == nil) != (rd.decode(payload, &shared) == nil) {
			t.Fatal("decodeRecordPayload and recordDecoder disagree on validity")
		}
		if decodeRecordPayload(payload, &e) == nil {
			if decodeRecordPayload(payload, nil) != nil {
				t.Fatal("validation and decoding disagree")
			}
			if !reflect.DeepEqual(e, shared) {
				t.Fatalf("recordDecoder decoded %+v, decodeRecordPayload %+v", shared, e)
			}
			if again := appendRecordFrame(nil, e.Seq, e.AppendedAt.UnixNano(), &e.Record); !bytes.Equal(again, b[:n]) {
				t.Fatalf("accepted record re-encodes differently:\n%x\n%x", again, b[:n])
			}
		}
		var dl DeadLetter
		if decodeDeadLetterPayload(payload, &dl) == nil {
			if again := appendDeadLetterFrame(nil, &dl); !bytes.Equal(again, b[:n]) {
				t.Fatalf("accepted dead letter re-encodes differently:\n%x\n%x", again, b[:n])
			}
		}
	})
}

// fuzzSegment is a valid segment with base 1 holding n records.
func fuzzSegment(n int) []byte {
	b := logHeader(segmentKind, 1)
	for i := range n {
		b = appendRecordFrame(b, uint64(i+1), int64(i), &event.Record{Topic: "t", Key: []byte{byte(i)}, Value: bytes.Repeat([]byte{byte(i)}, i)})
	}
	return b
}

// FuzzRecover opens a spool whose only segment and head file hold
// arbitrary bytes. Opening must succeed and never panic; every entry the
// spool then delivers must be a frame with a valid checksum that was in
// the input, in increasing seq order; Inspect must have predicted the
// count; and a second open must find nothing left to repair.
func FuzzRecover(f *testing.F) {
	seg := fuzzSegment(6)
	f.Add(seg, []byte{})
	f.Add(seg[:len(seg)-3], []byte{})
	flipped := bytes.Clone(seg)
	flipped[60] ^= 0x20
	f.Add(flipped, headState{acked: 2, segBase: 1, off: 16, next: 3, gen: 1}.encode())
	f.Add(seg, headState{acked: 3, next: 4, gen: 2}.encode()[:headSlotSize+30]) // cut short
	f.Add(append(bytes.Clone(seg), make([]byte, 40)...), []byte("garbage head"))
	f.Add(seg[:10], []byte{})
	f.Fuzz(func(t *testing.T, seg, head []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(head) > 0 {
			if err := os.WriteFile(filepath.Join(dir, headFileName), head, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		predicted, err := Inspect(dir)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		ffs := newFaultFS()
		ffs.noSync = true
		opts := DiskOptions{FS: ffs, Logger: quietLogger}
		d, err := OpenDisk(dir, opts)
		if err != nil {
			t.Fatalf("OpenDisk: %v", err)
		}
		es, err := d.Peek(context.Background(), 1<<20)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if s := d.Stats(); s.Records != int64(len(es)) || s.Records != predicted.Records || s.Bytes != predicted.Bytes {
			t.Fatalf("Stats() = %+v with %d entries; Inspect predicted %d records, %d bytes", s, len(es), predicted.Records, predicted.Bytes)
		}
		for i, e := range es {
			frame := appendRecordFrame(nil, e.Seq, e.AppendedAt.UnixNano(), &e.Record)
			if !bytes.Contains(seg, frame) {
				t.Fatalf("entry %d (seq %d) is not a frame of the input", i, e.Seq)
			}
			if i > 0 && e.Seq <= es[i-1].Seq {
				t.Fatalf("seq %d after %d", e.Seq, es[i-1].Seq)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		d2, err := OpenDisk(dir, opts)
		if err != nil {
			t.Fatalf("second OpenDisk: %v", err)
		}
		defer d2.Close()
		if s := d2.Stats(); s.Quarantined != 0 || s.Records != int64(len(es)) {
			t.Fatalf("second open: Stats() = %+v, want %d records and nothing quarantined", s, len(es))
		}
	})
}
