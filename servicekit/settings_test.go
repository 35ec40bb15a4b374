package servicekit

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/spool"
)

const brokers = "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092"

func TestLoadSettingsFillsDefaults(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers}))
	if err != nil {
		t.Fatal(err)
	}
	d := func(v kafkabus.Duration) time.Duration { return time.Duration(v) }
	checks := []struct {
		name      string
		got, want any
	}{
		{"Service", s.Service, "file_service"},
		{"CircuitBreakerEnabled", s.CircuitBreakerEnabled, true},
		{"BootstrapServers", strings.Join(s.BootstrapServers, ","), "127.0.0.1:9092"},
		{"FailureThreshold", s.FailureThreshold, 10},
		{"RecoveryTimeout", d(s.RecoveryTimeout), 30 * time.Second},
		{"SuccessThreshold", s.SuccessThreshold, 3},
		{"FallbackQueueSize", s.FallbackQueueSize, 1000},
		{"FallbackMode", s.FallbackMode, kafkabus.FallbackMemory},
		{"FallbackMaxBytes", s.FallbackMaxBytes, int64(1 << 30)},
		{"FallbackOverflow", s.FallbackOverflow, spool.OverflowBlock},
		{"PublishTimeout", d(s.PublishTimeout), 10 * time.Second},
		{"HTTPAddr", s.HTTPAddr, "127.0.0.1:0"},
		{"AdminAddr", s.AdminAddr, "127.0.0.1:0"},
		{"LogLevel", s.LogLevel, slog.LevelInfo},
		{"ShutdownTimeout", d(s.ShutdownTimeout), 30 * time.Second},
		{"DataDir", s.DataDir, "data"},
		{"AutoCreateTopics", s.AutoCreateTopics, false},
		{"MetadataMinAge", d(s.MetadataMinAge), time.Second},
		{"ConsumerGroup", s.ConsumerGroup, "file_service"},
		{"ConsumerMaxAttempts", s.ConsumerMaxAttempts, 5},
		{"ConsumerRetryBackoff", d(s.ConsumerRetryBackoff), 200 * time.Millisecond},
		{"ConsumerRetryMaxBackoff", d(s.ConsumerRetryMaxBackoff), 5 * time.Second},
		{"ConsumerSessionTimeout", d(s.ConsumerSessionTimeout), 45 * time.Second},
		{"IdempotencyTTL", d(s.IdempotencyTTL), 24 * time.Hour},
		{"IdempotencyMaxEntries", s.IdempotencyMaxEntries, 100000},
		{"HTTPFailureThreshold", s.HTTPFailureThreshold, 5},
		{"HTTPRecoveryTimeout", d(s.HTTPRecoveryTimeout), 30 * time.Second},
		{"HTTPSuccessThreshold", s.HTTPSuccessThreshold, 2},
		{"HTTPClientTimeout", d(s.HTTPClientTimeout), 10 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The defaults are kafkabus's, so both packages document the same.
	want := kafkabus.DefaultSettings()
	want.BootstrapServers = s.BootstrapServers
	if got := s.Settings; got.FailureThreshold != want.FailureThreshold || got.RecoveryTimeout != want.RecoveryTimeout ||
		got.FallbackQueueSize != want.FallbackQueueSize || got.PublishTimeout != want.PublishTimeout {
		t.Errorf("kafka defaults %+v differ from kafkabus.DefaultSettings %+v", got, want)
	}
}

func TestPrefixedVariableOverridesUnprefixed(t *testing.T) {
	environ := []string{
		brokers,
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3",
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=7",
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=500ms",
		"SPELLCHECKER_SERVICE_HTTP_ADDR=127.0.0.1:7006",
	}
	file, err := LoadSettingsFrom(NewEnv("file_service", environ))
	if err != nil {
		t.Fatal(err)
	}
	if file.FailureThreshold != 7 || time.Duration(file.RecoveryTimeout) != 500*time.Millisecond {
		t.Errorf("file_service: threshold %d, recovery %v; want the prefixed 7 and 500ms", file.FailureThreshold, file.RecoveryTimeout)
	}
	if file.HTTPAddr != "127.0.0.1:0" {
		t.Errorf("file_service picked up another service's HTTP_ADDR: %q", file.HTTPAddr)
	}
	spell, err := LoadSettingsFrom(NewEnv("spellchecker_service", environ))
	if err != nil {
		t.Fatal(err)
	}
	if spell.FailureThreshold != 3 || spell.HTTPAddr != "127.0.0.1:7006" {
		t.Errorf("spellchecker_service: threshold %d, HTTP_ADDR %q; want the unprefixed 3 and its own 127.0.0.1:7006",
			spell.FailureThreshold, spell.HTTPAddr)
	}
}

func TestEmptyPrefixedVariableDoesNotOverride(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers,
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=4", "FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="}))
	if err != nil {
		t.Fatal(err)
	}
	if s.FailureThreshold != 4 {
		t.Fatalf("FailureThreshold = %d, want the unprefixed 4", s.FailureThreshold)
	}
}

func TestDiskModeDefaultsFallbackDirPerService(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadSettingsFrom(NewEnv("cj_assessment_service", []string{brokers, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR=" + dir}))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cj_assessment_service", "kafka-spool"); s.FallbackDir != want {
		t.Fatalf("FallbackDir = %q, want %q", s.FallbackDir, want)
	}
	s, err = LoadSettingsFrom(NewEnv("cj_assessment_service", []string{brokers, "KAFKA_FALLBACK_MODE=disk", "KAFKA_FALLBACK_DIR=/var/spool/cj"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.FallbackDir != "/var/spool/cj" {
		t.Fatalf("FallbackDir = %q, want the configured /var/spool/cj", s.FallbackDir)
	}
}

func TestInvalidSettingNamesVariableAndRange(t *testing.T) {
	cases := []struct {
		env  string // one variable=value on top of a valid environment
		want string // the message, exactly, in the error
	}{
		{"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=-1", `FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000`},
		{"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0", `KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="0": must be between 1 and 1000000`},
		{"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=ten", `KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="ten": must be an integer`},
		{"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=0", `FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD="0": must be between 1 and 1000000`},
		{"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0", `KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="0": must be between 10ms and 24h`},
		{"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=soon", `KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="soon": must be seconds (30) or a Go duration`},
		{"CIRCUIT_BREAKER_ENABLED=maybe", `CIRCUIT_BREAKER_ENABLED="maybe": must be true or false`},
		{"KAFKA_BOOTSTRAP_SERVERS=localhost", `KAFKA_BOOTSTRAP_SERVERS="localhost": must be a comma-separated list of host:port`},
		{"KAFKA_FALLBACK_QUEUE_SIZE=0", `KAFKA_FALLBACK_QUEUE_SIZE="0": must be between 1 and 100000000`},
		{"KAFKA_FALLBACK_QUEUE_SIZE=many", `KAFKA_FALLBACK_QUEUE_SIZE="many": must be an integer`},
		{"KAFKA_FALLBACK_MODE=tape", `KAFKA_FALLBACK_MODE="tape": must be disk or memory`},
		{"KAFKA_FALLBACK_OVERFLOW=drop", `KAFKA_FALLBACK_OVERFLOW="drop": must be block or reject`},
		{"KAFKA_FALLBACK_MAX_BYTES=lots", `KAFKA_FALLBACK_MAX_BYTES="lots": must be an integer`},
		{"KAFKA_PUBLISH_TIMEOUT=0", `KAFKA_PUBLISH_TIMEOUT="0": must be between 1ms and 1h`},
		{"KAFKA_AUTO_CREATE_TOPICS=perhaps", `KAFKA_AUTO_CREATE_TOPICS="perhaps": must be true or false`},
		{"HTTP_ADDR=nowhere", `HTTP_ADDR="nowhere": must be host:port`},
		{"FILE_SERVICE_ADMIN_ADDR=:99999", `FILE_SERVICE_ADMIN_ADDR=":99999": must be host:port with a port between 0 and 65535`},
		{"LOG_LEVEL=loud", `LOG_LEVEL="loud": must be debug, info, warn or error`},
		{"LOG_LEVEL=debug-8", `LOG_LEVEL="debug-8": must be debug, info, warn or error`},
		{"SHUTDOWN_TIMEOUT=0", `SHUTDOWN_TIMEOUT="0": must be between 100ms and 1h0m0s`},
		{"KAFKA_METADATA_MIN_AGE=0", `KAFKA_METADATA_MIN_AGE="0": must be between 10ms and 10m0s`},
		{"KAFKA_CONSUMER_MAX_ATTEMPTS=0", `KAFKA_CONSUMER_MAX_ATTEMPTS="0": must be between 1 and 1000`},
		{"KAFKA_CONSUMER_RETRY_BACKOFF=0", `KAFKA_CONSUMER_RETRY_BACKOFF="0": must be between 1ms and 10m0s`},
		{"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=1ms", `KAFKA_CONSUMER_RETRY_MAX_BACKOFF="1ms": must not be below KAFKA_CONSUMER_RETRY_BACKOFF (200ms)`},
		{"KAFKA_CONSUMER_SESSION_TIMEOUT=0", `KAFKA_CONSUMER_SESSION_TIMEOUT="0": must be between 100ms and 30m0s`},
		{"KAFKA_CONSUMER_IDEMPOTENCY_TTL=0", `KAFKA_CONSUMER_IDEMPOTENCY_TTL="0": must be between 1s and 8760h0m0s`},
		{"KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES=0", `KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES="0": must be between 1 and 100000000`},
		{"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0", `HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD="0": must be between 1 and 1000000`},
		{"HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=-3", `HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD="-3": must be between 1 and 1000000`},
		{"HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0", `HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="0": must be between 10ms and 24h0m0s`},
		{"HTTP_CLIENT_TIMEOUT=0", `HTTP_CLIENT_TIMEOUT="0": must be between 1ms and 1h0m0s`},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			_, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers, tc.env}))
			if err == nil {
				t.Fatal("LoadSettings accepted the value")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidSettings) {
				t.Errorf("errors.Is(err, ErrInvalidSettings) = false for %v", err)
			}
		})
	}
}

func TestDiskSpoolBelowOneMebibyteFailsStartup(t *testing.T) {
	_, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers, "KAFKA_FALLBACK_MODE=disk", "KAFKA_FALLBACK_MAX_BYTES=10"}))
	want := `KAFKA_FALLBACK_MAX_BYTES="10": must be at least 1048576 (1 MiB)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %s", err, want)
	}
}

func TestMissingBootstrapServersFailsStartup(t *testing.T) {
	_, err := LoadSettingsFrom(NewEnv("file_service", nil))
	want := `KAFKA_BOOTSTRAP_SERVERS="": must list at least one host:port`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %s", err, want)
	}
}

func TestSettingsErrorListsEveryProblem(t *testing.T) {
	_, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers,
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=-1", "KAFKA_FALLBACK_OVERFLOW=drop", "HTTP_CLIENT_TIMEOUT=x"}))
	var se *SettingsError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *SettingsError", err, err)
	}
	var vars []string
	for _, p := range se.Problems {
		vars = append(vars, p.Var)
	}
	if got, want := strings.Join(vars, " "), "FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD HTTP_CLIENT_TIMEOUT KAFKA_FALLBACK_OVERFLOW"; got != want {
		t.Fatalf("problems name %q, want %q", got, want)
	}
	var one *kafkabus.SettingError
	if !errors.As(err, &one) {
		t.Fatal("errors.As does not reach the *kafkabus.SettingError problems")
	}
}

func TestPrefixIsUpperSnakeOfServiceName(t *testing.T) {
	cases := map[string]string{
		"file_service":     "FILE_SERVICE_",
		"file-service":     "FILE_SERVICE_",
		"batchConductor":   "BATCH_CONDUCTOR_",
		"cj_assessment":    "CJ_ASSESSMENT_",
		"essay lifecycle2": "ESSAY_LIFECYCLE2_",
		"":                 "",
	}
	for in, want := range cases {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvParseReadsServiceConfig(t *testing.T) {
	var cfg struct {
		URL     string        `env:"BATCH_CONDUCTOR_URL" envDefault:"http://localhost:7004"`
		Timeout time.Duration `env:"PIPELINE_TIMEOUT" envDefault:"1s"`
	}
	e := NewEnv("batch_orchestrator_service", []string{"BATCH_ORCHESTRATOR_SERVICE_BATCH_CONDUCTOR_URL=http://10.0.0.1:1"})
	if err := e.Parse(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://10.0.0.1:1" || cfg.Timeout != time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	err := e.With(map[string]string{"BATCH_ORCHESTRATOR_SERVICE_PIPELINE_TIMEOUT": "fast"}).Parse(&cfg)
	want := `BATCH_ORCHESTRATOR_SERVICE_PIPELINE_TIMEOUT="fast": must be a Go duration`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %s", err, want)
	}
}
