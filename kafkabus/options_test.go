package kafkabus

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestNewKafkaBusRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no brokers", Options{}, "kafkabus: Options.Brokers = []: must list at least one host:port"},
		{"empty broker", Options{Brokers: []string{"a:9092", ""}}, `Options.Brokers = ["a:9092" ""]: must be a list of host:port`},
		{"broker without port", Options{Brokers: []string{"kafka"}}, `Options.Brokers = ["kafka"]: must be a list of host:port`},
		{"negative timeout", Options{Brokers: []string{"a:9092"}, PublishTimeout: -time.Second},
			"Options.PublishTimeout = -1s: must be between 1ms and 1h (the zero value means 10s)"},
		{"negative max bytes", Options{Brokers: []string{"a:9092"}, MaxRecordBytes: -1},
			"Options.MaxRecordBytes = -1: must be between 512 and 1073741824 (the zero value means 1000012)"},
		{"linger too long", Options{Brokers: []string{"a:9092"}, Linger: 2 * time.Minute}, "Options.Linger = 2m0s: must be between 0s and 1m"},
		{"metadata min age too short", Options{Brokers: []string{"a:9092"}, MetadataMinAge: time.Millisecond},
			"Options.MetadataMinAge = 1ms: must be between 10ms and 10m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewKafkaBus(tc.opts)
			if err == nil {
				b.Close(t.Context())
				t.Fatal("NewKafkaBus succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if _, ok := errors.AsType[*ConfigError](err); !ok || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v is not a *ConfigError matching ErrInvalidConfig", err)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Brokers: []string{"a:9092"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.ClientID != DefaultClientID || o.PublishTimeout != DefaultPublishTimeout || o.Linger != 0 || o.AllowAutoTopicCreation ||
		o.MaxRecordBytes != DefaultMaxRecordBytes || o.MetadataMinAge != time.Second {
		t.Errorf("defaults: %+v", o)
	}
}

func TestDerivedTimeoutsStayInsidePublishTimeout(t *testing.T) {
	for _, publish := range []time.Duration{100 * time.Millisecond, time.Second, 10 * time.Second, time.Minute} {
		if d := recordDeliveryTimeout(publish); d < time.Second || (publish > time.Second && d >= publish) {
			t.Errorf("publish %v: record delivery timeout %v", publish, d)
		}
		if d := produceRequestTimeout(publish); d >= publish && publish > 100*time.Millisecond {
			t.Errorf("publish %v: produce request timeout %v", publish, d)
		}
		if d := connTimeout(publish); d < 250*time.Millisecond || d > 10*time.Second || (publish >= time.Second && d > publish/4) {
			t.Errorf("publish %v: connection timeout %v", publish, d)
		}
		if d := metadataMinAge(publish); d < 50*time.Millisecond || d > 5*time.Second || (publish >= time.Second && d > publish/10) {
			t.Errorf("publish %v: metadata min age %v", publish, d)
		}
		backoff := retryBackoff(publish)
		limit := min(max(publish/4, 100*time.Millisecond), 5*time.Second)
		for fails := range 15 {
			d := backoff(fails)
			if d <= 0 || d > limit*12/10 {
				t.Errorf("publish %v: backoff after %d failures is %v, limit %v", publish, fails, d, limit)
			}
			if fails > 10 && d < limit*8/10 {
				t.Errorf("publish %v: backoff after %d failures is %v, want the limit %v", publish, fails, d, limit)
			}
		}
	}
}

// franz-go logs every failed dial and request: an application gets its
// lines only when it debugs, and then all of them.
func TestSlogLoggerLevelFollowsHandler(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  kgo.LogLevel
	}{
		{slog.LevelDebug, kgo.LogLevelDebug},
		{slog.LevelInfo, kgo.LogLevelNone},
		{slog.LevelWarn, kgo.LogLevelNone},
		{slog.LevelError, kgo.LogLevelNone},
	} {
		var buf bytes.Buffer
		l := slogLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))}
		if got := l.Level(); got != tc.want {
			t.Errorf("handler at %v: Level() = %v, want %v", tc.level, got, tc.want)
		}
		l.Log(kgo.LogLevelError, "broken", "broker", 1)
		if tc.want != kgo.LogLevelNone && !strings.Contains(buf.String(), "msg=broken broker=1 component=franz-go") {
			t.Errorf("handler at %v logged %q", tc.level, buf.String())
		}
	}
}
