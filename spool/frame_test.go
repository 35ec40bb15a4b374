package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/huleedu/huleedu/event"
)

var frameTestRecords = []event.Record{
	{Topic: "t"},
	{Topic: "", Key: []byte{}, Value: []byte{}},
	{Topic: "essay.events", Key: []byte("essay-1"), Value: bytes.Repeat([]byte("x"), 300),
		Headers: []event.Header{{Key: "trace", Value: []byte("abc")}, {Key: "nil", Value: nil}, {Key: "", Value: []byte{}}}},
}

func TestRecordFrameRoundTripsEveryField(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	for i, r := range frameTestRecords {
		frame := appendRecordFrame(nil, uint64(i+1), at.UnixNano(), &r)
		if int64(len(frame)) != FrameSize(&r) {
			t.Errorf("record %d: frame is %d bytes, FrameSize says %d", i, len(frame), FrameSize(&r))
		}
		payload, n, err := parseFrame(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("record %d: parseFrame = %d, %v", i, n, err)
		}
		var e Entry
		if err := decodeRecordPayload(payload, &e); err != nil {
			t.Fatalf("record %d: decode: %v", i, err)
		}
		if e.Seq != uint64(i+1) || !e.AppendedAt.Equal(at) {
			t.Errorf("record %d: seq %d at %v", i, e.Seq, e.AppendedAt)
		}
		if again := appendRecordFrame(nil, e.Seq, e.AppendedAt.UnixNano(), &e.Record); !bytes.Equal(again, frame) {
			t.Errorf("record %d: decoded record encodes differently", i)
		}
		if (e.Key == nil) != (r.Key == nil) || (e.Value == nil) != (r.Value == nil) {
			t.Errorf("record %d: nil and empty not told apart: key %#v value %#v", i, e.Key, e.Value)
		}
	}
}

func TestDeadLetterFrameRoundTrips(t *testing.T) {
	dl := DeadLetter{ID: 7, Reason: "too large", At: time.Unix(5, 6),
		Entry: Entry{Seq: 42, AppendedAt: time.Unix(3, 4), Record: frameTestRecords[2]}}
	frame := appendDeadLetterFrame(nil, &dl)
	payload, _, err := parseFrame(frame)
	if err != nil {
		t.Fatal(err)
	}
	var got DeadLetter
	if err := decodeDeadLetterPayload(payload, &got); err != nil {
		t.Fatal(err)
	}
	if again := appendDeadLetterFrame(nil, &got); !bytes.Equal(again, frame) {
		t.Fatalf("decoded dead letter %+v encodes differently", got)
	}
}

// reseal recomputes a frame's checksum after its payload was changed.
func reseal(frame []byte) []byte {
	binary.LittleEndian.PutUint32(frame, uint32(len(frame)-frameHeaderSize))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(frame[frameHeaderSize:], castagnoli))
	return frame
}

func TestDamagedFramesAreRejected(t *testing.T) {
	good := func() []byte { return appendRecordFrame(nil, 9, 0, &frameTestRecords[2]) }
	tests := []struct {
		name   string
		frame  []byte
		parse  error // from parseFrame, or nil when parsing passes and decoding must fail
		decode bool
	}{
		{"header cut short", good()[:5], errFrameShort, false},
		{"payload cut short", good()[:40], errFrameShort, false},
		{"length below the smallest payload", func() []byte { f := good(); binary.LittleEndian.PutUint32(f, 3); return f }(), errFrameLength, false},
		{"length above the largest payload", func() []byte { f := good(); binary.LittleEndian.PutUint32(f, maxPayloadSize+1); return f }(), errFrameLength, false},
		{"flipped payload bit", func() []byte { f := good(); f[30] ^= 4; return f }(), errFrameCRC, false},
		{"flipped checksum bit", func() []byte { f := good(); f[5] ^= 4; return f }(), errFrameCRC, false},
		{"unknown payload kind", func() []byte { f := good(); f[8] = 9; return reseal(f) }(), nil, true},
		{"trailing bytes after the headers", reseal(append(good(), 0)), nil, true},
		{"non-minimal varint", func() []byte {
			f := appendRecordFrame(nil, 1, 0, &event.Record{Topic: "t"})
			// topic length 1 written as 0x81 0x00 instead of 0x01
			body := append(append(append([]byte{}, f[:frameHeaderSize+payloadPrefixSize]...), 0x81, 0x00), f[frameHeaderSize+payloadPrefixSize+1:]...)
			return reseal(body)
		}(), nil, true},
		{"header count past the end", func() []byte {
			f := appendRecordFrame(nil, 1, 0, &event.Record{Topic: "t"})
			f[len(f)-1] = 100
			return reseal(f)
		}(), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, _, err := parseFrame(tt.frame)
			if tt.parse != nil {
				if !errors.Is(err, tt.parse) {
					t.Fatalf("parseFrame = %v, want %v", err, tt.parse)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFrame = %v, want the frame to parse", err)
			}
			if err := decodeRecordPayload(payload, &Entry{}); !errors.Is(err, errPayload) {
				t.Fatalf("decode = %v, want errPayload", err)
			}
		})
	}
}

