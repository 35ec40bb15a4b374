package servicekit

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/spool"
)

// ErrInvalidSettings is wrapped by every error Env.Parse and LoadSettings
// return for a variable with a bad value.
var ErrInvalidSettings = errors.New("servicekit: invalid settings")

// SettingError names the variable whose value is invalid and the range it
// accepts.
type SettingError struct {
	Var   string // e.g. FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD
	Value string // as set
	Want  string // e.g. "must be between 1 and 1000000"
}

// Error returns VAR="value": want.
func (e *SettingError) Error() string {
	return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Want)
}

// SettingsError lists every invalid variable of one service's environment.
// Each problem names the variable that was actually set (prefixed or not),
// the value and the accepted range. errors.Is(err, ErrInvalidSettings)
// holds, and errors.As finds each *SettingError.
type SettingsError struct {
	Service  string
	Problems []*SettingError
}

// Error returns "servicekit: <service>: invalid settings: VAR="v": want; ...".
func (e *SettingsError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("servicekit: %s: invalid settings: %s", e.Service, strings.Join(msgs, "; "))
}

// Is reports whether target is ErrInvalidSettings.
func (e *SettingsError) Is(target error) bool { return target == ErrInvalidSettings }

// Unwrap returns the problems, so errors.As reaches each of them.
func (e *SettingsError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Env is the environment as one service sees it: a variable carrying the
// service's prefix overrides the unprefixed one, so one environment can
// configure many services (FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD
// beats KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD for file_service only). The
// prefix is the service name in upper snake case plus "_" (see Prefix). A
// variable set to the empty string counts as unset. Env is immutable and
// safe to share.
type Env struct {
	service string
	prefix  string
	vars    map[string]string
}

// NewEnv returns the view of environ (KEY=value strings, as os.Environ
// returns them) for service.
func NewEnv(service string, environ []string) Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	return Env{service: service, prefix: Prefix(service), vars: vars}
}

// ProcessEnv returns the process environment as service sees it.
func ProcessEnv(service string) Env { return NewEnv(service, os.Environ()) }

// Prefix returns the variable prefix of service: its name in upper snake
// case followed by "_" ("file_service" and "file-service" give
// "FILE_SERVICE_", "batchConductor" gives "BATCH_CONDUCTOR_"), or "" for
// an empty name.
func Prefix(service string) string {
	if service == "" {
		return ""
	}
	var b strings.Builder
	prevLower := false
	for _, r := range service {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			prevLower = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToUpper(r))
			prevLower = true
		default:
			b.WriteByte('_')
			prevLower = false
		}
	}
	return b.String() + "_"
}

// Service returns the service this view is for.
func (e Env) Service() string { return e.service }

// With returns a copy of e with vars set on top (KEY → value; a prefixed
// key still beats an unprefixed one).
func (e Env) With(vars map[string]string) Env {
	merged := maps.Clone(e.vars)
	if merged == nil {
		merged = make(map[string]string, len(vars))
	}
	maps.Copy(merged, vars)
	e.vars = merged
	return e
}

// ForService returns the same environment as service sees it.
func (e Env) ForService(service string) Env {
	e.service, e.prefix = service, Prefix(service)
	return e
}

// Lookup returns the value of name for this service and the variable it
// came from: the prefixed variable when it is set and not empty, else the
// unprefixed one. ok is false when neither is set to a non-empty value.
func (e Env) Lookup(name string) (value, from string, ok bool) {
	if e.prefix != "" {
		if v := e.vars[e.prefix+name]; v != "" {
			return v, e.prefix + name, true
		}
	}
	if v := e.vars[name]; v != "" {
		return v, name, true
	}
	return "", "", false
}

// resolved returns the environment with prefixed variables folded onto
// their unprefixed names, and for each folded name the variable it came
// from.
func (e Env) resolved() (vars, source map[string]string) {
	vars = make(map[string]string, len(e.vars))
	source = make(map[string]string)
	for k, v := range e.vars {
		if v != "" {
			vars[k] = v
		}
	}
	if e.prefix == "" {
		return vars, source
	}
	for k, v := range e.vars {
		if name, ok := strings.CutPrefix(k, e.prefix); ok && name != "" && v != "" {
			vars[name] = v
			source[name] = k
		}
	}
	return vars, source
}

// Parse fills the struct v points to from its `env` tags (the
// caarlos0/env/v11 syntax: env, envDefault, envSeparator) with the
// service's prefix applied. A value that does not parse is reported as a
// *SettingsError naming the variable that was set and the accepted form;
// nothing else is validated here.
func (e Env) Parse(v any) error {
	vars, source := e.resolved()
	err := env.ParseWithOptions(v, env.Options{Environment: vars})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("servicekit: %s: reading the environment: %w", e.service, err)
	}
	fields := envFields(reflect.TypeOf(v))
	problems := make([]*SettingError, 0, len(agg.Errors))
	for _, one := range agg.Errors {
		var pe env.ParseError
		var unset env.VarIsNotSetError
		switch {
		case errors.As(one, &pe):
			key := fields[pe.Name]
			if key == "" {
				key = pe.Name
			}
			problems = append(problems, &SettingError{
				Var:   varName(key, source),
				Value: vars[key],
				Want:  wantFor(pe.Type, pe.Err),
			})
		case errors.As(one, &unset):
			problems = append(problems, &SettingError{
				Var: unset.Key, Want: "must be set (or " + e.prefix + unset.Key + ")",
			})
		default:
			return fmt.Errorf("servicekit: %s: reading the environment: %w", e.service, err)
		}
	}
	return &SettingsError{Service: e.service, Problems: problems}
}

// varName is the variable a user set for key: the prefixed one when that
// is where the value came from.
func varName(key string, source map[string]string) string {
	if s, ok := source[key]; ok {
		return s
	}
	return key
}

// envFields maps the Go field names of the struct t (or *t) to their env
// keys, descending into embedded and nested structs. env's ParseError names
// the field, not the variable; the first field of a name wins.
func envFields(t reflect.Type) map[string]string {
	fields := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			if key != "" && key != "-" {
				if _, dup := fields[f.Name]; !dup {
					fields[f.Name] = key
				}
				continue
			}
			if f.Type.Kind() == reflect.Struct || (f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
				walk(f.Type)
			}
		}
	}
	walk(t)
	return fields
}

// Types whose accepted form wantFor spells out.
var (
	durationType = reflect.TypeFor[kafkabus.Duration]()
	stdDuration  = reflect.TypeFor[time.Duration]()
	overflowType = reflect.TypeFor[spool.Overflow]()
	levelType    = reflect.TypeFor[slog.Level]()
)

// wantFor describes the form a value of type t must have.
func wantFor(t reflect.Type, cause error) string {
	switch {
	case t == durationType:
		return "must be seconds (30) or a Go duration (500ms, 2m)"
	case t == stdDuration:
		return "must be a Go duration (500ms, 2m)"
	case t == overflowType:
		return "must be block or reject"
	case t == levelType:
		return "must be debug, info, warn or error"
	case t.Kind() == reflect.Bool:
		return "must be true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "must be an integer"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return "must be a non-negative integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "must be a number"
	}
	return "cannot be parsed: " + cause.Error()
}

// sortedProblems orders problems by variable name, so messages are stable.
func sortedProblems(ps []*SettingError) []*SettingError {
	slices.SortStableFunc(ps, func(a, b *SettingError) int { return strings.Compare(a.Var, b.Var) })
	return ps
}
