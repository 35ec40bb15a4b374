package contentclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBytes bounds the size of a fetched text.
const DefaultMaxBytes = 8 << 20

// ErrNotFound is wrapped by Fetch errors for a content id the File Service
// does not know.
var ErrNotFound = errors.New("contentclient: content not found")

// ErrInvalidContent is wrapped by Fetch errors for an answer that is not
// usable text (too large, not UTF-8).
var ErrInvalidContent = errors.New("contentclient: invalid content")

// StatusError is an error answer other than 404.
type StatusError struct {
	ContentID  string
	StatusCode int
	Body       string // the first 512 bytes of the answer
}

// Error describes the answer.
func (e *StatusError) Error() string {
	return fmt.Sprintf("contentclient: GET content %s: HTTP %d: %s", e.ContentID, e.StatusCode, e.Body)
}

// Client fetches texts from one File Service. It is safe for concurrent
// use.
type Client struct {
	http     *http.Client
	base     *url.URL
	maxBytes int64
}

// New returns a Client for the File Service at baseURL (scheme and host,
// optionally a path prefix) that sends its requests with httpClient.
func New(httpClient *http.Client, baseURL string) (*Client, error) {
	if httpClient == nil {
		return nil, errors.New("contentclient: New: http client is nil")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("contentclient: New: base URL %q must be an absolute http(s) URL", baseURL)
	}
	return &Client{http: httpClient, base: u, maxBytes: DefaultMaxBytes}, nil
}

// Fetch returns the text stored under contentID.
func (c *Client) Fetch(ctx context.Context, contentID string) (string, error) {
	if contentID == "" {
		return "", fmt.Errorf("%w: content id is empty", ErrNotFound)
	}
	u := c.base.JoinPath("v1", "content", contentID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("contentclient: GET content %s: %w", contentID, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("contentclient: GET content %s: %w", contentID, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%w: %s", ErrNotFound, contentID)
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", &StatusError{ContentID: contentID, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return "", fmt.Errorf("contentclient: read content %s: %w", contentID, err)
	}
	if int64(len(body)) > c.maxBytes {
		return "", fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidContent, contentID, c.maxBytes)
	}
	if !utf8.Valid(body) {
		return "", fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalidContent, contentID)
	}
	return string(body), nil
}
