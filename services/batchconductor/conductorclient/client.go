package conductorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrUnknownPipeline is wrapped by Resolve errors for a pipeline the
// conductor does not know (HTTP 404); the error text carries the
// conductor's message, which lists the known pipelines.
var ErrUnknownPipeline = errors.New("conductorclient: unknown pipeline")

// ErrBadResponse is wrapped by Resolve errors for an answer that is not a
// pipeline (undecodable, no phases).
var ErrBadResponse = errors.New("conductorclient: bad response")

// StatusError is an error answer other than 404.
type StatusError struct {
	Pipeline   string
	StatusCode int
	Body       string
}

// Error describes the answer.
func (e *StatusError) Error() string {
	return fmt.Sprintf("conductorclient: resolve %q: HTTP %d: %s", e.Pipeline, e.StatusCode, e.Body)
}

// Client asks one Batch Conductor. It is safe for concurrent use.
type Client struct {
	http *http.Client
	base *url.URL
}

// New returns a Client for the conductor at baseURL that sends its
// requests with httpClient.
func New(httpClient *http.Client, baseURL string) (*Client, error) {
	if httpClient == nil {
		return nil, errors.New("conductorclient: New: http client is nil")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("conductorclient: New: base URL %q must be an absolute http(s) URL", baseURL)
	}
	return &Client{http: httpClient, base: u}, nil
}

// Resolve returns the ordered phases of pipeline.
func (c *Client) Resolve(ctx context.Context, pipeline string) ([]string, error) {
	u := c.base.JoinPath("v1", "pipelines", pipeline)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("conductorclient: resolve %q: %w", pipeline, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("conductorclient: resolve %q: %w", pipeline, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("conductorclient: resolve %q: read answer: %w", pipeline, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s", ErrUnknownPipeline, errorMessage(body, pipeline))
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{Pipeline: pipeline, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	var ans struct {
		Phases []string `json:"phases"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: resolve %q: %v", ErrBadResponse, pipeline, err)
	}
	if len(ans.Phases) == 0 {
		return nil, fmt.Errorf("%w: resolve %q: no phases", ErrBadResponse, pipeline)
	}
	return ans.Phases, nil
}

// errorMessage extracts the message of a JSON error body, or falls back to
// naming the pipeline.
func errorMessage(body []byte, pipeline string) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return fmt.Sprintf("%q", pipeline)
}
