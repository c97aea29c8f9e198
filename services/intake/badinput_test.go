package intake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// TestBadInput sends each kind of bad request and checks the answer names the
// problem, and that nothing reached the database or the stream.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := start(t)
	good := example(t, "visit-ot-medicare.json")
	other, err := webhook.ParseSecret("whsec_" + "c2VjcmV0LW9mLWFub3RoZXItZW1yLWZvci10ZXN0cw==")
	if err != nil {
		t.Fatal(err)
	}

	visit := func(mut func(v *events.Visit)) []byte {
		v := good
		// Deep enough copies for the fields the cases change.
		v.Services = append([]events.Service(nil), good.Services...)
		for i := range v.Services {
			v.Services[i].DiagnosisPointers = append([]int(nil), good.Services[i].DiagnosisPointers...)
		}
		v.Diagnoses = append([]string(nil), good.Diagnoses...)
		mut(&v)
		return mustJSON(t, v)
	}
	resign := func(body []byte, secret webhook.Secret, ts time.Time) func(*http.Request) {
		return func(r *http.Request) { webhook.SignRequest(r, secret, "msg_x", ts, body) }
	}
	type tc struct {
		name   string
		body   []byte
		mutate func(*http.Request)
		code   int
		want   []string // substrings of the answer: a path or a reason
	}
	goodBody := visit(func(*events.Visit) {})
	future := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	cases := []tc{
		{name: "malformed JSON", body: []byte(`{"source": "acme-emr",`), code: 400, want: []string{"malformed JSON"}},
		{name: "not an object", body: []byte(`[1,2]`), code: 400, want: []string{"expected"}},
		{name: "trailing data", body: append(append([]byte{}, goodBody...), []byte(` {}`)...), code: 400, want: []string{"unexpected data"}},
		{name: "unknown field", body: []byte(`{"source":"acme-emr","surprise":1}`), code: 400, want: []string{"unknown field", "surprise"}},
		{name: "wrong type", body: []byte(`{"revision":"one"}`), code: 400, want: []string{"revision"}},
		{name: "empty body", body: []byte{}, code: 400, want: []string{"empty body"}},
		{name: "wrong content type", body: goodBody, mutate: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, code: 415, want: []string{"application/json"}},
		{name: "oversize body", body: []byte(`{"source":"` + strings.Repeat("x", 1<<20) + `"}`), code: 413, want: []string{"too large"}},
		{name: "missing signature", body: goodBody, mutate: func(r *http.Request) { r.Header.Del("webhook-signature") }, code: 401, want: []string{"webhook-signature"}},
		{name: "missing id", body: goodBody, mutate: func(r *http.Request) { r.Header.Del("webhook-id") }, code: 401, want: []string{"webhook-id"}},
		{name: "bad signature", body: goodBody, mutate: func(r *http.Request) { r.Header.Set("webhook-signature", "v1,AAAA") }, code: 401, want: []string{"signature"}},
		{name: "other secret", body: goodBody, mutate: resign(goodBody, other, time.Now()), code: 401, want: []string{"signature"}},
		{name: "stale timestamp", body: goodBody, mutate: resign(goodBody, e.secret, time.Now().Add(-6*time.Minute)), code: 401, want: []string{"timestamp"}},
		{name: "future timestamp", body: goodBody, mutate: resign(goodBody, e.secret, time.Now().Add(6*time.Minute)), code: 401, want: []string{"timestamp"}},
		{name: "bad timestamp", body: goodBody, mutate: func(r *http.Request) { r.Header.Set("webhook-timestamp", "soon") }, code: 401, want: []string{"timestamp"}},
		{name: "NPI check digit", body: visit(func(v *events.Visit) { v.BillingProvider.NPI = "1234567890" }), code: 422, want: []string{"$.billing_provider.npi", "check digit"}},
		{name: "NPI length", body: visit(func(v *events.Visit) { v.RenderingProvider.NPI = "12345" }), code: 422, want: []string{"$.rendering_provider.npi"}},
		{name: "ICD-10 format", body: visit(func(v *events.Visit) { v.Diagnoses[0] = "123.45" }), code: 422, want: []string{"$.diagnoses[0]", "ICD-10-CM"}},
		{name: "unknown code", body: visit(func(v *events.Visit) { v.Services[0].Code = "99999" }), code: 422, want: []string{"$.services[0].code", "catalog"}},
		{name: "timed code without minutes", body: visit(func(v *events.Visit) { v.Services[0].Code = "97530"; v.Services[0].Minutes = 0 }), code: 422, want: []string{"$.services[0].minutes", "required"}},
		{name: "minutes out of range", body: visit(func(v *events.Visit) { v.Services[0].Minutes = 1441 }), code: 422, want: []string{"$.services[0].minutes", "1440"}},
		{name: "negative minutes", body: visit(func(v *events.Visit) { v.Services[0].Minutes = -5 }), code: 422, want: []string{"$.services[0].minutes"}},
		{name: "date not real", body: visit(func(v *events.Visit) { v.DateOfService = "2026-02-30" }), code: 422, want: []string{"$.date_of_service", "real date"}},
		{name: "date in future", body: visit(func(v *events.Visit) { v.DateOfService = future }), code: 422, want: []string{"$.date_of_service", "future"}},
		{name: "birth date in future", body: visit(func(v *events.Visit) { v.Patient.BirthDate = future }), code: 422, want: []string{"$.patient.birth_date", "future"}},
		{name: "required fields", body: visit(func(v *events.Visit) { v.Patient.LastName = ""; v.Coverage.MemberID = ""; v.PlaceOfService = "" }), code: 422,
			want: []string{"$.patient.last_name", "$.coverage.member_id", "$.place_of_service", "required"}},
		{name: "pointer past diagnoses", body: visit(func(v *events.Visit) { v.Services[0].DiagnosisPointers = []int{len(v.Diagnoses) + 1} }), code: 422, want: []string{"$.services[0].diagnosis_pointers[0]", "point into diagnoses"}},
		{name: "pointer zero", body: visit(func(v *events.Visit) { v.Services[0].DiagnosisPointers = []int{0} }), code: 422, want: []string{"$.services[0].diagnosis_pointers[0]"}},
		{name: "source mismatch", body: visit(func(v *events.Visit) { v.Source = "other-emr" }), code: 422, want: []string{"$.source"}},
		{name: "revision zero", body: visit(func(v *events.Visit) { v.Revision = 0 }), code: 422, want: []string{"$.revision"}},
		{name: "subscriber missing", body: visit(func(v *events.Visit) { v.Coverage.Relationship = events.RelationshipChild; v.Coverage.Subscriber = nil }), code: 422, want: []string{"$.coverage.subscriber"}},
		{name: "many problems at once", body: visit(func(v *events.Visit) {
			v.BillingProvider.NPI = "1"
			v.Diagnoses = []string{"bad"}
			v.Services[0].Minutes = 5000
		}), code: 422, want: []string{"$.billing_provider.npi", "$.diagnoses[0]", "$.services[0].minutes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b, _ := e.post(t, c.body, c.mutate)
			if code != c.code {
				t.Fatalf("status %d; want %d; body %s", code, c.code, b)
			}
			var eb struct {
				Error    string `json:"error"`
				Detail   string `json:"detail"`
				Problems []struct{ Path, Reason string }
			}
			if err := json.Unmarshal(b, &eb); err != nil || eb.Error == "" {
				t.Fatalf("answer is not a JSON error: %s", b)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("answer does not mention %q: %s", w, b)
				}
			}
		})
	}
	// Nothing was written anywhere.
	ctx := context.Background()
	for _, table := range []string{"intake.visits", "intake.revisions", "intake.outbox"} {
		var n int
		if err := e.deps.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows after bad input; want 0", table, n)
		}
	}
	if n := ptest.StreamCount(t, e.deps.JS, events.StreamIntake); n != 0 {
		t.Errorf("stream holds %d events after bad input; want 0", n)
	}
	// The good body still goes through: the cases above did not poison anything.
	if code, b, _ := e.post(t, goodBody, nil); code != http.StatusAccepted {
		t.Fatalf("good visit after bad ones: %d %s", code, b)
	}
}
