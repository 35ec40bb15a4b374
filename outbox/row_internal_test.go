package outbox

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/event"
)

func TestDecodeHeadersReadsWhatEncodeHeadersWrote(t *testing.T) {
	for name, hs := range map[string][]event.Header{
		"none":     nil,
		"envelope": {{Key: "event_id", Value: []byte("5b0a8c54-7d1e-4f0a-9a3c-2f6f3b7e9d10")}, {Key: "traceparent", Value: []byte("00-0102-01")}},
		"escapes":  {{Key: `quote"d`, Value: []byte("back\\slash\nnewline <&> é")}},
		"empty":    {{Key: "", Value: nil}},
	} {
		got, err := decodeHeaders(encodeHeaders(hs))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.EqualFunc(got, hs, func(a, b event.Header) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
			t.Errorf("%s: decoded %q, want %q", name, got, hs)
		}
	}
}

func TestDecodeHeadersFastRefusesWhatItCannotRead(t *testing.T) {
	for _, in := range []string{``, `[`, `[{"key":"a"}]`, `[{"key":"a","value":"b"}`, `[{"value":"b","key":"a"}]`, `[{"key":"a\"b","value":""}]`, `{}`} {
		if _, ok := decodeHeadersFast([]byte(in)); ok {
			t.Errorf("fast path accepted %q", in)
		}
	}
	// Whatever it refuses, encoding/json still reads when it is valid.
	b, _ := json.Marshal([]header{{Key: "a", Value: "b"}})
	if hs, err := decodeHeaders(append([]byte(" "), b...)); err != nil || len(hs) != 1 {
		t.Fatalf("fallback: %v, %v", hs, err)
	}
}
