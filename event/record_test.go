package event

import (
	"bytes"
	"testing"
)

// A clone shares no bytes with the original: writing over the original's
// (as a spool refilling a read buffer does) leaves the clone as it was,
// and nil stays nil while empty stays empty (the spool tells them apart).
func TestCloneSharesNoBytes(t *testing.T) {
	r := Record{Topic: "t", Key: []byte("key"), Value: []byte("value"),
		Headers: []Header{{Key: "event_id", Value: []byte("id")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}}
	c := r.Clone()
	for _, b := range [][]byte{r.Key, r.Value, r.Headers[0].Value} {
		for i := range b {
			b[i] = 'x'
		}
	}
	r.Headers[0].Key = "changed"
	if c.Topic != "t" || string(c.Key) != "key" || string(c.Value) != "value" ||
		c.Headers[0].Key != "event_id" || !bytes.Equal(c.Headers[0].Value, []byte("id")) {
		t.Fatalf("clone changed with the original: %+v", c)
	}
	if c.Headers[1].Value == nil || len(c.Headers[1].Value) != 0 {
		t.Errorf("empty header value cloned as %#v, want empty and non-nil", c.Headers[1].Value)
	}
	if c.Headers[2].Value != nil {
		t.Errorf("nil header value cloned as %#v, want nil", c.Headers[2].Value)
	}
	var empty Record
	if e := empty.Clone(); e.Key != nil || e.Value != nil || e.Headers != nil {
		t.Errorf("zero record cloned as %#v, want nil slices", e)
	}
}
