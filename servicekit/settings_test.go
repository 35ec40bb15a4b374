package servicekit

import (
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

const brokers = "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092"

func TestLoadSettingsFillsDefaults(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers}))
	if err != nil {
		t.Fatal(err)
	}
	d := func(v kafkabus.Duration) time.Duration { return time.Duration(v) }
	k := s.Kafka
	checks := []struct {
		name      string
		got, want any
	}{
		{"Service", s.Service, "file_service"},
		{"CircuitBreakerEnabled", s.CircuitBreakerEnabled, true},
		{"Kafka.Breaker.Disabled", k.Breaker.Disabled, false},
		{"Kafka.Brokers", strings.Join(k.Brokers, ","), "127.0.0.1:9092"},
		{"Kafka.ClientID", k.ClientID, "file_service"},
		{"Kafka.Breaker.Name", k.Breaker.Name, "file_service.kafka_producer"},
		{"Kafka.Breaker.FailureThreshold", k.Breaker.FailureThreshold, 10},
		{"Kafka.Breaker.RecoveryTimeout", k.Breaker.RecoveryTimeout, 30 * time.Second},
		{"Kafka.Breaker.SuccessThreshold", k.Breaker.SuccessThreshold, 3},
		{"Kafka.Fallback.QueueSize", k.Fallback.QueueSize, 1000},
		{"Kafka.Fallback.Mode", k.Fallback.Mode, kafkabus.FallbackMemory},
		{"Kafka.Fallback.MaxBytes", k.Fallback.MaxBytes, int64(1 << 30)},
		{"Kafka.Fallback.Overflow", k.Fallback.Overflow, spool.OverflowBlock},
		{"Kafka.Drain.Batch", k.Drain.Batch, 500},
		{"Kafka.Drain.InFlight", k.Drain.InFlight, 8},
		{"Kafka.Drain.RetryMin", k.Drain.RetryMin, 100 * time.Millisecond},
		{"Kafka.Drain.RetryMax", k.Drain.RetryMax, 5 * time.Second},
		{"Kafka.Drain.OpenPoll", k.Drain.OpenPoll, time.Second},
		{"Kafka.PublishTimeout", k.PublishTimeout, 10 * time.Second},
		{"Kafka.AllowAutoTopicCreation", k.AllowAutoTopicCreation, false},
		{"Kafka.MetadataMinAge", k.MetadataMinAge, time.Second},
		{"Kafka.MaxRecordBytes", k.MaxRecordBytes, int32(1_000_012)},
		{"Kafka.Linger", k.Linger, time.Duration(0)},
		{"Kafka.StartupCheck", k.StartupCheck, time.Duration(0)},
		{"HTTPAddr", s.HTTPAddr, "127.0.0.1:0"},
		{"AdminAddr", s.AdminAddr, "127.0.0.1:0"},
		{"LogLevel", s.LogLevel, slog.LevelInfo},
		{"ShutdownTimeout", d(s.ShutdownTimeout), 30 * time.Second},
		{"DataDir", s.DataDir, "data"},
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
		{"ContentFailureThreshold", s.ContentFailureThreshold, 3},
		{"ContentRecoveryTimeout", d(s.ContentRecoveryTimeout), 30 * time.Second},
		{"ContentSuccessThreshold", s.ContentSuccessThreshold, 2},
		{"HTTPClientTimeout", d(s.HTTPClientTimeout), 10 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// The Kafka defaults are kafkabus's own: servicekit sets only the three
// that are the service's (client id, breaker name, spool home).
func TestKafkaDefaultsAreKafkabusDefaults(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers}))
	if err != nil {
		t.Fatal(err)
	}
	want := kafkabus.Config{Options: kafkabus.Options{Brokers: []string{"127.0.0.1:9092"}, ClientID: "file_service"}}
	want.EnsureDefaults()
	if got, _ := json.Marshal(s.Kafka); string(got) != string(must(json.Marshal(want))) {
		t.Fatalf("Kafka settings\n  %s\nwant kafkabus's defaults\n  %s", got, must(json.Marshal(want)))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Every variable of kafkaVars reaches its kafkabus.Config field: set to
// a value other than the default, the field holds it.
func TestEveryKafkaVariableSetsItsField(t *testing.T) {
	values := map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS":                 "a:1,b:2",
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "7",
		"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT":  "45",
		"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD": "4",
		"KAFKA_FALLBACK_MODE":                     "disk",
		"KAFKA_FALLBACK_QUEUE_SIZE":               "77",
		"KAFKA_FALLBACK_DIR":                      "/var/spool/x",
		"KAFKA_FALLBACK_MAX_BYTES":                "2097152",
		"KAFKA_FALLBACK_OVERFLOW":                 "reject",
		"KAFKA_DRAIN_BATCH_SIZE":                  "50",
		"KAFKA_DRAIN_IN_FLIGHT":                   "2",
		"KAFKA_DRAIN_RETRY_MIN":                   "20ms",
		"KAFKA_DRAIN_RETRY_MAX":                   "2s",
		"KAFKA_DRAIN_OPEN_POLL":                   "250ms",
		"KAFKA_PUBLISH_TIMEOUT":                   "3s",
		"KAFKA_METADATA_MIN_AGE":                  "200ms",
		"KAFKA_MAX_RECORD_BYTES":                  "65536",
		"KAFKA_LINGER":                            "5ms",
		"KAFKA_AUTO_CREATE_TOPICS":                "true",
		"KAFKA_STARTUP_CHECK_TIMEOUT":             "2s",
	}
	var environ []string
	for k, v := range values {
		environ = append(environ, k+"="+v)
	}
	s, err := LoadSettingsFrom(NewEnv("file_service", environ))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range kafkaVars(&s.Kafka) {
		want, ok := values[v.name]
		if !ok {
			t.Errorf("%s has no value in this test", v.name)
			continue
		}
		if got := v.text(); got != want {
			t.Errorf("%s=%s: field %s holds %s", v.name, want, v.field, got)
		}
	}
	if len(values) != len(kafkaVars(&s.Kafka)) {
		t.Errorf("%d values for %d variables", len(values), len(kafkaVars(&s.Kafka)))
	}
}