func TestDamagedHeadFilesAreRejected(t *testing.T) {
	state := headState{acked: 5, segBase: 1, off: 100, deadFirst: 2, next: 9, gen: 7}
	good := state.encode()
	if h, err := decodeHead(good); err != nil || h != state {
		t.Fatalf("decodeHead(good) = %+v, %v; want %+v", h, err, state)
	}
	slot := state.slot() // where the state is; the other slot is empty
	for name, b := range map[string][]byte{
		"empty":           {},
		"cut short":       good[:headFileSize-1],
		"one byte more":   append(bytes.Clone(good), 0),
		"no slot written": make([]byte, headFileSize),
		"flipped bit":     flip(good, int(slot)+17),
		"flipped CRC":     flip(good, int(slot)+57),
		"wrong magic":     flip(good, int(slot)),
		"wrong version":   flip(good, int(slot)+4),
		"dirty padding":   flip(good, int(slot)+headSlotUsed),
		// A slot must hold a generation of its own parity: a state
		// copied into the other slot is not trusted.
		"slot of the wrong parity": func() []byte {
			b := make([]byte, headFileSize)
			copy(b[headSlotSize-slot:], state.encodeSlot())
			return b
		}(),
		"generation 0": headState{acked: 5}.encode(),
	} {
		if h, err := decodeHead(b); err == nil {
			t.Errorf("%s: decodeHead accepted it as %+v", name, h)
		}
	}
}

// A head file holds two slots; an update overwrites the older. Whatever
// an interrupted update leaves in that one, the other is the head; of two
// good slots the newer is.
func TestHeadFileSlots(t *testing.T) {
	older := headState{acked: 10, next: 11, gen: 4}
	newer := headState{acked: 20, next: 21, gen: 5}
	file := func(a, b []byte) []byte {
		f := make([]byte, headFileSize)
		copy(f, a)
		copy(f[headSlotSize:], b)
		return f
	}
	torn := newer.encodeSlot()[:20] // the first bytes of the update reached the disk
	for _, tt := range []struct {
		name string
		file []byte
		want headState
	}{
		{"both good: the newer", file(older.encodeSlot(), newer.encodeSlot()), newer},
		{"both good, newer in slot 0", file(headState{acked: 30, gen: 6}.encodeSlot(), newer.encodeSlot()), headState{acked: 30, gen: 6}},
		{"update torn", file(older.encodeSlot(), torn), older},
		{"update wrote nothing", file(older.encodeSlot(), nil), older},
		{"older slot damaged", file(flip(older.encodeSlot(), 20), newer.encodeSlot()), newer},
		{"newer slot damaged", file(older.encodeSlot(), flip(newer.encodeSlot(), 20)), older},
	} {
		h, err := decodeHead(tt.file)
		if err != nil || h != tt.want {
			t.Errorf("%s: decodeHead = %+v, %v; want %+v", tt.name, h, err, tt.want)
		}
	}
}

