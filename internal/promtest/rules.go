package promtest

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// ErrRules is wrapped by every error RewriteRules returns for a rule file it
// cannot rewrite.
var ErrRules = errors.New("promtest: rule file")

// RuleRewrite says how RewriteRules shortens a production rule file so its
// alerts fire within a test's time.
type RuleRewrite struct {
	// TimeScale divides every for:, keep_firing_for: and group interval:
	// duration, and every range window, subquery resolution and offset in
	// expr, by this factor. 0 or 1 leaves durations as they are; it must
	// not be negative.
	TimeScale float64
	// MinRange is the shortest a scaled range window may become. rate,
	// increase and deriv need at least two samples in their window, so
	// Start sets it to four scrape intervals.
	MinRange time.Duration
	// Overrides replaces the expr of the rules (alerts or recording rules)
	// with these names, as written: an override is not scaled. Use it for
	// thresholds that are not durations. Every name must exist.
	Overrides map[string]string
}

// RewriteRules returns the Prometheus rule file src rewritten as rw says.
// Comments and the order of groups and rules are kept. An override that
// names no rule in src is an error, so a renamed alert cannot silently
// leave a test on its production threshold.
func RewriteRules(src []byte, rw RuleRewrite) ([]byte, error) {
	out, used, err := rewriteRules(src, rw)
	if err != nil {
		return nil, err
	}
	if missing := unusedOverrides(rw.Overrides, used); len(missing) > 0 {
		return nil, fmt.Errorf("%w: overrides for rules it does not have: %s", ErrRules, strings.Join(missing, ", "))
	}
	return out, nil
}

// rewriteRules rewrites src and reports which override names it used.
func rewriteRules(src []byte, rw RuleRewrite) ([]byte, map[string]bool, error) {
	if rw.TimeScale < 0 || math.IsNaN(rw.TimeScale) || math.IsInf(rw.TimeScale, 0) {
		return nil, nil, fmt.Errorf("%w: TimeScale %v must be a finite number >= 0", ErrRules, rw.TimeScale)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRules, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%w: want a mapping with a groups key at the top", ErrRules)
	}
	groups := mappingValue(doc.Content[0], "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("%w: groups must be a list", ErrRules)
	}
	s := scaler{factor: rw.TimeScale, minRange: rw.MinRange}
	used := map[string]bool{}
	for gi, g := range groups.Content {
		if g.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("%w: group %d is not a mapping", ErrRules, gi)
		}
		if err := s.scaleScalar(mappingValue(g, "interval")); err != nil {
			return nil, nil, fmt.Errorf("%w: group %d interval: %w", ErrRules, gi, err)
		}
		rules := mappingValue(g, "rules")
		if rules == nil || rules.Kind != yaml.SequenceNode {
			return nil, nil, fmt.Errorf("%w: group %d: rules must be a list", ErrRules, gi)
		}
		for ri, r := range rules.Content {
			if err := s.rewriteRule(r, rw.Overrides, used); err != nil {
				return nil, nil, fmt.Errorf("%w: group %d rule %d: %w", ErrRules, gi, ri, err)
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encode: %w", ErrRules, err)
	}
	return out, used, nil
}

func unusedOverrides(overrides map[string]string, used map[string]bool) []string {
	var missing []string
	for name := range overrides {
		if !used[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// mappingValue returns the value node of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scaler divides durations by factor.
type scaler struct {
	factor   float64
	minRange time.Duration
}

func (s scaler) active() bool { return s.factor > 0 && s.factor != 1 }

func (s scaler) rewriteRule(r *yaml.Node, overrides map[string]string, used map[string]bool) error {
	if r.Kind != yaml.MappingNode {
		return errors.New("not a mapping")
	}
	name := ""
	for _, k := range []string{"alert", "record"} {
		if v := mappingValue(r, k); v != nil {
			name = v.Value
		}
	}
	expr := mappingValue(r, "expr")
	if name == "" || expr == nil {
		return errors.New("want alert or record, and expr")
	}
	for _, k := range []string{"for", "keep_firing_for"} {
		if err := s.scaleScalar(mappingValue(r, k)); err != nil {
			return fmt.Errorf("%s %s: %w", name, k, err)
		}
	}
	if o, ok := overrides[name]; ok {
		expr.Value = o
		used[name] = true
		return nil
	}
	scaled, err := s.scaleExpr(expr.Value)
	if err != nil {
		return fmt.Errorf("%s expr: %w", name, err)
	}
	expr.Value = scaled
	return nil
}

// scaleScalar scales a duration value node in place; nil is allowed.
func (s scaler) scaleScalar(n *yaml.Node) error {
	if n == nil || !s.active() {
		return nil
	}
	d, err := model.ParseDuration(n.Value)
	if err != nil {
		return err
	}
	n.Value = formatDuration(s.scale(time.Duration(d), 0))
	return nil
}

// A PromQL duration such as 5m, 90s, 1h30m or 250ms.
const durationRE = `(?:\d+(?:ms|[smhdwy]))+`

var (
	// rangeRE matches a range selector [5m] or a subquery [30m:1m] / [30m:].
	rangeRE = regexp.MustCompile(`\[\s*(` + durationRE + `)\s*(?::\s*(` + durationRE + `)?\s*)?\]`)
	// offsetRE matches an offset modifier.
	offsetRE = regexp.MustCompile(`\boffset\s+(-?)(` + durationRE + `)`)
)

// scaleExpr scales the range windows, subquery resolutions and offsets of
// a PromQL expression. It works on the text, which is safe for durations:
// they cannot appear inside brackets or after offset in any other role.
func (s scaler) scaleExpr(expr string) (string, error) {
	if !s.active() {
		return expr, nil
	}
	var firstErr error
	parse := func(v string) time.Duration {
		d, err := model.ParseDuration(v)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return time.Duration(d)
	}
	out := rangeRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := rangeRE.FindStringSubmatch(m)
		rng := formatDuration(s.scale(parse(sub[1]), s.minRange))
		if !strings.Contains(m, ":") {
			return "[" + rng + "]"
		}
		res := ""
		if sub[2] != "" {
			res = formatDuration(s.scale(parse(sub[2]), 0))
		}
		return "[" + rng + ":" + res + "]"
	})
	out = offsetRE.ReplaceAllStringFunc(out, func(m string) string {
		sub := offsetRE.FindStringSubmatch(m)
		return "offset " + sub[1] + formatDuration(s.scale(parse(sub[2]), 0))
	})
	return out, firstErr
}

// scale divides d by the factor, rounding to the millisecond (Prometheus's
// resolution), never below floor and never to zero from a positive d.
func (s scaler) scale(d, floor time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	v := time.Duration(float64(d) / s.factor).Round(time.Millisecond)
	return max(v, floor, time.Millisecond)
}

func formatDuration(d time.Duration) string { return model.Duration(d).String() }
