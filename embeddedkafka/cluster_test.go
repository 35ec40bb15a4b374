package embeddedkafka

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestStartDefaultsToThreeBrokersAndSixPartitions(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	if n := len(c.Addrs()); n != 3 {
		t.Errorf("%d brokers, want 3", n)
	}
	for _, a := range c.Addrs() {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("address %q is not loopback", a)
		}
	}
	if n := len(c.Kfake().PartitionInfos(testTopic)); n != 6 {
		t.Errorf("%d partitions, want 6", n)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative brokers", Config{Brokers: -1}, "Config.Brokers is -1"},
		{"negative partitions", Config{Partitions: -2}, "Config.Partitions is -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestReadAllReturnsAcknowledgedRecordsInPartitionOrder(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}, Partitions: 2})
	cl := newClient(t, c)
	var want []string
	for i := range 20 {
		v := string(rune('a' + i))
		mustProduce(t, cl, "same-key", v)
		want = append(want, v)
	}
	if got := readValues(t, c); !slices.Equal(got, want) {
		t.Errorf("ReadAll = %v, want %v", got, want)
	}
}

func TestReadAllOfEmptyTopicReturnsNothing(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	if got := readValues(t, c); len(got) != 0 {
		t.Errorf("ReadAll = %v", got)
	}
}

func TestReadAllOfMissingTopicFails(t *testing.T) {
	c := NewTestCluster(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ReadAll(ctx, c.Addrs(), "no.such.topic"); err == nil {
		t.Error("ReadAll of a missing topic succeeded")
	}
}

func TestAutoTopicCreationFollowsConfig(t *testing.T) {
	for _, allow := range []bool{false, true} {
		c := NewTestCluster(t, Config{AllowAutoTopicCreation: allow, Partitions: 2})
		cl := newClient(t, c, kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(1))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := produce(ctx, cl, "k", "v")
		cancel()
		if (err == nil) != allow {
			t.Errorf("allow=%v: produce err = %v", allow, err)
		}
		if allow && len(c.Kfake().PartitionInfos(testTopic)) != 2 {
			t.Errorf("auto-created topic does not have the configured 2 partitions")
		}
	}
}

func TestCloseIsIdempotentAndEndsFaults(t *testing.T) {
	c, err := Start(Config{Brokers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fault(FaultBlackhole); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if err := c.Fault(FaultCut); !errors.Is(err, ErrClosed) {
		t.Errorf("Fault after Close = %v, want ErrClosed", err)
	}
	if err := c.Heal(); !errors.Is(err, ErrClosed) {
		t.Errorf("Heal after Close = %v, want ErrClosed", err)
	}
}

func TestConfigLoggerReceivesKfakeLogs(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})
	c := NewTestCluster(t, Config{Brokers: 1, Topics: []string{testTopic},
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	// A malformed request: kfake logs that it cannot parse it.
	conn := dial(t, c.Addrs()[0])
	body := []byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff}
	conn.Write(append([]byte{0, 0, 0, byte(len(body))}, body...))
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		logged := buf.String()
		mu.Unlock()
		if strings.Contains(logged, "unable to parse request") && strings.Contains(logged, "component=kfake") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kfake's log line never reached the logger: %q", logged)
		}
		time.Sleep(time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
