package intake_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/services/intake"
)

// FuzzDecodeValidate feeds arbitrary bodies to the decoder and validator:
// they must never panic, every problem must name a JSON path, and an accepted
// visit must survive a round trip unchanged in meaning.
func FuzzDecodeValidate(f *testing.F) {
	entries, err := docs.FS.ReadDir("examples")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := docs.FS.ReadFile("examples/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	catalog := billing.DefaultCatalog()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := intake.Decode(body)
		if err != nil {
			if v != nil {
				t.Fatal("decode error with a visit")
			}
			// Errors name positions and fields, never echo the body.
			if len(body) > 16 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error echoes the body: %v", err)
			}
			return
		}
		problems := intake.Validate(v, now, catalog)
		for _, p := range problems {
			if !strings.HasPrefix(p.Path, "$") || p.Reason == "" {
				t.Fatalf("problem without path or reason: %+v", p)
			}
		}
		if len(problems) > 0 {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := intake.Decode(again)
		if err != nil {
			t.Fatalf("an accepted visit does not decode after re-encoding: %v", err)
		}
		if p := intake.Validate(v2, now, catalog); len(p) > 0 {
			t.Fatalf("an accepted visit is rejected after re-encoding: %+v", p)
		}
	})
}

// TestValidateAcceptsExamples keeps the documented examples valid.
func TestValidateAcceptsExamples(t *testing.T) {
	t.Parallel()
	entries, err := docs.FS.ReadDir("examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := docs.FS.ReadFile("examples/" + e.Name())
		v, err := intake.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if p := intake.Validate(v, time.Now(), billing.DefaultCatalog()); len(p) > 0 {
			t.Errorf("%s: %+v", e.Name(), p)
		}
	}
}

// BenchmarkDecodeValidate is intake's CPU cost per visit before the
// database: strict decoding and every validation rule.
func BenchmarkDecodeValidate(b *testing.B) {
	body, err := docs.FS.ReadFile("examples/visit-ot-assistant-telehealth.json")
	if err != nil {
		b.Fatal(err)
	}
	catalog := billing.DefaultCatalog()
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := intake.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if p := intake.Validate(v, now, catalog); len(p) > 0 {
			b.Fatal(p)
		}
	}
}
