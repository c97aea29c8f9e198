package events_test

import (
	"testing"

	"github.com/rcm-health/rcm/pkg/events"
)

// FuzzUnmarshal: any bytes off the wire either decode to a valid envelope or
// fail with an error; never a panic, never an invalid envelope.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"id":"a","type":"visit.recorded.v1","source":"rcm/intake","subject":"v","time":"2026-11-28T00:00:00Z","correlation_id":"v","data":{}}`))
	f.Add([]byte(`{"id":"a","type":"visit.recorded.v9"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.Unmarshal(b)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Unmarshal returned an invalid envelope: %v", err)
		}
		if _, err := events.Decode(e); err != nil {
			// Data may not fit its type; that must be an error, not a panic.
			return
		}
	})
}
