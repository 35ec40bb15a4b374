package kafkabus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
)

func TestKafkaBusPublishDeliversEnvelopeWithHeaders(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), nil)
	env := newEnvelope(t, 1)
	if err := b.Publish(context.Background(), busTopic, "essay-1", env); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	recs := readBack(t, c, busTopic)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	if string(r.Key) != "essay-1" {
		t.Errorf("key %q", r.Key)
	}
	got, err := event.ParseEnvelope(r.Value)
	if err != nil || got.EventID != env.EventID || string(got.Data) != string(env.Data) {
		t.Errorf("value decodes to %+v, %v", got, err)
	}
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	for k, want := range map[string]string{
		event.HeaderEventID:       env.EventID.String(),
		event.HeaderEventType:     env.EventType,
		event.HeaderCorrelationID: env.CorrelationID,
	} {
		if headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, headers[k], want)
		}
	}
	if _, ok := headers[event.HeaderTraceParent]; ok {
		t.Error("traceparent header without a span")
	}
}

func TestKafkaBusPublishCarriesCallerSpanAsTraceparent(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), nil)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	if err := b.Publish(ctx, busTopic, "k", newEnvelope(t, 1)); err != nil {
		t.Fatal(err)
	}
	r := readBack(t, c, busTopic)[0]
	if got, want := header(r, event.HeaderTraceParent), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; got != want {
		t.Errorf("traceparent %q, want the caller's span %q (headers %v)", got, want, r.Headers)
	}
}

func TestKafkaBusProduceKeepsSliceOrderPerKey(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), nil)
	var recs []event.Record
	for i := range 200 {
		rec, err := newEnvelope(t, i).Record(busTopic, fmt.Sprintf("key-%d", i%3))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	for i, err := range b.Produce(context.Background(), recs) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	last := map[string]int{}
	for _, r := range readBack(t, c, busTopic) {
		env, err := event.ParseEnvelope(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := event.Decode[map[string]int](env)
		if prev, ok := last[string(r.Key)]; ok && n["n"] < prev {
			t.Fatalf("key %s: record %d after %d", r.Key, n["n"], prev)
		}
		last[string(r.Key)] = n["n"]
	}
	if len(last) != 3 {
		t.Errorf("keys read back: %v", last)
	}
}

func TestKafkaBusProduceOfNothingReturnsNoErrors(t *testing.T) {
	b := newBus(t, []string{deadAddr(t)}, nil)
	if errs := b.Produce(context.Background(), nil); len(errs) != 0 {
		t.Errorf("errs = %v", errs)
	}
}

func TestKafkaBusProduceRequestsUseAcksAllAndIdempotence(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	kf := c.Kfake()
	var mu sync.Mutex
	var acks []int16
	var producerIDs []int64
	kf.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		acks = append(acks, pr.Acks)
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(p.Records); err == nil {
					producerIDs = append(producerIDs, batch.ProducerID)
				}
			}
		}
		return nil, nil, false // observe only: kfake handles the request
	})
	b := newBus(t, c.Addrs(), nil)
	if err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acks) == 0 || slices.ContainsFunc(acks, func(a int16) bool { return a != -1 }) {
		t.Errorf("produce acks %v, want all -1 (all in-sync replicas)", acks)
	}
	if len(producerIDs) == 0 || slices.Contains(producerIDs, -1) {
		t.Errorf("batch producer ids %v, want idempotent (>= 0)", producerIDs)
	}
}

