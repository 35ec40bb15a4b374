package httpjson_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// decodeServer serves POST / with Decode and a limit of 1 KiB, over a
// real loopback connection.
func decodeServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v body
		if err := httpjson.Decode(w, r, &v, 1<<10); err != nil {
			httpjson.WriteErr(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOversizedBodyIsRefusedBeforeItIsSent sends only the headers of a
// request whose Content-Length is over the limit, as a client does that
// waits for "100 Continue" (or that is slow to send): the answer must be
// the 413 at once, never an invitation to send the body.
func TestOversizedBodyIsRefusedBeforeItIsSent(t *testing.T) {
	for _, expect := range []bool{true, false} {
		t.Run(fmt.Sprintf("Expect 100-continue %v", expect), func(t *testing.T) {
			srv := decodeServer(t)
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			head := "POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 8388608\r\n"
			if expect {
				head += "Expect: 100-continue\r\n"
			}
			if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to the headers alone: %v (the server waits for a body it will refuse)", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("first answer %s, want 413 before the body is sent", resp.Status)
			}
			var b httpjson.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || b.Error.Code != httpjson.CodeTooLarge ||
				b.Error.Message != "body exceeds 1024 bytes (Content-Length 8388608)" {
				t.Fatalf("413 body %+v (%v), want request_too_large naming the limit and the length", b, err)
			}
		})
	}
}

// countingReader counts the bytes a client read from it to send.
type countingReader struct {
	n    atomic.Int64
	left int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.left))
	for i := range n {
		p[i] = ' '
	}
	r.left -= int64(n)
	r.n.Add(int64(n))
	return n, nil
}

// A net/http client that asks before it sends (ExpectContinueTimeout)
// gets the 413 on every connection and sends none of the body.
func TestClientThatExpectsContinueGets413WithoutSendingTheBody(t *testing.T) {
	srv := decodeServer(t)
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for i := range 10 {
		body := &countingReader{left: 8 << 20}
		req, err := http.NewRequest(http.MethodPost, srv.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = 8 << 20
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v (connection reset instead of a 413?)", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("request %d: %s, want 413", i, resp.Status)
		}
		if sent := body.n.Load(); sent != 0 {
			t.Fatalf("request %d: the client sent %d bytes of a body the server refuses", i, sent)
		}
	}
}

// A body without a length (chunked) is cut off at the limit and answered
// with the same 413 body.
func TestChunkedBodyOverTheLimitIs413(t *testing.T) {
	srv := decodeServer(t)
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("x", 4<<10)), strings.NewReader(`"}`))
	req, err := http.NewRequest(http.MethodPost, srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b httpjson.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&b)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || b.Error.Code != httpjson.CodeTooLarge || b.Error.Message != "body exceeds 1024 bytes" {
		t.Fatalf("%s %+v, want 413 request_too_large", resp.Status, b)
	}
}
