package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rcm-health/rcm/pkg/events"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"same parts", []string{"evt-1", "coder", "0"}, []string{"evt-1", "coder", "0"}, true},
		{"other index", []string{"evt-1", "coder", "0"}, []string{"evt-1", "coder", "1"}, false},
		{"other cause", []string{"evt-1", "coder"}, []string{"evt-2", "coder"}, false},
		{"order matters", []string{"a", "b"}, []string{"b", "a"}, false},
		{"boundaries matter", []string{"ab", "c"}, []string{"a", "bc"}, false},
		{"joined is not split", []string{"a", "b"}, []string{"ab"}, false},
		{"empty part counts", []string{"a", ""}, []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := events.NewID(tt.a...), events.NewID(tt.b...)
			if (a == b) != tt.same {
				t.Errorf("NewID(%q) = %s, NewID(%q) = %s; same = %v, want %v", tt.a, a, tt.b, b, a == b, tt.same)
			}
			if again := events.NewID(tt.a...); again != a {
				t.Errorf("NewID(%q) gave %s, then %s", tt.a, a, again)
			}
			u, err := uuid.Parse(a)
			if err != nil {
				t.Fatalf("NewID(%q) = %q is not a UUID: %v", tt.a, a, err)
			}
			if u.Version() != 5 {
				t.Errorf("NewID(%q) is version %d, want 5", tt.a, u.Version())
			}
		})
	}
}

// TestNewIDStable pins derived ids: they are keys in every service's inbox and
// in JetStream's dedupe window, so a change to the namespace or the joining
// would make a replay look like new events. docs/events.md uses this visit id.
func TestNewIDStable(t *testing.T) {
	t.Parallel()
	const want = "dce5fd68-5ffa-554b-a224-b7ba398d77dc"
	if got := events.NewID("visit", "examplemr", "enc-20260302-0117"); got != want {
		t.Errorf("NewID = %s, want %s", got, want)
	}
}

func validEnvelope() events.Envelope {
	return events.Envelope{
		ID:            events.NewID("test"),
		Type:          events.TypeVisitCoded,
		Source:        events.SourceCoder,
		Subject:       "visit-1",
		Time:          time.Date(2026, 3, 2, 22, 41, 6, 0, time.UTC),
		CorrelationID: "visit-1",
		Data:          json.RawMessage(`{}`),
	}
}

func TestEnvelopeValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*events.Envelope)
		wantErr string
		unknown bool
	}{
		{name: "valid", mutate: func(*events.Envelope) {}},
		{name: "no causation or rules version", mutate: func(e *events.Envelope) { e.CausationID, e.RulesVersion = "", "" }},
		{name: "no id", mutate: func(e *events.Envelope) { e.ID = "" }, wantErr: "id is empty"},
		{name: "no type", mutate: func(e *events.Envelope) { e.Type = "" }, wantErr: "type is empty"},
		{name: "no source", mutate: func(e *events.Envelope) { e.Source = "" }, wantErr: "source is empty"},
		{name: "no subject", mutate: func(e *events.Envelope) { e.Subject = "" }, wantErr: "subject is empty"},
		{name: "no time", mutate: func(e *events.Envelope) { e.Time = time.Time{} }, wantErr: "time is empty"},
		{name: "no data", mutate: func(e *events.Envelope) { e.Data = nil }, wantErr: "data is empty"},
		{name: "unknown type", mutate: func(e *events.Envelope) { e.Type = "visit.coded.v2" }, wantErr: "visit.coded.v2", unknown: true},
		{name: "subject not type", mutate: func(e *events.Envelope) { e.Type = events.SubjectVisitCoded }, wantErr: "unknown", unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validEnvelope()
			tt.mutate(&e)
			err := e.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
			if got := errors.Is(err, events.ErrUnknownType); got != tt.unknown {
				t.Errorf("errors.Is(err, ErrUnknownType) = %v, want %v", got, tt.unknown)
			}
		})
	}
}

func TestEveryTypeValidates(t *testing.T) {
	t.Parallel()
	for _, typ := range sortedTypes() {
		e := validEnvelope()
		e.Type = typ
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	valid := `{"id":"e1","type":"visit.coded.v1","source":"rcm/coder","subject":"v1","time":"2026-03-02T22:41:06Z","correlation_id":"v1","data":{"visit_id":"v1"}}`
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "valid", in: valid},
		{name: "unknown envelope field ignored", in: strings.Replace(valid, `"id"`, `"extra":1,"id"`, 1)},
		{name: "not JSON", in: `{"id":`, wantErr: "decode envelope"},
		{name: "bad time", in: strings.Replace(valid, "2026-03-02T22:41:06Z", "yesterday", 1), wantErr: "decode envelope"},
		{name: "missing data", in: strings.Replace(valid, `,"data":{"visit_id":"v1"}`, "", 1), wantErr: "data is empty"},
		{name: "unknown type", in: strings.Replace(valid, "visit.coded.v1", "visit.coded.v9", 1), wantErr: "unknown event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.Unmarshal([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Unmarshal() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Unmarshal() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestNewRoundTrip builds an envelope with New, sends it through JSON and
// decodes its data back: what a producer writes is what a consumer reads.
func TestNewRoundTrip(t *testing.T) {
	t.Parallel()
	in := events.ClaimCorrectionRequested{
		ClaimID: "claim-1", WorkItemID: "wi-1", Frequency: events.FrequencyReplacement,
		Reason: "add 59", RequestedBy: "user-1", PayerClaimControlNumber: "2226063012345",
		Lines: []events.LineCorrection{{Line: 2, Modifiers: []string{"59", "GO"}, Units: 1}},
	}
	local := time.FixedZone("CST", -6*60*60)
	e, err := events.New(events.NewID("x"), events.TypeClaimCorrectionRequested, events.SourceDenials, "claim-1",
		time.Date(2026, 3, 25, 9, 12, 44, 0, local), in)
	if err != nil {
		t.Fatal(err)
	}
	if e.Time.Location() != time.UTC || e.Time.Hour() != 15 {
		t.Errorf("time = %v, want the same instant in UTC", e.Time)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &in) {
		t.Errorf("round trip gave %+v, want %+v", got, &in)
	}
}

func TestNewRejectsUnencodableData(t *testing.T) {
	t.Parallel()
	if _, err := events.New("id", events.TypeVisitCoded, events.SourceCoder, "s", time.Now(), func() {}); err == nil {
		t.Error("New with a func as data succeeded")
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     string
		data    string
		unknown bool
	}{
		{name: "unknown type", typ: "visit.coded.v9", data: `{}`, unknown: true},
		{name: "wrong shape", typ: events.TypeVisitCoded, data: `{"lines":"none"}`},
		{name: "not JSON", typ: events.TypeRemitReceived, data: `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validEnvelope()
			e.Type, e.Data = tt.typ, json.RawMessage(tt.data)
			v, err := events.Decode(e)
			if err == nil {
				t.Fatalf("Decode() = %T, nil; want an error", v)
			}
			if got := errors.Is(err, events.ErrUnknownType); got != tt.unknown {
				t.Errorf("errors.Is(%v, ErrUnknownType) = %v, want %v", err, got, tt.unknown)
			}
		})
	}
}
