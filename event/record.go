package event

import "bytes"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is an envelope encoded for Kafka: the unit that the Kafka bus
// produces, the fallback queue stores and the drainer replays. Encoding
// happens once, at Publish; replay sends the same bytes.
type Record struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
}

// Size is the number of payload bytes the record carries (topic, key, value
// and headers), the unit that byte limits are measured in.
func (r *Record) Size() int {
	n := len(r.Topic) + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Header returns the value of the first header named key, or nil.
func (r *Record) Header(key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Clone returns a deep copy of r, sharing no bytes with it: for keeping a
// record whose bytes belong to someone else, such as an entry a disk spool
// will read over once it is acknowledged, or the records a Producer is
// handed. nil byte slices stay nil.
func (r *Record) Clone() Record {
	c := Record{Topic: r.Topic, Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)}
	if r.Headers != nil {
		c.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
	}
	return c
}
