package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClassifyMapsFailuresToSentinels(t *testing.T) {
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name      string
		err       error
		want      error
		retriable bool
	}{
		{"broker message too large", kerr.MessageTooLarge, ErrMessageTooLarge, false},
		{"client-side message too large", fmt.Errorf("%w (uncompressed_bytes=9)", kerr.MessageTooLarge), ErrMessageTooLarge, false},
		{"record list too large", kerr.RecordListTooLarge, ErrMessageTooLarge, false},
		{"invalid topic", kerr.InvalidTopicException, ErrInvalidTopic, false},
		{"topic authorization", kerr.TopicAuthorizationFailed, ErrAuthorization, false},
		{"cluster authorization", kerr.ClusterAuthorizationFailed, ErrAuthorization, false},
		{"sasl authentication", kerr.SaslAuthenticationFailed, ErrAuthorization, false},
		{"timeout whose last error was authorization", fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, kerr.SaslAuthenticationFailed), ErrAuthorization, false},
		{"unknown topic", kerr.UnknownTopicOrPartition, ErrUnknownTopic, false},
		{"unknown topic id", kerr.UnknownTopicID, ErrUnknownTopic, false},
		{"client closed", kgo.ErrClientClosed, ErrBusClosed, false},
		{"invalid record", fmt.Errorf("%w: topic is empty", ErrInvalidRecord), ErrInvalidRecord, false},
		{"policy violation", kerr.PolicyViolation, ErrRejected, false},
		{"broker-side invalid record", kerr.InvalidRecord, ErrRejected, false},
		{"not leader", kerr.NotLeaderForPartition, ErrUnavailable, true},
		{"leader not available", kerr.LeaderNotAvailable, ErrUnavailable, true},
		{"not enough replicas", kerr.NotEnoughReplicas, ErrUnavailable, true},
		{"not enough replicas after append", kerr.NotEnoughReplicasAfterAppend, ErrUnavailable, true},
		{"request timed out", kerr.RequestTimedOut, ErrUnavailable, true},
		{"connection refused", dialRefused, ErrUnavailable, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ErrUnavailable, true},
		{"connection closed mid-request", io.ErrUnexpectedEOF, ErrUnavailable, true},
		{"record timeout", fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, dialRefused), ErrUnknownOutcome, true},
		{"retries exhausted", kgo.ErrRecordRetries, ErrUnknownOutcome, true},
		{"deadline", context.DeadlineExceeded, ErrUnknownOutcome, true},
		{"canceled", context.Canceled, ErrUnknownOutcome, true},
		{"unrecognised", errors.New("something else"), nil, false},
		{"unknown server error", kerr.UnknownServerError, ErrRejected, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, retriable := classify(tc.err)
			if retriable != tc.retriable || IsRetriable(tc.err) != tc.retriable {
				t.Errorf("retriable = %v, IsRetriable = %v, want %v", retriable, IsRetriable(tc.err), tc.retriable)
			}
			if tc.want != nil && !errors.Is(got, tc.want) {
				t.Errorf("classify = %v, want it to wrap %v", got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("classify = %v lost the cause %v", got, tc.err)
			}
		})
	}
}

func TestIsRetriableOfNilIsFalse(t *testing.T) {
	if IsRetriable(nil) {
		t.Error("IsRetriable(nil)")
	}
}

func TestIsRetriableTrustsProduceErrorField(t *testing.T) {
	// The field, not the cause, decides: ResilientBus fakes build these.
	if !IsRetriable(&ProduceError{Topic: "t", Partition: -1, Err: errors.New("x"), Retriable: true}) {
		t.Error("Retriable field true, IsRetriable false")
	}
	if IsRetriable(fmt.Errorf("publish: %w", &ProduceError{Topic: "t", Err: kerr.NotLeaderForPartition})) {
		t.Error("Retriable field false, IsRetriable true")
	}
}

func TestProduceErrorNamesTopicPartitionAndCause(t *testing.T) {
	err := error(&ProduceError{Topic: "orders", Partition: 3, Err: fmt.Errorf("%w: %w", ErrMessageTooLarge, kerr.MessageTooLarge)})
	for _, want := range []string{`"orders"`, "partition 3", "message too large", "MESSAGE_TOO_LARGE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
	if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("errors.Is does not see through %v", err)
	}
	unassigned := &ProduceError{Topic: "orders", Partition: -1, Err: ErrBusClosed}
	if strings.Contains(unassigned.Error(), "partition") {
		t.Errorf("%q names a partition it never had", unassigned)
	}
}
