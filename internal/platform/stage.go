package platform

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

// StageMetrics counts and times one stage's handler.
type StageMetrics struct {
	handled *prometheus.CounterVec
	seconds prometheus.Observer
}

// NewStageMetrics registers the stage's metrics on reg (nil: not exported).
func NewStageMetrics(stage string, reg prometheus.Registerer) (*StageMetrics, error) {
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcm_stage_messages_total", Help: "Messages a stage's handler finished, by outcome.",
		ConstLabels: prometheus.Labels{"stage": stage},
	}, []string{"outcome"})
	seconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rcm_stage_handle_seconds", Help: "Time a stage's handler took per message.",
		ConstLabels: prometheus.Labels{"stage": stage},
		Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{handled, seconds} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return &StageMetrics{handled: handled, seconds: seconds}, nil
}

// Wrap counts and times h.
func (m *StageMetrics) Wrap(h message.NoPublishHandlerFunc) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		start := time.Now()
		err := h(msg)
		m.seconds.Observe(time.Since(start).Seconds())
		if err != nil {
			m.handled.WithLabelValues("failed").Inc()
		} else {
			m.handled.WithLabelValues("ok").Inc()
		}
		return err
	}
}
