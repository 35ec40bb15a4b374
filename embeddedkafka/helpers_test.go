package embeddedkafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "embeddedkafka.events"

// newClient returns a producing client for c that the test closes.
func newClient(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.MetadataMinAge(20 * time.Millisecond),
		// franz-go runs a broker's requests one at a time: a produce
		// request can wait behind a connection set-up that a fault
		// stalls, for as long as these timeouts allow, whatever the
		// record's context says.
		kgo.RequestTimeoutOverhead(250 * time.Millisecond),
		kgo.DialTimeout(250 * time.Millisecond),
		kgo.DisableClientMetrics(),
	}
	// KT_DEBUG=1 shows franz-go's debug log, for a test that misbehaves.
	if os.Getenv("KT_DEBUG") != "" {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce produces one record and waits for its outcome or ctx.
func produce(ctx context.Context, cl *kgo.Client, key, value string) error {
	return cl.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Key: []byte(key), Value: []byte(value)}).FirstErr()
}

func mustProduce(t *testing.T, cl *kgo.Client, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := produce(ctx, cl, key, value); err != nil {
		t.Fatalf("produce %s=%s: %v", key, value, err)
	}
}

// produceWithin produces one record that must fail: it returns the error.
func produceFails(t *testing.T, cl *kgo.Client, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := produce(ctx, cl, "k", "during-fault")
	if err == nil {
		t.Fatal("produce succeeded during the fault")
	}
	return err
}

func readValues(t *testing.T, c *Cluster) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := ReadAll(ctx, c.Addrs(), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]string, len(recs))
	for i, r := range recs {
		vals[i] = string(r.Value)
	}
	return vals
}

// apiVersions speaks raw Kafka protocol on conn: one ApiVersions v0
// request, and its response read back. It shows what a connection does
// under a fault without a client's retries in between.
func apiVersions(conn net.Conn, timeout time.Duration) error {
	conn.SetDeadline(time.Now().Add(timeout))
	req := kmsg.NewPtrApiVersionsRequest()
	body := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, 0) // version
	body = binary.BigEndian.AppendUint32(body, 7) // correlation id
	body = binary.BigEndian.AppendUint16(body, 0xffff)
	body = req.AppendTo(body)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := conn.Write(append(frame, body...)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	resp := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		return err
	}
	if corr := binary.BigEndian.Uint32(resp); corr != 7 {
		return fmt.Errorf("correlation id %d, want 7", corr)
	}
	return nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// exchange dials addr and does one apiVersions round trip on a new
// connection. A connection the fault layer resets may already fail to
// connect: the reset can overtake the handshake.
func exchange(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	return apiVersions(conn, timeout)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}
