package kafkabus

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Options.
const (
	DefaultClientID       = "huleedu"
	DefaultPublishTimeout = 10 * time.Second
	// DefaultMaxRecordBytes is Kafka's default message.max.bytes (and
	// franz-go's default batch limit).
	DefaultMaxRecordBytes = 1_000_012
)

// Options configure a KafkaBus. Only Brokers is required; every zero value
// means the documented default. Config embeds Options and checks them the
// same way.
type Options struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string `json:"brokers"`

	// ClientID names this client in broker logs, metrics and quotas.
	// Default DefaultClientID.
	ClientID string `json:"client_id"`

	// PublishTimeout bounds one Publish or Produce call, retries included:
	// by then every record is acknowledged or failed. 1ms to 1h; default
	// 10s. When a broker goes silent mid-connection, franz-go may take up
	// to about a quarter of it longer to give up (see "Ordering and
	// timeouts").
	//
	// A record that times out fails with ErrUnknownOutcome (retriable): it
	// may have reached the broker. franz-go is told to give up on the
	// record itself (record context and RecordDeliveryTimeout), so a
	// record reported failed is no longer in franz-go's buffers. Shorter
	// timeouts make a Kafka outage cheaper for callers and make
	// duplicates more likely.
	PublishTimeout time.Duration `json:"publish_timeout"`

	// AllowAutoTopicCreation lets the broker create a topic on first
	// produce, if the broker allows it too. Default false: a typo in a
	// topic name is ErrUnknownTopic, not a new topic.
	AllowAutoTopicCreation bool `json:"allow_auto_topic_creation"`

	// MaxRecordBytes is the largest record batch the producer builds, and
	// so the largest record it sends; a larger record fails at once with
	// ErrMessageTooLarge without reaching Kafka. Keep it at or below the
	// broker's message.max.bytes. 512 to 1 GiB (franz-go's bounds);
	// default DefaultMaxRecordBytes, Kafka's default message.max.bytes.
	MaxRecordBytes int32 `json:"max_record_bytes"`

	// Linger is how long a partition waits for more records before
	// sending a batch, at most 1m. Default 0: send at once, since every
	// Publish waits for its acknowledgement; concurrent publishers still
	// share batches while a request is in flight.
	Linger time.Duration `json:"linger"`

	// MetadataMinAge is the least time between two metadata requests, and
	// so how soon after an outage the client learns that a leader is
	// back: a record waiting for a leader is failed or sent only when
	// metadata is refreshed. 10ms to 10m; default a tenth of
	// PublishTimeout, between 50ms and 5s (franz-go's own default, 5s,
	// would hold such a record that long past a shorter publish timeout).
	MetadataMinAge time.Duration `json:"metadata_min_age"`

	// KgoOpts are extra franz-go options (SASL, TLS, hooks, dialer),
	// applied after the ones above and so able to override them.
	// Overriding the acks, idempotency or timeout options voids the
	// guarantees in the package documentation.
	KgoOpts []kgo.Opt `json:"-"`

	// Logger receives the bus's own log lines (the first failure of an
	// outage, naming the brokers, and the first success after it) and,
	// when its handler enables debug, everything franz-go logs (a line
	// per failed dial or request: too many for any other level). Nil
	// means slog.Default().
	Logger *slog.Logger `json:"-"`
}

// unknownTopicRetries is how many metadata answers saying "unknown topic"
// franz-go waits for before it fails the records. franz-go's default of 4,
// with backoff, takes seconds; one retry still covers a metadata answer
// from a broker that has not yet heard of a topic that was just created.
// With auto-creation on, the topic appears after the first request, so the
// default stands.
const unknownTopicRetries = 1

// ensureDefaults replaces o's zero values by their defaults; Logger stays
// nil (see logger).
func (o *Options) ensureDefaults() {
	setZero(&o.ClientID, DefaultClientID)
	setZero(&o.PublishTimeout, DefaultPublishTimeout)
	setZero(&o.MaxRecordBytes, DefaultMaxRecordBytes)
	setZero(&o.MetadataMinAge, metadataMinAge(o.PublishTimeout))
}

// check reports o's problems after ensureDefaults.
func (o Options) check(ck *checker) {
	if len(o.Brokers) == 0 {
		ck.bad("Brokers", "[]", "must list at least one host:port", "")
	}
	for _, b := range o.Brokers {
		if host, port, ok := strings.Cut(b, ":"); !ok || host == "" || port == "" || strings.TrimSpace(b) != b {
			ck.bad("Brokers", fmt.Sprintf("%q", o.Brokers), "must be a list of host:port", "")
			break
		}
	}
	ck.durRange("PublishTimeout", o.PublishTimeout, time.Millisecond, time.Hour, DefaultPublishTimeout)
	if o.MaxRecordBytes < 512 || o.MaxRecordBytes > 1<<30 {
		ck.bad("MaxRecordBytes", strconv.Itoa(int(o.MaxRecordBytes)), "must be between 512 and 1073741824", strconv.Itoa(DefaultMaxRecordBytes))
	}
	if o.Linger < 0 || o.Linger > time.Minute {
		ck.bad("Linger", o.Linger.String(), "must be between 0s and 1m", "")
	}
	ck.durRange("MetadataMinAge", o.MetadataMinAge, 10*time.Millisecond, 10*time.Minute, 0)
}