// Head files of format version 1 (one 52-byte record, replaced whole)
// are still read.
func TestVersion1HeadFile(t *testing.T) {
	b := make([]byte, headV1Size)
	copy(b, "HHED")
	b[4] = 1
	for i, v := range []uint64{5, 1, 100, 2, 9} {
		binary.LittleEndian.PutUint64(b[8+8*i:], v)
	}
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli))
	want := headState{acked: 5, segBase: 1, off: 100, deadFirst: 2, next: 9}
	if h, err := decodeHead(b); err != nil || h != want {
		t.Fatalf("decodeHead(v1) = %+v, %v; want %+v", h, err, want)
	}
	if _, err := decodeHead(flip(b, 10)); err == nil {
		t.Error("a version 1 head with a flipped bit was accepted")
	}
}

// flip returns a copy of b with bit 0 of b[i] flipped.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// recordDecoder decodes like decodeRecordPayload and shares topic and
// header-key strings between records.
func TestRecordDecoderSharesStrings(t *testing.T) {
	var rd recordDecoder
	recs := append(append([]event.Record{}, frameTestRecords...), frameTestRecords...)
	var got []Entry
	for i, r := range recs {
		payload, _, err := parseFrame(appendRecordFrame(nil, uint64(i+1), int64(i), &r))
		if err != nil {
			t.Fatal(err)
		}
		var want, e Entry
		if err := decodeRecordPayload(payload, &want); err != nil {
			t.Fatal(err)
		}
		if err := rd.decode(payload, &e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("record %d: recordDecoder gave %+v, want %+v", i, e, want)
		}
		// Appending to a decoded slice must not write into the bytes
		// that follow it.
		if cap(e.Value) != len(e.Value) || cap(e.Key) != len(e.Key) {
			t.Errorf("record %d: key or value has room to grow into the next field's bytes", i)
		}
		// Nor to the headers, which share one allocation with the next
		// records' headers.
		if cap(e.Headers) != len(e.Headers) {
			t.Errorf("record %d: headers have room to grow into the next record's", i)
		}
		got = append(got, e)
	}
	a, b := got[2], got[2+len(frameTestRecords)]
	if unsafe.StringData(a.Topic) != unsafe.StringData(b.Topic) || unsafe.StringData(a.Headers[0].Key) != unsafe.StringData(b.Headers[0].Key) {
		t.Error("equal topics and header keys were allocated again, not shared")
	}
}

// The decoder hands out headers from one allocation per many records;
// a record with more headers than that gets its own, and every record's
// headers stay intact while later ones are decoded.
func TestRecordDecoderHeadersDoNotOverlap(t *testing.T) {
	var rd recordDecoder
	var got []Entry
	var want []event.Record
	for i := range 3 * headerChunk / 2 {
		n := i % 5
		if i == 100 {
			n = headerChunk // more than a chunk's share
		}
		r := event.Record{Topic: "t", Headers: make([]event.Header, n)}
		for j := range r.Headers {
			r.Headers[j] = event.Header{Key: "k", Value: []byte(fmt.Sprintf("%d/%d", i, j))}
		}
		payload, _, err := parseFrame(appendRecordFrame(nil, uint64(i+1), 0, &r))
		if err != nil {
			t.Fatal(err)
		}
		var e Entry
		if err := rd.decode(payload, &e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got, want = append(got, e), append(want, r)
	}
	for i, e := range got {
		if len(e.Headers) != len(want[i].Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(e.Headers), len(want[i].Headers))
		}
		for j, h := range e.Headers {
			if string(h.Value) != string(want[i].Headers[j].Value) {
				t.Fatalf("record %d header %d = %q after decoding the rest, want %q", i, j, h.Value, want[i].Headers[j].Value)
			}
		}
	}
}

func TestRecordDecoderBoundsItsSharedStrings(t *testing.T) {
	var rd recordDecoder
	for i := range 4 * maxShared {
		r := event.Record{Topic: "t", Headers: []event.Header{{Key: fmt.Sprintf("key-%d", i)}}}
		payload, _, _ := parseFrame(appendRecordFrame(nil, 1, 0, &r))
		var e Entry
		if err := rd.decode(payload, &e); err != nil || e.Headers[0].Key != r.Headers[0].Key {
			t.Fatalf("decode %d: %v, key %q", i, err, e.Headers[0].Key)
		}
	}
	if len(rd.strs) > maxShared {
		t.Fatalf("%d shared strings, want at most %d", len(rd.strs), maxShared)
	}
}
