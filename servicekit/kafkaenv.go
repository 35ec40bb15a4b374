package servicekit

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/spool"
)

// The path from a KAFKA_* variable to the running bus:
//
//	Env.Lookup(KAFKA_X) → kafkaVars binding → kafkabus.Config field
//	→ kafkabus.Config.Validate (the range, once) → *kafkabus.ConfigError{Field}
//	→ kafkaVars binding → *SettingError{Var: the variable as set}
//	→ NewKafka → kafkabus.Open(Settings.Kafka)
//
// Defaults are kafkabus's (Config.EnsureDefaults), with three of the
// service's own: ClientID is the service name, the breaker is
// "<service>.kafka_producer", and the disk spool lives in
// <HULEEDU_DATA_DIR>/<service>/kafka-spool. A variable that is set replaces the
// default, so an explicit 0 reaches Validate and is refused there with the
// range, as a bad value is.

// kafkaVar binds one variable to the kafkabus.Config field it sets.
type kafkaVar struct {
	name  string // the variable, unprefixed
	field string // the field's path, as kafkabus.ConfigError names it
	value any    // a pointer to the field
	// seconds documents the default in whole seconds, the original
	// platform's unit for this variable (any form is read).
	seconds bool
}

// kafkaVars lists every variable of the Kafka publishing side, bound to
// the fields of c. The order is the order of deploy/env.example.
func kafkaVars(c *kafkabus.Config) []kafkaVar {
	return []kafkaVar{
		{name: "KAFKA_BOOTSTRAP_SERVERS", field: "Brokers", value: &c.Brokers},
		{name: "KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD", field: "Breaker.FailureThreshold", value: &c.Breaker.FailureThreshold},
		{name: "KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", field: "Breaker.RecoveryTimeout", value: &c.Breaker.RecoveryTimeout, seconds: true},
		{name: "KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", field: "Breaker.SuccessThreshold", value: &c.Breaker.SuccessThreshold},
		{name: "KAFKA_FALLBACK_MODE", field: "Fallback.Mode", value: &c.Fallback.Mode},
		{name: "KAFKA_FALLBACK_QUEUE_SIZE", field: "Fallback.QueueSize", value: &c.Fallback.QueueSize},
		{name: "KAFKA_FALLBACK_DIR", field: "Fallback.Dir", value: &c.Fallback.Dir},
		{name: "KAFKA_FALLBACK_MAX_BYTES", field: "Fallback.MaxBytes", value: &c.Fallback.MaxBytes},
		{name: "KAFKA_FALLBACK_OVERFLOW", field: "Fallback.Overflow", value: &c.Fallback.Overflow},
		{name: "KAFKA_DRAIN_BATCH_SIZE", field: "Drain.Batch", value: &c.Drain.Batch},
		{name: "KAFKA_DRAIN_IN_FLIGHT", field: "Drain.InFlight", value: &c.Drain.InFlight},
		{name: "KAFKA_DRAIN_RETRY_MIN", field: "Drain.RetryMin", value: &c.Drain.RetryMin},
		{name: "KAFKA_DRAIN_RETRY_MAX", field: "Drain.RetryMax", value: &c.Drain.RetryMax},
		{name: "KAFKA_DRAIN_OPEN_POLL", field: "Drain.OpenPoll", value: &c.Drain.OpenPoll},
		{name: "KAFKA_PUBLISH_TIMEOUT", field: "PublishTimeout", value: &c.PublishTimeout},
		{name: "KAFKA_METADATA_MIN_AGE", field: "MetadataMinAge", value: &c.MetadataMinAge},
		{name: "KAFKA_MAX_RECORD_BYTES", field: "MaxRecordBytes", value: &c.MaxRecordBytes},
		{name: "KAFKA_LINGER", field: "Linger", value: &c.Linger},
		{name: "KAFKA_AUTO_CREATE_TOPICS", field: "AllowAutoTopicCreation", value: &c.AllowAutoTopicCreation},
		{name: "KAFKA_STARTUP_CHECK_TIMEOUT", field: "StartupCheck", value: &c.StartupCheck},
	}
}

// defaultKafka is service's publishing configuration before the
// environment is read: kafkabus's defaults and the service's own.
func defaultKafka(service string) kafkabus.Config {
	c := kafkabus.Config{}
	c.ClientID = service
	c.Breaker.Name = service + "." + KafkaProducerBreaker
	c.EnsureDefaults()
	return c
}