func TestKafkaBusPermanentFailuresReturnAtOnceAndAreNotRetriable(t *testing.T) {
	// Random bytes: franz-go compresses batches, and a repetitive
	// payload would shrink below the limit.
	random := make([]byte, 4096)
	rand.Read(random)
	big := hex.EncodeToString(random)
	for _, tc := range []struct {
		name    string
		cfg     embeddedkafka.Config
		setup   func(t *testing.T, c *embeddedkafka.Cluster)
		opts    func(*Options)
		topic   string
		payload string
		want    []error
		says    []string // the message names these
	}{
		{
			name:    "broker message.max.bytes",
			cfg:     embeddedkafka.Config{Topics: []string{busTopic}, BrokerConfigs: map[string]string{"message.max.bytes": "1024"}},
			topic:   busTopic,
			payload: big,
			want:    []error{ErrMessageTooLarge, kerr.MessageTooLarge},
		},
		{
			name: "topic max.message.bytes",
			setup: func(t *testing.T, c *embeddedkafka.Cluster) {
				if err := c.Kfake().CreateTopic("small.topic", 1, map[string]string{"max.message.bytes": "1024"}); err != nil {
					t.Fatal(err)
				}
			},
			topic:   "small.topic",
			payload: big,
			want:    []error{ErrMessageTooLarge, kerr.MessageTooLarge},
		},
		{
			name:    "producer MaxRecordBytes",
			cfg:     embeddedkafka.Config{Topics: []string{busTopic}},
			opts:    func(o *Options) { o.MaxRecordBytes = 1024 },
			topic:   busTopic,
			payload: big,
			want:    []error{ErrMessageTooLarge, kerr.MessageTooLarge},
		},
		{
			name:  "unknown topic with auto-creation off",
			cfg:   embeddedkafka.Config{Topics: []string{busTopic}},
			topic: "no.such.topic",
			want:  []error{ErrUnknownTopic, kerr.UnknownTopicOrPartition},
			// How to fix it: the option, its variable and the command.
			says: []string{"AllowAutoTopicCreation", "KAFKA_AUTO_CREATE_TOPICS", "huleedu topics create", `"no.such.topic"`},
		},
		{
			name:  "illegal topic name",
			topic: "bad topic!",
			want:  []error{ErrInvalidTopic},
		},
		{
			name:  "empty topic",
			topic: "",
			want:  []error{ErrInvalidRecord},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := embeddedkafka.NewTestCluster(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			b := newBus(t, c.Addrs(), func(o *Options) {
				// A permanent failure must not wait for this.
				o.PublishTimeout = time.Minute
				if tc.opts != nil {
					tc.opts(o)
				}
			})
			env, _ := event.NewEnvelope("T", "s", tc.payload)
			err := returnsWithin(t, 10*time.Second, func() error {
				return b.Publish(context.Background(), tc.topic, "k", env)
			})
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want errors.Is %v", err, w)
				}
			}
			for _, s := range tc.says {
				if !strings.Contains(fmt.Sprint(err), s) {
					t.Errorf("err = %v, want it to name %s", err, s)
				}
			}
			var pe *ProduceError
			if !errors.As(err, &pe) || pe.Topic != tc.topic || pe.Retriable || IsRetriable(err) {
				t.Errorf("err = %#v, want a non-retriable *ProduceError for topic %q", err, tc.topic)
			}
		})
	}
}

func TestKafkaBusAuthorizationFailuresAreErrAuthorization(t *testing.T) {
	describeOnly := []kfake.ACL{
		{Resource: kmsg.ACLResourceTypeTopic, Name: busTopic, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
	}
	allowed := []kfake.ACL{
		{Resource: kmsg.ACLResourceTypeTopic, Name: "allowed", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationWrite, Allow: true},
		{Resource: kmsg.ACLResourceTypeTopic, Name: "allowed", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
	}
	for _, tc := range []struct {
		name  string
		acls  []kfake.ACL
		topic string
		want  error
	}{
		{"topic not writable", allowed, busTopic, kerr.TopicAuthorizationFailed},
		{"no idempotent write on the cluster", describeOnly, busTopic, kerr.ClusterAuthorizationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{
				Brokers: 1,
				Topics:  []string{busTopic, "allowed"},
				Options: []kfake.Opt{
					kfake.EnableACLs(), kfake.EnableSASL(),
					kfake.Superuser("PLAIN", "admin", "admin"),
					kfake.User("PLAIN", "app", "pw", tc.acls...),
				},
			})
			b := newBus(t, c.Addrs(), func(o *Options) {
				o.PublishTimeout = time.Minute
				o.KgoOpts = append(o.KgoOpts, kgo.SASL(plain.Auth{User: "app", Pass: "pw"}.AsMechanism()))
			})
			err := returnsWithin(t, 10*time.Second, func() error {
				return b.Publish(context.Background(), tc.topic, "k", newEnvelope(t, 1))
			})
			if !errors.Is(err, ErrAuthorization) || !errors.Is(err, tc.want) || IsRetriable(err) {
				t.Errorf("err = %v, want non-retriable ErrAuthorization wrapping %v", err, tc.want)
			}
		})
	}
}

