package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// AnySource as a key of Handler.Secrets accepts a visit of any source signed
// with that secret. rcm dev uses it so an integrator can try their own source
// name; production configures one secret per source.
const AnySource = "*"

// MaxBodyBytes bounds a visit payload; a real visit is a few KiB.
const MaxBodyBytes = 1 << 20

// Recorder is what the handler needs from the store.
type Recorder interface {
	Record(ctx context.Context, vis *events.Visit, body []byte, webhookID string, now time.Time) (json.RawMessage, bool, error)
}

// Handler serves POST /v1/visits.
type Handler struct {
	Secrets  map[string][]webhook.Secret
	Store    Recorder
	Catalog  *billing.Catalog
	Log      *zap.Logger
	Now      func() time.Time
	verifier *webhook.Verifier
	sources  []string
	results  *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewHandler checks its configuration and registers its metrics on reg.
func NewHandler(h Handler, reg prometheus.Registerer) (*Handler, error) {
	if len(h.Secrets) == 0 {
		return nil, errors.New("intake: no webhook secret configured for any source")
	}
	if h.Store == nil || h.Catalog == nil || h.Log == nil {
		return nil, errors.New("intake: store, catalog and logger are required")
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	h.verifier = &webhook.Verifier{Secrets: h.Secrets, Now: h.Now}
	for s := range h.Secrets {
		h.sources = append(h.sources, s)
	}
	h.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcm_intake_requests_total", Help: "Visit webhooks by outcome.",
	}, []string{"outcome"})
	h.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rcm_intake_request_seconds", Help: "Time to answer a visit webhook.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	if reg != nil {
		if err := reg.Register(h.results); err != nil {
			return nil, err
		}
		if err := reg.Register(h.latency); err != nil {
			return nil, err
		}
	}
	return &h, nil
}

// Mount adds the intake routes to mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/visits", h.postVisit)
}

// errorBody is every 4xx/5xx answer. Detail and problems name fields and
// rules, never values from the payload.
type errorBody struct {
	Error    string    `json:"error"`
	Detail   string    `json:"detail,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

func (h *Handler) fail(w http.ResponseWriter, code int, outcome string, body errorBody) {
	h.results.WithLabelValues(outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *Handler) postVisit(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.latency.Observe(time.Since(start).Seconds()) }()

	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		h.fail(w, http.StatusUnsupportedMediaType, "bad_content_type", errorBody{Error: "unsupported media type", Detail: "Content-Type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, http.StatusRequestEntityTooLarge, "too_large", errorBody{Error: "payload too large", Detail: fmt.Sprintf("a visit must be at most %d bytes", MaxBodyBytes)})
			return
		}
		h.fail(w, http.StatusBadRequest, "bad_body", errorBody{Error: "unreadable body", Detail: "the request body could not be read"})
		return
	}
	// The signature is checked on the raw bytes before anything parses them.
	source, err := h.verifier.VerifyAny(h.sources, r.Header, body)
	if err != nil {
		h.fail(w, http.StatusUnauthorized, "unauthorized", errorBody{Error: "unauthorized", Detail: err.Error()})
		return
	}
	vis, err := Decode(body)
	if err != nil {
		h.fail(w, http.StatusBadRequest, "malformed", errorBody{Error: "malformed JSON", Detail: err.Error()})
		return
	}
	now := h.Now()
	problems := Validate(vis, now, h.Catalog)
	if source != AnySource && vis.Source != "" && vis.Source != source {
		problems = append(problems, Problem{Path: "$.source", Reason: "does not match the source whose secret signed the request"})
	}
	if len(problems) > 0 {
		h.fail(w, http.StatusUnprocessableEntity, "invalid", errorBody{Error: "invalid visit", Problems: problems})
		return
	}
	webhookID := r.Header.Get("webhook-id")
	receipt, replayed, err := h.Store.Record(r.Context(), vis, body, webhookID, now)
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		code := http.StatusConflict
		if conflict.Unprocessable {
			code = http.StatusUnprocessableEntity
		}
		h.fail(w, code, "conflict", errorBody{Error: "revision conflict", Detail: conflict.Reason})
		return
	case err != nil:
		h.Log.Error("record visit", zap.String("source", source), zap.String("webhook_id", webhookID), zap.Error(err))
		h.fail(w, http.StatusServiceUnavailable, "unavailable", errorBody{Error: "not recorded", Detail: "the visit could not be stored; retry later"})
		return
	}
	outcome := "accepted"
	if replayed {
		outcome = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	}
	h.results.WithLabelValues(outcome).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(append(bytes.TrimSpace(receipt), '\n'))
}

// Decode parses a visit strictly: an unknown field is an error, since a
// misspelt field silently ignored is a claim silently wrong.
func Decode(body []byte) (*events.Visit, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var v events.Visit
	if err := dec.Decode(&v); err != nil {
		return nil, describeJSONError(err)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the visit object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the visit object")
	}
	return &v, nil
}

// describeJSONError keeps the decoder's position and field name but never
// the offending value.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s: expected %s, got JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("JSON ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errors.New("invalid JSON")
}
