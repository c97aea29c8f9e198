// Package emrclient posts signed visits to intake the way an EMR does:
// Standard Webhooks signature, one webhook-id per delivery kept across
// retries, and retries on anything but a definite answer. rcm demo, rcm
// loadgen and the crash tests use it.
package emrclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// Client posts visits to one intake.
type Client struct {
	// BaseURL is intake's root, such as http://127.0.0.1:8080.
	BaseURL string
	Secret  webhook.Secret
	HTTP    *http.Client
	// Retries after a failed attempt (connection error, 5xx, 429); default 20.
	Retries int
	// Backoff is the first wait between attempts, doubled up to 2s; default 50ms.
	Backoff time.Duration
}

// New returns a client with a connection pool sized for concurrency.
func New(baseURL string, secret webhook.Secret, concurrency int) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency * 2,
		IdleConnTimeout:     time.Minute,
	}
	return &Client{BaseURL: baseURL, Secret: secret, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Response is intake's final answer to one visit.
type Response struct {
	Status   int
	Body     []byte
	Attempts int
	// Replayed is true when intake answered from its idempotency record.
	Replayed bool
}

// Receipt decodes a 202 body.
func (r Response) Receipt() (ReceiptBody, error) {
	var rb ReceiptBody
	err := json.Unmarshal(r.Body, &rb)
	return rb, err
}

// ReceiptBody mirrors intake's 202 answer.
type ReceiptBody struct {
	VisitID  string `json:"visit_id"`
	EventID  string `json:"event_id"`
	Revision int    `json:"revision"`
	Change   string `json:"change"`
}

// WebhookID is the delivery id of a visit revision: the same for every retry
// of that delivery, as Standard Webhooks expects.
func WebhookID(v *events.Visit) string {
	return fmt.Sprintf("msg_%s_%s_r%d", v.Source, v.SourceVisitID, v.Revision)
}

// Post sends v until intake gives a definite answer (2xx or a 4xx other than
// 429) or the retries run out. Each attempt is signed afresh, since the
// timestamp must be current.
func (c *Client) Post(ctx context.Context, v *events.Visit) (Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Response{}, fmt.Errorf("encode visit: %w", err)
	}
	return c.PostRaw(ctx, WebhookID(v), body)
}

// PostRaw sends an encoded body under webhook id msgID.
func (c *Client) PostRaw(ctx context.Context, msgID string, body []byte) (Response, error) {
	retries, backoff := c.Retries, c.Backoff
	if retries <= 0 {
		retries = 20
	}
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, msgID, body)
		resp.Attempts = attempt
		switch {
		case err == nil && resp.Status < 500 && resp.Status != http.StatusTooManyRequests:
			return resp, nil
		case err == nil:
			lastErr = fmt.Errorf("intake answered %d", resp.Status)
		default:
			lastErr = err
		}
		if attempt > retries {
			return resp, fmt.Errorf("after %d attempts: %w", attempt, lastErr)
		}
		select {
		case <-ctx.Done():
			return resp, ctx.Err()
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 2*time.Second {
			backoff = 2 * time.Second
		}
	}
}

func (c *Client) once(ctx context.Context, msgID string, body []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/visits", bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	webhook.SignRequest(req, c.Secret, msgID, time.Now(), body)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Body: b, Replayed: resp.Header.Get("Idempotent-Replayed") == "true"}, nil
}
