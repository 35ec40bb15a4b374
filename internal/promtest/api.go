package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// ErrAPI is wrapped by every error Prometheus's HTTP API reports (a bad
// query, an unexpected result type) and by failed requests.
var ErrAPI = errors.New("promtest: prometheus API")

// AlertState is the state of an active alert as /api/v1/alerts reports it.
type AlertState string

// Alert states. AlertInactive is never reported by Prometheus (inactive
// alerts are not listed); WaitForAlert takes it to mean "not active".
const (
	AlertPending  AlertState = "pending"
	AlertFiring   AlertState = "firing"
	AlertInactive AlertState = "inactive"
)

// Alert is one active alert.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       AlertState        `json:"state"`
	// ActiveAt is when the alert became pending.
	ActiveAt time.Time `json:"activeAt"`
	// Value is the expression's value at the last evaluation, as
	// Prometheus formats it ("1e+00").
	Value string `json:"value"`
}

// Name returns the alertname label.
func (a Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// apiResponse is the envelope of every /api/v1 answer.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// get calls an /api/v1 endpoint and decodes its data into out.
func (s *Server) get(ctx context.Context, path string, params url.Values, out any) error {
	u := s.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAPI, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrAPI, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: GET %s: read: %w", ErrAPI, path, err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%w: GET %s: %s: %.200s", ErrAPI, path, resp.Status, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("%w: GET %s: %s: %s", ErrAPI, path, r.ErrorType, r.Error)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return fmt.Errorf("%w: GET %s: decode data: %w", ErrAPI, path, err)
	}
	return nil
}

// Query evaluates an instant PromQL query now. A scalar result comes back
// as one sample with no labels; a range-vector or string result is an
// error.
func (s *Server) Query(ctx context.Context, promql string) (model.Vector, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query", url.Values{"query": {promql}}, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	switch data.ResultType {
	case "vector":
		var v model.Vector
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, fmt.Errorf("%w: query %q: decode vector: %w", ErrAPI, promql, err)
		}
		return v, nil
	case "scalar":
		var sc model.Scalar
		if err := json.Unmarshal(data.Result, &sc); err != nil {
			return nil, fmt.Errorf("%w: query %q: decode scalar: %w", ErrAPI, promql, err)
		}
		return model.Vector{{Metric: model.Metric{}, Value: sc.Value, Timestamp: sc.Timestamp}}, nil
	}
	return nil, fmt.Errorf("%w: query %q: result type %q, want an instant vector or a scalar", ErrAPI, promql, data.ResultType)
}

// Alerts returns the active (pending and firing) alerts.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := s.get(ctx, "/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// WaitFor calls cond every poll interval (half the evaluation interval,
// between 20 ms and 1 s) until it returns true, and returns nil. An error
// from cond does not end the wait (the first scrape may not have happened
// yet); when ctx ends first, WaitFor returns ctx's error joined with cond's
// last error.
func (s *Server) WaitFor(ctx context.Context, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(min(max(s.cfg.EvaluationInterval/2, 20*time.Millisecond), time.Second))
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("promtest: condition not met: %w (last error: %w)", ctx.Err(), last)
			}
			return fmt.Errorf("promtest: condition not met: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitForAlert waits until an alert named name is in state (AlertPending
// or AlertFiring) and returns it; with AlertInactive it waits until no
// alert of that name is active and returns a zero Alert.
func (s *Server) WaitForAlert(ctx context.Context, name string, state AlertState) (Alert, error) {
	var found Alert
	err := s.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		alerts, err := s.Alerts(ctx)
		if err != nil {
			return false, err
		}
		active := false
		for _, a := range alerts {
			if a.Name() != name {
				continue
			}
			active = true
			if a.State == state {
				found = a
				return true, nil
			}
		}
		return state == AlertInactive && !active, nil
	})
	if err != nil {
		return Alert{}, fmt.Errorf("alert %s never %s: %w", name, state, err)
	}
	return found, nil
}

// WaitForScrape waits until every scrape target has been scraped
// successfully (up == 1 for each of them).
func (s *Server) WaitForScrape(ctx context.Context) error {
	want := len(s.cfg.ScrapeTargets)
	err := s.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		v, err := s.Query(ctx, `up == 1`)
		if err != nil {
			return false, err
		}
		return len(v) >= want, nil
	})
	if err != nil {
		var down []string
		qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if v, qerr := s.Query(qctx, `up == 0`); qerr == nil {
			for _, smp := range v {
				down = append(down, string(smp.Metric[model.InstanceLabel]))
			}
		}
		return fmt.Errorf("scrape targets not all up (down: %s): %w", strings.Join(down, ", "), err)
	}
	return nil
}