// withDefaults fills o's defaults and validates it, for NewKafkaBus.
func (o Options) withDefaults() (Options, error) {
	o.ensureDefaults()
	ck := checker{in: "Options"}
	o.check(&ck)
	return o, ck.err()
}

// logger is Logger, or slog.Default() when it is nil.
func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// kgoOpts translates o into franz-go options. The reasoning behind each
// is in the package documentation ("Ordering and timeouts").
func (o Options) kgoOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Idempotence stays on (franz-go's default): sequence numbers
		// keep each partition gapless and in order across retries.
		// Cancellation lets franz-go fail an in-flight record when its
		// context ends, so Produce can wait for every promise and still
		// return within PublishTimeout.
		kgo.AllowIdempotentProduceCancellation(),
		kgo.RecordDeliveryTimeout(recordDeliveryTimeout(o.PublishTimeout)),
		kgo.ProduceRequestTimeout(produceRequestTimeout(o.PublishTimeout)),
		kgo.ProducerLinger(o.Linger),
		kgo.RequestTimeoutOverhead(connTimeout(o.PublishTimeout)),
		kgo.DialTimeout(connTimeout(o.PublishTimeout)),
		kgo.MetadataMinAge(o.MetadataMinAge),
		kgo.RetryBackoffFn(retryBackoff(o.PublishTimeout)),
		// KIP-714 telemetry is one more request stream that can sit in
		// a broker's request queue ahead of a produce request.
		kgo.DisableClientMetrics(),
	}
	opts = append(opts, kgo.ProducerBatchMaxBytes(o.MaxRecordBytes))
	if o.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	} else {
		opts = append(opts, kgo.UnknownTopicRetries(unknownTopicRetries))
	}
	opts = append(opts, kgo.WithLogger(slogLogger{o.logger()}))
	return append(opts, o.KgoOpts...)
}

// recordDeliveryTimeout is a little shorter than the publish timeout. The
// record context that Produce passes ends at the publish timeout, and is
// the hard bound: it also abandons a request in flight. franz-go checks
// the delivery timeout only between attempts, but failing a record for it
// reports the last error it saw ("last err: SASL_AUTHENTICATION_FAILED",
// "connection refused"), where a context end reports only "context
// deadline exceeded". Expiring first, it gives the better error for
// records that never left the client. franz-go's minimum is 1s.
func recordDeliveryTimeout(publish time.Duration) time.Duration {
	return max(publish-publish/10, time.Second)
}

// connTimeout bounds the waits franz-go does not tie to a record's
// context: dialing, initialising a connection (ApiVersions, SASL) and the
// read of requests without a timeout field (metadata). franz-go handles a
// broker's requests one at a time, so a produce request can queue behind
// such a wait on a dead or silent broker; the record fails only when the
// wait ends. A quarter of the publish timeout (at least 250ms, at most
// franz-go's default 10s) keeps that overshoot small.
func connTimeout(publish time.Duration) time.Duration {
	return min(max(publish/4, 250*time.Millisecond), 10*time.Second)
}

// metadataMinAge is the least time between two metadata requests. A
// record waiting for a leader (all brokers unreachable, leader gone) is
// checked against its deadline only when a metadata refresh fails, and
// franz-go's default minimum age of 5s would hold such a record that long
// past a shorter publish timeout. A tenth of the publish timeout, between
// 50ms and 5s.
func metadataMinAge(publish time.Duration) time.Duration {
	return min(max(publish/10, 50*time.Millisecond), 5*time.Second)
}

// retryBackoff returns franz-go's backoff between retries of one request
// or batch: exponential from a fortieth of the publish timeout (20ms to
// 250ms, franz-go's default start) up to a quarter of it (100ms to 5s,
// franz-go's default cap), with ±20% jitter. franz-go's fixed schedule
// (250ms doubling to 5s) spends longer than a short publish timeout on one
// failing metadata refresh, and the record's deadline is checked only
// between refreshes.
func retryBackoff(publish time.Duration) func(int) time.Duration {
	base := min(max(publish/40, 20*time.Millisecond), 250*time.Millisecond)
	limit := min(max(publish/4, 100*time.Millisecond), 5*time.Second)
	return func(fails int) time.Duration {
		d := limit
		if fails <= 10 {
			d = min(base<<max(fails-1, 0), limit)
		}
		return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	}
}

// produceRequestTimeout is how long a broker may wait for the in-sync
// replicas before answering REQUEST_TIMED_OUT: half the publish timeout,
// so a slow replica gets an answer, and franz-go a retry, within it.
func produceRequestTimeout(publish time.Duration) time.Duration {
	return max(publish/2, 100*time.Millisecond)
}
