package platform_test

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rcm-health/rcm/internal/platform"
)

type patient struct {
	Name string
	DOB  string
}

// TestLoggerRedactsPHI: values under keys off the allowlist, and anything
// encoded by reflection, never reach the output.
func TestLoggerRedactsPHI(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	log := platform.NewLoggerWithCore(core)
	p := patient{Name: "Jane Roe", DOB: "1950-01-02"}
	log.With(zap.String("patient_name", "Jane Roe")).Info("visit recorded",
		zap.String("visit_id", "v-1"),
		zap.Any("patient", p),
		zap.Any("visit_id_any", p),
		zap.Reflect("event_id", p), // allowed key, but reflection: still redacted
		zap.String("member_id", "1EG4TE5MK73"),
		zap.Int("count", 3),
	)
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d entries", len(entries))
	}
	got := entries[0].ContextMap()
	var all strings.Builder
	for k, v := range got {
		all.WriteString(k)
		all.WriteString("=")
		all.WriteString(fmt.Sprint(v))
		all.WriteString(";")
	}
	for _, phi := range []string{"Jane", "Roe", "1950", "1EG4TE5MK73"} {
		if strings.Contains(all.String(), phi) {
			t.Errorf("log output contains PHI %q: %s", phi, all.String())
		}
	}
	if got["visit_id"] != "v-1" || got["count"] != int64(3) {
		t.Errorf("allowed fields lost: %v", got)
	}
	if got["patient_name"] != "[redacted]" || got["member_id"] != "[redacted]" {
		t.Errorf("unknown keys not redacted: %v", got)
	}
}