// franz-go retries a failed SASL handshake until the record times out, so
// rejected credentials are not reported at once; they are still reported
// as ErrAuthorization, not as a retriable outage. kfake drops the
// connection on a wrong password where Kafka answers
// SASL_AUTHENTICATION_FAILED, so the test answers as Kafka does.
func TestKafkaBusRejectedCredentialsAreErrAuthorization(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{
		Brokers: 1,
		Topics:  []string{busTopic},
		Options: []kfake.Opt{kfake.EnableACLs(), kfake.EnableSASL(), kfake.User("PLAIN", "app", "pw")},
	})
	kf := c.Kfake()
	kf.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		r := req.(*kmsg.SASLAuthenticateRequest)
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		return resp, nil, true
	})
	b := newBus(t, c.Addrs(), func(o *Options) {
		o.PublishTimeout = 1500 * time.Millisecond
		o.KgoOpts = append(o.KgoOpts, kgo.SASL(plain.Auth{User: "app", Pass: "wrong"}.AsMechanism()))
	})
	err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1))
	if !errors.Is(err, ErrAuthorization) || !errors.Is(err, kerr.SaslAuthenticationFailed) || IsRetriable(err) {
		t.Errorf("err = %v, want non-retriable ErrAuthorization wrapping SASL_AUTHENTICATION_FAILED", err)
	}
}

func TestKafkaBusUnreachableBrokersFailRetriablyWithinPublishTimeout(t *testing.T) {
	b := newBus(t, []string{deadAddr(t)}, func(o *Options) { o.PublishTimeout = 300 * time.Millisecond })
	err := returnsWithin(t, 10*time.Second, func() error {
		return b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1))
	})
	if !IsRetriable(err) {
		t.Errorf("err = %v, want retriable", err)
	}
	if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("err = %v, want ErrUnavailable or ErrUnknownOutcome", err)
	}
}

func TestKafkaBusCallerDeadlineIsReportedAsUnknownOutcome(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), func(o *Options) { o.PublishTimeout = time.Minute })
	if err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Fault(embeddedkafka.FaultBlackhole); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := returnsWithin(t, 10*time.Second, func() error { return b.Publish(ctx, busTopic, "k", newEnvelope(t, 1)) })
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, context.DeadlineExceeded) || !IsRetriable(err) ||
		!strings.Contains(err.Error(), "caller's context") {
		t.Errorf("err = %v, want retriable ErrUnknownOutcome naming the caller's context", err)
	}
}

func TestKafkaBusCloseFlushesBufferedRecords(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	// A linger longer than the test: only Close's flush sends the records.
	b := newBus(t, c.Addrs(), func(o *Options) { o.Linger = time.Minute; o.PublishTimeout = time.Hour })
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- b.Publish(context.Background(), busTopic, "k", newEnvelope(t, i)) }()
	}
	eventually(t, fmt.Sprintf("%d records buffered", n), func() bool { return b.Client().BufferedProduceRecords() >= n })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Publish during Close: %v", err)
		}
	}
	if got := len(readBack(t, c, busTopic)); got != n {
		t.Errorf("%d records in Kafka after Close, want %d", got, n)
	}
}

func TestKafkaBusCloseGivesUpWhenContextEnds(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), func(o *Options) { o.PublishTimeout = time.Hour })
	if err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 0)); err != nil {
		t.Fatal(err)
	}
	// franz-go calls a record's promise before it stops counting the record
	// as buffered: wait for that, so the count below is the second record.
	eventually(t, "the first record to leave the buffer", func() bool { return b.Client().BufferedProduceRecords() == 0 })
	if err := c.Fault(embeddedkafka.FaultBlackhole); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1)) }()
	eventually(t, "the second record buffered", func() bool { return b.Client().BufferedProduceRecords() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the flush to give up", err)
	}
	if err := <-published; !errors.Is(err, ErrBusClosed) {
		t.Errorf("Publish cut short by Close = %v, want ErrBusClosed", err)
	}
}

