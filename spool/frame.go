package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"time"

	"github.com/huleedu/huleedu/event"
)

// Frame layout (doc.go has the whole on-disk format):
//
//	offset size
//	0      4    payload length n, uint32 little endian
//	4      4    CRC32C (Castagnoli) of the payload
//	8      n    payload
//
// A payload starts with its kind and an ordinal (a record's seq, a dead
// letter's id) at fixed offsets, so a scan that resynchronises after damage
// can reject most candidate offsets without computing a checksum.
const (
	frameHeaderSize = 8
	// maxPayloadSize bounds one payload. Anything longer is refused on
	// append (ErrTooLarge) and treated as damage when read, so a corrupt
	// length never makes a reader allocate gigabytes.
	maxPayloadSize = 256 << 20

	payloadKindRecord     byte = 1 // record, format version 1
	payloadKindDeadLetter byte = 2 // dead letter, format version 1

	// payloadPrefixSize is kind(1) + ordinal(8) + time(8): the fixed part
	// every payload starts with.
	payloadPrefixSize = 17

	// minFrameSize is the smallest frame a record can have: header,
	// prefix, and one byte each for topic, key, value and header count.
	minFrameSize = frameHeaderSize + payloadPrefixSize + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errFrameShort  = errors.New("frame truncated")
	errFrameLength = errors.New("frame length out of range")
	errFrameCRC    = errors.New("frame checksum mismatch")
	errPayload     = errors.New("malformed payload")
)

// FrameSize is what one record costs in the disk spool, in bytes: its
// encoded payload plus the frame header. It is the unit DiskOptions.MaxBytes
// and Stats.Bytes count.
func FrameSize(r *event.Record) int64 {
	return frameHeaderSize + int64(recordPayloadSize(r))
}

// recordPayloadSize is the encoded size of a record payload.
func recordPayloadSize(r *event.Record) int {
	return 1 + recordBodySize(r)
}

// recordBodySize is the size of seq, appended-at and the record's fields.
func recordBodySize(r *event.Record) int {
	n := 16 + stringSize(len(r.Topic)) + nilableSize(r.Key) + nilableSize(r.Value)
	n += uvarintSize(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		n += stringSize(len(h.Key)) + nilableSize(h.Value)
	}
	return n
}

func stringSize(n int) int { return uvarintSize(uint64(n)) + n }

// nilableSize: byte slices are stored as uvarint(len+1) then the bytes, with
// 0 meaning nil, because Kafka tells a null key or value from an empty one.
func nilableSize(b []byte) int {
	if b == nil {
		return 1
	}
	return uvarintSize(uint64(len(b))+1) + len(b)
}

func uvarintSize(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

// appendRecordFrame appends r's frame with the given seq and appended-at
// time (unix nanoseconds) to dst.
func appendRecordFrame(dst []byte, seq uint64, at int64, r *event.Record) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, payloadKindRecord)
	dst = appendRecordBody(dst, seq, at, r)
	return sealFrame(dst, start)
}

// sealFrame fills in the header of the frame that starts at dst[start:].
func sealFrame(dst []byte, start int) []byte {
	payload := dst[start+frameHeaderSize:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

func appendRecordBody(dst []byte, seq uint64, at int64, r *event.Record) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at))
	dst = appendString(dst, r.Topic)
	dst = appendNilable(dst, r.Key)
	dst = appendNilable(dst, r.Value)
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = appendString(dst, h.Key)
		dst = appendNilable(dst, h.Value)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendNilable(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// parseFrame checks the frame at the start of b. It returns the payload
// (aliasing b) and the frame's total length. errFrameShort means b ends
// before the frame does; any other error means b does not start with a
// valid frame.
func parseFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) < frameHeaderSize {
		return nil, 0, errFrameShort
	}
	size := binary.LittleEndian.Uint32(b)
	if size < payloadPrefixSize || size > maxPayloadSize {
		return nil, 0, fmt.Errorf("%w: %d bytes", errFrameLength, size)
	}
	n = frameHeaderSize + int(size)
	if len(b) < n {
		return nil, 0, errFrameShort
	}
	payload = b[frameHeaderSize:n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, errFrameCRC
	}
	return payload, n, nil
}

// payloadOrdinal reads a payload's kind and ordinal without decoding it.
func payloadOrdinal(p []byte) (kind byte, ord uint64, ok bool) {
	if len(p) < payloadPrefixSize {
		return 0, 0, false
	}
	return p[0], binary.LittleEndian.Uint64(p[1:]), true
}

// payloadTime reads the time a payload carries right after its ordinal: a
// record's appended-at, a dead letter's dead-lettered-at.
func payloadTime(p []byte) time.Time {
	return time.Unix(0, int64(binary.LittleEndian.Uint64(p[9:])))
}

// decodeRecordPayload decodes a record payload into e. The entry's byte
// slices alias p, so the caller hands over a p it no longer writes to. With
// e nil it only validates p, allocating nothing.
func decodeRecordPayload(p []byte, e *Entry) error {
	var unshared *recordDecoder
	return unshared.decode(p, e)
}

