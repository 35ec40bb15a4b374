package llmclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// ServiceName is the LLM Provider Service's name (llmprovider.ServiceName),
// for callers that name it as a dependency without linking the service.
const ServiceName = "llm_provider_service"

// ErrRejected is wrapped by Submit errors for a request the service
// refused as invalid (400, 413, 415): sending it again will not help.
var ErrRejected = errors.New("llmclient: request rejected")

// ErrQueueFull is wrapped by Submit errors when the service's queue had
// no room (503 queue_full); see QueueFullError.
var ErrQueueFull = errors.New("llmclient: queue full")

// QueueFullError is the 503 queue_full answer.
type QueueFullError struct {
	RequestID string
	// RetryAfter is the service's retry_after_seconds.
	RetryAfter time.Duration
}

// Error names the request and when to retry.
func (e *QueueFullError) Error() string {
	return fmt.Sprintf("llmclient: submit %s: the LLM Provider's queue is full; retry after %v", e.RequestID, e.RetryAfter)
}

// Unwrap returns ErrQueueFull.
func (e *QueueFullError) Unwrap() error { return ErrQueueFull }

// StatusError is any other error answer.
type StatusError struct {
	RequestID  string
	StatusCode int
	Body       string // the first 512 bytes of the answer
}

// Error describes the answer.
func (e *StatusError) Error() string {
	return fmt.Sprintf("llmclient: submit %s: HTTP %d: %s", e.RequestID, e.StatusCode, e.Body)
}

// Client submits comparisons to one LLM Provider Service. It is safe for
// concurrent use.
type Client struct {
	http *http.Client
	base *url.URL
}

// New returns a Client for the service at baseURL that sends its
// requests with httpClient.
func New(httpClient *http.Client, baseURL string) (*Client, error) {
	if httpClient == nil {
		return nil, errors.New("llmclient: New: http client is nil")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llmclient: New: base URL %q must be an absolute http(s) URL", baseURL)
	}
	return &Client{http: httpClient, base: u}, nil
}

// Submit queues req and returns the service's 202 answer. A request id
// the service knows already returns that entry, queued once.
func (c *Client) Submit(ctx context.Context, req contracts.LLMComparisonRequestV1) (contracts.LLMComparisonAccepted, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return contracts.LLMComparisonAccepted{}, fmt.Errorf("llmclient: submit %s: %w", req.RequestID, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("v1", "comparison").String(), bytes.NewReader(body))
	if err != nil {
		return contracts.LLMComparisonAccepted{}, fmt.Errorf("llmclient: submit %s: %w", req.RequestID, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return contracts.LLMComparisonAccepted{}, fmt.Errorf("llmclient: submit %s: %w", req.RequestID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return contracts.LLMComparisonAccepted{}, fmt.Errorf("llmclient: submit %s: reading the answer: %w", req.RequestID, err)
	}
	switch resp.StatusCode {
	case http.StatusAccepted:
		var a contracts.LLMComparisonAccepted
		if err := json.Unmarshal(raw, &a); err != nil || a.QueueID == "" {
			return contracts.LLMComparisonAccepted{}, fmt.Errorf("llmclient: submit %s: the 202 answer %q has no queue id", req.RequestID, clip(raw))
		}
		return a, nil
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return contracts.LLMComparisonAccepted{}, fmt.Errorf("%w: submit %s: HTTP %d: %s", ErrRejected, req.RequestID, resp.StatusCode, clip(raw))
	case http.StatusServiceUnavailable:
		var full struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
			RetryAfterSeconds int `json:"retry_after_seconds"`
		}
		if json.Unmarshal(raw, &full) == nil && full.Error.Code == "queue_full" {
			return contracts.LLMComparisonAccepted{}, &QueueFullError{RequestID: req.RequestID, RetryAfter: time.Duration(full.RetryAfterSeconds) * time.Second}
		}
	}
	return contracts.LLMComparisonAccepted{}, &StatusError{RequestID: req.RequestID, StatusCode: resp.StatusCode, Body: clip(raw)}
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}