func TestKafkaBusPublishAfterCloseFailsWithErrBusClosed(t *testing.T) {
	b := newBus(t, []string{deadAddr(t)}, nil)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1))
	if !errors.Is(err, ErrBusClosed) || IsRetriable(err) {
		t.Errorf("Publish after Close = %v, want non-retriable ErrBusClosed", err)
	}
	rec, _ := newEnvelope(t, 2).Record(busTopic, "k")
	if errs := b.Produce(context.Background(), []event.Record{rec, rec}); len(errs) != 2 ||
		!errors.Is(errs[0], ErrBusClosed) || !errors.Is(errs[1], ErrBusClosed) || IsRetriable(errs[0]) {
		t.Errorf("Produce after Close = %v, want non-retriable ErrBusClosed for each record", errs)
	}
	if err := b.Ping(context.Background()); !errors.Is(err, ErrBusClosed) {
		t.Errorf("Ping after Close = %v", err)
	}
}

func TestKafkaBusPingReportsReachability(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{})
	b := newBus(t, c.Addrs(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping healthy cluster: %v", err)
	}
	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping with brokers cut = %v, want ErrUnavailable", err)
	}
}

func TestKafkaBusPublishRejectsInvalidEnvelopeWithoutSending(t *testing.T) {
	b := newBus(t, []string{deadAddr(t)}, nil)
	bad := newEnvelope(t, 1)
	bad.SourceService = ""
	for _, tc := range []struct {
		name string
		env  *event.Envelope
		want error
	}{
		{"nil envelope", nil, event.ErrInvalidEnvelope},
		{"invalid envelope", bad, event.ErrInvalidEnvelope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(context.Background(), busTopic, "k", tc.env)
			if !errors.Is(err, ErrInvalidRecord) || !errors.Is(err, tc.want) || IsRetriable(err) {
				t.Errorf("err = %v, want non-retriable ErrInvalidRecord and %v", err, tc.want)
			}
		})
	}
}

// Publish reuses its franz-go records and promises across calls. Under
// concurrency every caller must still get its own outcome, and every
// record in Kafka its own headers.
func TestKafkaBusConcurrentPublishesKeepTheirOwnOutcomesAndHeaders(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	if err := c.Kfake().CreateTopic("small.topic", 1, map[string]string{"max.message.bytes": "1024"}); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, c.Addrs(), nil)
	random := make([]byte, 2048)
	rand.Read(random)
	big := hex.EncodeToString(random) // incompressible, over the topic's limit

	const goroutines, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				n := g*each + i
				if n%3 == 2 {
					env, _ := event.NewEnvelope("T", "s", big)
					if err := b.Publish(context.Background(), "small.topic", "k", env); !errors.Is(err, ErrMessageTooLarge) {
						errs <- fmt.Errorf("oversized record %d: err = %v, want ErrMessageTooLarge", n, err)
					}
					continue
				}
				if err := b.Publish(context.Background(), busTopic, fmt.Sprint(n), newEnvelope(t, n)); err != nil {
					errs <- fmt.Errorf("record %d: %w", n, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := map[int]bool{}
	for _, r := range readBack(t, c, busTopic) {
		env, err := event.ParseEnvelope(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		n := seqOf(t, r.Value)
		if string(r.Key) != fmt.Sprint(n) || header(r, "event_id") != env.EventID.String() || header(r, "correlation_id") != fmt.Sprintf("corr-%d", n) {
			t.Errorf("record %d: key %q, event_id header %q (envelope %s), correlation_id %q: another call's record?",
				n, r.Key, header(r, "event_id"), env.EventID, header(r, "correlation_id"))
		}
		got[n] = true
	}
	for n := range goroutines * each {
		if n%3 != 2 && !got[n] {
			t.Errorf("record %d acknowledged but not in Kafka", n)
		}
	}
}