// setKafka sets the fields of c whose variables are set in e. A value that
// does not parse leaves its field alone and is reported, naming the
// variable as set.
func (e Env) setKafka(c *kafkabus.Config) []*SettingError {
	var problems []*SettingError
	for _, v := range kafkaVars(c) {
		raw, from, ok := e.Lookup(v.name)
		if !ok {
			continue
		}
		if want := v.parse(raw); want != "" {
			problems = append(problems, &SettingError{Var: from, Value: raw, Want: want})
		}
	}
	return problems
}

// parse sets the field from raw; it returns the accepted form when raw
// does not parse.
func (v kafkaVar) parse(raw string) (want string) {
	var err error
	switch p := v.value.(type) {
	case *[]string:
		*p = strings.Split(raw, ",")
	case *string:
		*p = raw
	case *kafkabus.FallbackMode:
		*p = kafkabus.FallbackMode(raw)
	case *bool:
		if *p, err = strconv.ParseBool(raw); err != nil {
			return "must be true or false"
		}
	case *int:
		if *p, err = strconv.Atoi(raw); err != nil {
			return "must be an integer"
		}
	case *int32:
		n, err := strconv.ParseInt(raw, 10, 32)
		if err != nil {
			return "must be an integer"
		}
		*p = int32(n)
	case *int64:
		if *p, err = strconv.ParseInt(raw, 10, 64); err != nil {
			return "must be an integer"
		}
	case *time.Duration:
		var d kafkabus.Duration
		if err := d.UnmarshalText([]byte(raw)); err != nil {
			return wantFor(durationType, err)
		}
		*p = time.Duration(d)
	case *spool.Overflow:
		if err := p.UnmarshalText([]byte(raw)); err != nil {
			return wantFor(overflowType, err)
		}
	default:
		panic(fmt.Sprintf("servicekit: %s: no parser for %T", v.name, v.value))
	}
	return ""
}

// text is the field's value as the variable would spell it: the form
// deploy/env.example documents defaults in, and the value a problem with
// an unset variable shows.
func (v kafkaVar) text() string {
	switch p := v.value.(type) {
	case *[]string:
		return strings.Join(*p, ",")
	case *string:
		return *p
	case *kafkabus.FallbackMode:
		return string(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int32:
		return strconv.FormatInt(int64(*p), 10)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *time.Duration:
		if v.seconds && *p%time.Second == 0 {
			return strconv.FormatInt(int64(*p/time.Second), 10)
		}
		return kafkabus.ShortDuration(*p)
	case *spool.Overflow:
		return p.String()
	}
	panic(fmt.Sprintf("servicekit: %s: no text form for %T", v.name, v.value))
}

// kafkaProblems turns the problems kafkabus finds in c into *SettingError
// values naming the unprefixed variables, with the accepted range in the
// variables' terms.
func kafkaProblems(c kafkabus.Config) []error {
	err := c.Validate()
	if err == nil {
		return nil
	}
	vars := kafkaVars(&c)
	byField := make(map[string]kafkaVar, len(vars))
	for _, v := range vars {
		byField[v.field] = v
	}
	var problems []error
	var collect func(error)
	collect = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				collect(inner)
			}
			return
		}
		ce, ok := errors.AsType[*kafkabus.ConfigError](err)
		var v kafkaVar
		if ok {
			v, ok = byField[ce.Field]
		}
		if !ok {
			// A field no variable sets (the service sets it): keep the
			// problem visible as kafkabus words it.
			problems = append(problems, &SettingError{Var: "KAFKA_*", Want: err.Error()})
			return
		}
		problems = append(problems, &SettingError{Var: v.name, Value: v.text(), Want: v.want(ce.Want, vars)})
	}
	collect(err)
	return problems
}

// want words kafkabus's range for the variable: fields it names become
// variables, a list is comma-separated, and a duration may be given in
// seconds.
func (v kafkaVar) want(want string, vars []kafkaVar) string {
	for _, other := range vars {
		want = strings.ReplaceAll(want, other.field+" ", other.name+" ")
	}
	switch v.value.(type) {
	case *kafkabus.FallbackMode:
		want = "must be " + FallbackOutbox + " (a service with a database), disk or memory"
	case *[]string:
		want = strings.Replace(want, "must be a list of", "must be a comma-separated list of", 1)
	case *time.Duration:
		want += " (seconds, or a Go duration such as 500ms)"
	}
	return want
}

// kafkaDefaults fills what the Kafka configuration takes from the other
// settings: the breaker switch, and the disk spool's home.
func (s *Settings) kafkaDefaults() {
	s.Kafka.Breaker.Disabled = !s.CircuitBreakerEnabled
	if f := &s.Kafka.Fallback; f.Mode == kafkabus.FallbackDisk && f.Dir == "" && s.DataDir != "" {
		f.Dir = filepath.Join(s.DataDir, s.Service, "kafka-spool")
	}
}