// Every field kafkaVars binds is one kafkabus.Config has: a path that
// kafkabus's errors would never name cannot be mapped back to its
// variable.
func TestKafkaVariablesBindRealConfigFields(t *testing.T) {
	var c kafkabus.Config
	for _, v := range kafkaVars(&c) {
		f := reflect.ValueOf(&c).Elem()
		for _, name := range strings.Split(v.field, ".") {
			f = f.FieldByName(name)
			if !f.IsValid() {
				t.Fatalf("%s binds %s, which kafkabus.Config does not have", v.name, v.field)
			}
		}
		if f.Addr().Interface() != v.value {
			t.Errorf("%s binds %s but points at another field", v.name, v.field)
		}
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
	if b := file.Kafka.Breaker; b.FailureThreshold != 7 || b.RecoveryTimeout != 500*time.Millisecond {
		t.Errorf("file_service: threshold %d, recovery %v; want the prefixed 7 and 500ms", b.FailureThreshold, b.RecoveryTimeout)
	}
	if file.HTTPAddr != "127.0.0.1:0" {
		t.Errorf("file_service picked up another service's HTTP_ADDR: %q", file.HTTPAddr)
	}
	spell, err := LoadSettingsFrom(NewEnv("spellchecker_service", environ))
	if err != nil {
		t.Fatal(err)
	}
	if spell.Kafka.Breaker.FailureThreshold != 3 || spell.HTTPAddr != "127.0.0.1:7006" {
		t.Errorf("spellchecker_service: threshold %d, HTTP_ADDR %q; want the unprefixed 3 and its own 127.0.0.1:7006",
			spell.Kafka.Breaker.FailureThreshold, spell.HTTPAddr)
	}
}

func TestEmptyPrefixedVariableDoesNotOverride(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers,
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=4", "FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Kafka.Breaker.FailureThreshold != 4 {
		t.Fatalf("FailureThreshold = %d, want the unprefixed 4", s.Kafka.Breaker.FailureThreshold)
	}
}

func TestDiskModeDefaultsFallbackDirPerService(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadSettingsFrom(NewEnv("cj_assessment_service", []string{brokers, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR=" + dir}))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cj_assessment_service", "kafka-spool"); s.Kafka.Fallback.Dir != want {
		t.Fatalf("Fallback.Dir = %q, want %q", s.Kafka.Fallback.Dir, want)
	}
	s, err = LoadSettingsFrom(NewEnv("cj_assessment_service", []string{brokers, "KAFKA_FALLBACK_MODE=disk", "KAFKA_FALLBACK_DIR=/var/spool/cj"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Kafka.Fallback.Dir != "/var/spool/cj" {
		t.Fatalf("Fallback.Dir = %q, want the configured /var/spool/cj", s.Kafka.Fallback.Dir)
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
		{"KAFKA_FALLBACK_MODE=tape", `KAFKA_FALLBACK_MODE="tape": must be outbox (a service with a database), disk or memory`},
		{"KAFKA_FALLBACK_OVERFLOW=drop", `KAFKA_FALLBACK_OVERFLOW="drop": must be block or reject`},
		{"KAFKA_FALLBACK_MAX_BYTES=lots", `KAFKA_FALLBACK_MAX_BYTES="lots": must be an integer`},
		{"KAFKA_PUBLISH_TIMEOUT=0", `KAFKA_PUBLISH_TIMEOUT="0": must be between 1ms and 1h`},
		{"KAFKA_AUTO_CREATE_TOPICS=perhaps", `KAFKA_AUTO_CREATE_TOPICS="perhaps": must be true or false`},
		{"HTTP_ADDR=nowhere", `HTTP_ADDR="nowhere": must be host:port`},
		{"FILE_SERVICE_ADMIN_ADDR=:99999", `FILE_SERVICE_ADMIN_ADDR=":99999": must be host:port with a port between 0 and 65535`},
		{"LOG_LEVEL=loud", `LOG_LEVEL="loud": must be debug, info, warn or error`},
		{"LOG_LEVEL=debug-8", `LOG_LEVEL="debug-8": must be debug, info, warn or error`},
		{"SHUTDOWN_TIMEOUT=0", `SHUTDOWN_TIMEOUT="0": must be between 100ms and 1h`},
		{"KAFKA_METADATA_MIN_AGE=0", `KAFKA_METADATA_MIN_AGE="0": must be between 10ms and 10m`},
		{"KAFKA_CONSUMER_MAX_ATTEMPTS=0", `KAFKA_CONSUMER_MAX_ATTEMPTS="0": must be between 1 and 1000`},
		{"KAFKA_CONSUMER_RETRY_BACKOFF=0", `KAFKA_CONSUMER_RETRY_BACKOFF="0": must be between 1ms and 10m`},
		{"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=1ms", `KAFKA_CONSUMER_RETRY_MAX_BACKOFF="1ms": must not be below KAFKA_CONSUMER_RETRY_BACKOFF (200ms)`},
		{"KAFKA_CONSUMER_SESSION_TIMEOUT=0", `KAFKA_CONSUMER_SESSION_TIMEOUT="0": must be between 100ms and 30m`},
		{"KAFKA_CONSUMER_IDEMPOTENCY_TTL=0", `KAFKA_CONSUMER_IDEMPOTENCY_TTL="0": must be between 1s and 8760h`},
		{"KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES=0", `KAFKA_CONSUMER_IDEMPOTENCY_MAX_ENTRIES="0": must be between 1 and 100000000`},
		{"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0", `HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD="0": must be between 1 and 1000000`},
		{"HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=-3", `HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD="-3": must be between 1 and 1000000`},
		{"HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0", `HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="0": must be between 10ms and 24h`},
		{"HTTP_CLIENT_TIMEOUT=0", `HTTP_CLIENT_TIMEOUT="0": must be between 1ms and 1h`},
		{"KAFKA_DRAIN_BATCH_SIZE=0", `KAFKA_DRAIN_BATCH_SIZE="0": must be between 1 and 100000`},
		{"KAFKA_DRAIN_IN_FLIGHT=2000", `KAFKA_DRAIN_IN_FLIGHT="2000": must be between 1 and 1024`},
		{"KAFKA_DRAIN_RETRY_MIN=0", `KAFKA_DRAIN_RETRY_MIN="0": must be between 1ms and 1h (seconds, or a Go duration such as 500ms)`},
		{"KAFKA_DRAIN_RETRY_MAX=10ms", `KAFKA_DRAIN_RETRY_MAX="10ms": must not be below KAFKA_DRAIN_RETRY_MIN (100ms)`},
		{"KAFKA_DRAIN_OPEN_POLL=2h", `KAFKA_DRAIN_OPEN_POLL="2h": must be between 1ms and 1h`},
		{"KAFKA_DRAIN_OPEN_POLL=often", `KAFKA_DRAIN_OPEN_POLL="often": must be seconds (30) or a Go duration`},
		{"KAFKA_MAX_RECORD_BYTES=100", `KAFKA_MAX_RECORD_BYTES="100": must be between 512 and 1073741824`},
		{"KAFKA_MAX_RECORD_BYTES=9999999999", `KAFKA_MAX_RECORD_BYTES="9999999999": must be an integer`},
		{"KAFKA_LINGER=2m", `KAFKA_LINGER="2m": must be between 0s and 1m`},
		{"KAFKA_STARTUP_CHECK_TIMEOUT=-1s", `KAFKA_STARTUP_CHECK_TIMEOUT="-1s": must be between 1ms and 1h`},
		{"KAFKA_BOOTSTRAP_SERVERS=a:1, b:2", `KAFKA_BOOTSTRAP_SERVERS="a:1, b:2": must be a comma-separated list of host:port`},
		{"CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0", `CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="0": must be between 1 and 1000000`},
		{"SPELLCHECKER_SERVICE_CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0", ``},
		{"FILE_SERVICE_CONTENT_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=-2", `FILE_SERVICE_CONTENT_CIRCUIT_BREAKER_SUCCESS_THRESHOLD="-2": must be between 1 and 1000000`},
		{"CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0", `CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="0": must be between 10ms and 24h`},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			_, err := LoadSettingsFrom(NewEnv("file_service", []string{brokers, tc.env}))
			if tc.want == "" { // another service's variable
				if err != nil {
					t.Fatalf("file_service refused a variable of another service: %v", err)
				}
				return
			}
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
	var one *SettingError
	if !errors.As(err, &one) {
		t.Fatal("errors.As does not reach the *SettingError problems")
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

// The content clients (the spellchecker's and CJ's clients of
// file_service) get the original platform's CONTENT_CIRCUIT_BREAKER_*
// settings, 3/30s/2; other dependencies keep HTTP_CIRCUIT_BREAKER_*, 5/30s/2.
// The HTTP_ names are aliases for the content ones: the most specific name
// set wins, CONTENT_ before HTTP_, and within a name the prefixed one.
func TestContentClientBreakerSettingsAndTheirAliases(t *testing.T) {
	const svc = "spellchecker_service"
	cases := []struct {
		name    string
		environ []string
		content int // FailureThreshold of the file_service client's breaker
		http    int // FailureThreshold of any other dependency's breaker
	}{
		{"defaults", nil, 3, 5},
		{"HTTP_ alone is an alias", []string{"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=9"}, 9, 9},
		{"prefixed HTTP_ alone is an alias", []string{"SPELLCHECKER_SERVICE_HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=8"}, 8, 8},
		{"CONTENT_ beats HTTP_", []string{"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=9", "CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=4"}, 4, 9},
		{"CONTENT_ beats prefixed HTTP_", []string{"SPELLCHECKER_SERVICE_HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=8", "CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=4"}, 4, 8},
		{"prefixed CONTENT_ beats CONTENT_", []string{"SPELLCHECKER_SERVICE_CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=6", "CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=4"}, 6, 5},
		{"another service's CONTENT_ does not count", []string{"CJ_ASSESSMENT_SERVICE_CONTENT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=6"}, 3, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSettingsFrom(NewEnv(svc, append([]string{brokers}, tc.environ...)))
			if err != nil {
				t.Fatal(err)
			}
			content, other := s.HTTPBreakerSettingsFor("file_service"), s.HTTPBreakerSettingsFor("batch_conductor")
			if content.FailureThreshold != tc.content || other.FailureThreshold != tc.http {
				t.Fatalf("content breaker threshold %d, other %d; want %d and %d", content.FailureThreshold, other.FailureThreshold, tc.content, tc.http)
			}
			if content.Name != svc+".file_service" || other.Name != svc+".batch_conductor" {
				t.Fatalf("breaker names %q, %q", content.Name, other.Name)
			}
		})
	}
	s, err := LoadSettingsFrom(NewEnv(svc, []string{brokers}))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.HTTPBreakerSettingsFor("file_service"); c.RecoveryTimeout != 30*time.Second || c.SuccessThreshold != 2 {
		t.Fatalf("content breaker defaults %+v, want recovery 30s and success threshold 2", c)
	}
}

// An invalid HTTP_ value is reported once, under its own name, although
// the content settings take it as their alias.
func TestInvalidAliasIsReportedUnderItsOwnName(t *testing.T) {
	_, err := LoadSettingsFrom(NewEnv("spellchecker_service", []string{brokers, "HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0"}))
	var se *SettingsError
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].Var != "HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD" {
		t.Fatalf("err = %v, want exactly one problem, naming HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD", err)
	}
}

// HTTPClients gives a content client's breaker the content settings.
func TestHTTPClientsGiveContentClientsTheContentBreakerSettings(t *testing.T) {
	s, err := LoadSettingsFrom(NewEnv("cj_assessment_service", []string{brokers, "CONTENT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=45"}))
	if err != nil {
		t.Fatal(err)
	}
	breakers := resilience.NewRegistry(s.HTTPBreakerSettings())
	clients := NewHTTPClients(s, breakers)
	clients.For("file_service")
	clients.For("batch_conductor")
	content, _ := breakers.Get("cj_assessment_service.file_service")
	other, _ := breakers.Get("cj_assessment_service.batch_conductor")
	if content == nil || other == nil {
		t.Fatalf("breakers %v, want both clients' breakers", breakers.States())
	}
	if cs := content.Settings(); cs.FailureThreshold != 3 || cs.RecoveryTimeout != 45*time.Second || cs.SuccessThreshold != 2 {
		t.Errorf("content breaker %d/%v/%d, want 3/45s/2", cs.FailureThreshold, cs.RecoveryTimeout, cs.SuccessThreshold)
	}
	if os := other.Settings(); os.FailureThreshold != 5 || os.RecoveryTimeout != 30*time.Second {
		t.Errorf("other breaker %d/%v, want the HTTP defaults 5/30s", os.FailureThreshold, os.RecoveryTimeout)
	}
}
