package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/denials"
)

// opsSample is how long the page measures rates over: a page view waits
// for it, so it is short, and long enough for a rate of a few a second.
const opsSample = time.Second

// opsView is the pipeline page's data: the status, or why there is none.
type opsView struct {
	Status      *platform.PipelineStatus
	Unavailable string
}

// DeadLetters is the dead letters across services, for the page's hint.
func (v opsView) DeadLetters() uint64 {
	var n uint64
	if v.Status != nil {
		for _, s := range v.Status.Services {
			n += s.DeadLetters
		}
	}
	return n
}

// ops is the pipeline page: what rcm status prints, for any role. It shows
// stream and consumer names and counts, never a claim or a patient, so it
// is not written to the audit log. The outbox is counted for the denials
// schema only: a service reads its own schema.
func (s *server) ops(js jetstream.JetStream) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var v opsView
		if js == nil {
			v.Unavailable = "This server has no connection to JetStream, so the pipeline's status cannot be shown here. Run rcm status instead."
		} else {
			ctx, cancel := context.WithTimeout(r.Context(), opsSample+10*time.Second)
			defer cancel()
			st, err := platform.Status(ctx, js, platform.StatusOptions{Sample: opsSample, Pool: s.pool, Schemas: []string{denials.Schema}})
			if err != nil {
				s.log.Warn("pipeline status", zap.String("route", r.Pattern), zap.Error(err))
				v.Unavailable = "The pipeline's status could not be read just now. The error was logged; try again in a moment."
			}
			v.Status = st
		}
		s.render(w, r, http.StatusOK, "ops", view{Title: "Pipeline", Nav: "ops", User: userOf(r), Data: v})
	}
}

// Size is a byte count in binary units, for the streams table.
func (opsView) Size(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