// recordDecoder decodes the records one reader reads, one after another,
// with fewer allocations than decodeRecordPayload: topics and header keys
// (a handful of distinct values, repeated in every record) are shared
// strings. Like decodeRecordPayload, the entries' byte slices alias the
// payload. Not safe for concurrent use.
type recordDecoder struct {
	strs map[string]string
	// last[i] is the string returned last at position i (0 the topic, 1
	// and on the header keys in order): consecutive records mostly repeat
	// them, and comparing with it is cheaper than hashing for the map.
	last [lastStrs]string
	// hdrs is room for the headers of records still to decode: each
	// record's are a slice of it (capped, so appending to one never
	// reaches the next record's), one allocation per many records instead
	// of one per record. Never reused: entries keep their headers.
	hdrs []event.Header
}

// headerChunk is how many headers one allocation of recordDecoder.hdrs
// holds: a few hundred records' worth.
const headerChunk = 1024

// headers returns room for n headers.
func (rd *recordDecoder) headers(n int) []event.Header {
	if rd == nil || n > headerChunk/4 {
		return make([]event.Header, n)
	}
	if len(rd.hdrs) < n {
		rd.hdrs = make([]event.Header, headerChunk)
	}
	h := rd.hdrs[:n:n]
	rd.hdrs = rd.hdrs[n:]
	return h
}

// maxShared and maxSharedLen bound the shared strings: header keys are
// the publisher's choice, and a decoder must not grow without bound on
// varied ones.
const (
	maxShared    = 256
	maxSharedLen = 255
)

// decode is decodeRecordPayload, sharing strings; a nil rd shares none.
func (rd *recordDecoder) decode(p []byte, e *Entry) error {
	if len(p) == 0 || p[0] != payloadKindRecord {
		return fmt.Errorf("%w: not a record", errPayload)
	}
	d := payloadDecoder{b: p[1:], shared: rd}
	d.recordBody(e)
	return d.finish()
}

// lastStrs is how many positions recordDecoder.last remembers.
const lastStrs = 8

// str returns b, found at position i of the record (see
// recordDecoder.last), as a string, shared with earlier equal ones when it
// can.
func (rd *recordDecoder) str(i int, b []byte) string {
	if rd == nil {
		return string(b)
	}
	if i < lastStrs {
		if s := rd.last[i]; s == string(b) { // the conversion does not allocate
			return s
		}
		s := rd.shared(b)
		rd.last[i] = s
		return s
	}
	return rd.shared(b)
}

// shared returns b as a string from the shared strings, adding it if there
// is room.
func (rd *recordDecoder) shared(b []byte) string {
	if s, ok := rd.strs[string(b)]; ok { // the conversion does not allocate
		return s
	}
	s := string(b)
	if len(rd.strs) < maxShared && len(s) <= maxSharedLen {
		if rd.strs == nil {
			rd.strs = make(map[string]string)
		}
		rd.strs[s] = s
	}
	return s
}

// decodeDeadLetterPayload decodes a dead-letter payload like
// decodeRecordPayload.
func decodeDeadLetterPayload(p []byte, dl *DeadLetter) error {
	if len(p) == 0 || p[0] != payloadKindDeadLetter {
		return fmt.Errorf("%w: not a dead letter", errPayload)
	}
	d := payloadDecoder{b: p[1:]}
	id, at := d.u64(), d.u64()
	reason := d.bytes(d.uvarint())
	var e *Entry
	if dl != nil {
		dl.ID, dl.At, dl.Reason = id, time.Unix(0, int64(at)), string(reason)
		e = &dl.Entry
	}
	d.recordBody(e)
	return d.finish()
}

// appendDeadLetterFrame appends the frame of dead letter dl to dst.
func appendDeadLetterFrame(dst []byte, dl *DeadLetter) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, payloadKindDeadLetter)
	dst = binary.LittleEndian.AppendUint64(dst, dl.ID)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(dl.At.UnixNano()))
	dst = appendString(dst, dl.Reason)
	dst = appendRecordBody(dst, dl.Entry.Seq, dl.Entry.AppendedAt.UnixNano(), &dl.Entry.Record)
	return sealFrame(dst, start)
}

// payloadDecoder reads a payload strictly: varints must be minimal, lengths
// must fit, and nothing may follow the last field, so every valid payload
// has exactly one encoding. The first error sticks; later reads return
// zero values.
type payloadDecoder struct {
	b      []byte
	err    error
	shared *recordDecoder // nil: every string is allocated
}

func (d *payloadDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errPayload, what)
	}
	d.b = nil
}

func (d *payloadDecoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail("short fixed field")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *payloadDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintSize(v) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *payloadDecoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("length past the end")
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *payloadDecoder) nilable() []byte {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	return d.bytes(n - 1)
}

func (d *payloadDecoder) recordBody(e *Entry) {
	seq, at := d.u64(), d.u64()
	topic := d.bytes(d.uvarint())
	key, value := d.nilable(), d.nilable()
	count := d.uvarint()
	if count > uint64(len(d.b))/2 { // every header takes at least 2 bytes
		d.fail("header count past the end")
		return
	}
	var headers []event.Header
	if e != nil && count > 0 {
		headers = d.shared.headers(int(count))
	}
	for i := range count {
		k, v := d.bytes(d.uvarint()), d.nilable()
		if headers != nil {
			headers[i] = event.Header{Key: d.shared.str(1+int(i), k), Value: v}
		}
	}
	if e == nil || d.err != nil {
		return
	}
	*e = Entry{Seq: seq, AppendedAt: time.Unix(0, int64(at)), Record: event.Record{
		Topic: d.shared.str(0, topic), Key: key, Value: value, Headers: headers,
	}}
}

func (d *payloadDecoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
