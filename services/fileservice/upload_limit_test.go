package fileservice_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/fileservice"
)

// An upload whose Content-Length is over MaxRequestBytes is answered 413
// from its headers, over a real connection: a client that sent "Expect:
// 100-continue" is not invited to send a body that would be cut off
// (and its connection reset), and nothing is published.
func TestOversizedUploadIsRefusedFromItsHeaders(t *testing.T) {
	f := newFixture(t, fileservice.Config{MaxFileBytes: 10, MaxRequestBytes: 1024})
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	for i := range 5 {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(conn, "POST /v1/files/batch HTTP/1.1\r\nHost: test\r\n"+
			"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("upload %d: no answer to the headers: %v", i, err)
		}
		var b httpjson.ErrorBody
		decodeErr := json.NewDecoder(resp.Body).Decode(&b)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("upload %d: first answer %s, want 413 before the body is sent", i, resp.Status)
		}
		if decodeErr != nil || b.Error.Code != httpjson.CodeTooLarge {
			t.Fatalf("upload %d: body %+v (%v), want the JSON error request_too_large", i, b, decodeErr)
		}
	}
	if n := len(f.bus.All()); n != 0 {
		t.Fatalf("%d events published for refused uploads", n)
	}
}
