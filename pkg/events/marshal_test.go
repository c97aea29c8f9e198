package events

import (
	"encoding/json"
	"testing"
	"time"
)

// TestMarshalJSONMatchesEncodingJSON: the hand-written MarshalJSON gives
// exactly what encoding/json gives for the same envelope.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	type plain Envelope // no MarshalJSON method
	at := time.Date(2026, 3, 2, 10, 4, 5, 123456789, time.UTC)
	for _, e := range []Envelope{
		{ID: "a", Type: TypeVisitCoded, Source: SourceCoder, Subject: "v", Time: at, CorrelationID: "v", Data: json.RawMessage(`{"x":1}`)},
		{ID: "a", Type: TypeVisitCoded, Source: SourceCoder, Subject: "v<&>\"\\\n", Time: at.In(time.FixedZone("x", 3600)), CorrelationID: "é",
			CausationID: "c", RulesVersion: "2026.1", Data: json.RawMessage(`{"y":[1,2,{"z":"\u00e9"}]}`)},
	} {
		got, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(plain(e))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
		}
		back, err := Unmarshal(got)
		if err != nil || back.ID != e.ID || back.Subject != e.Subject || !back.Time.Equal(e.Time) {
			t.Errorf("round trip: %+v %v", back, err)
		}
	}
	if _, err := json.Marshal(Envelope{ID: "a"}); err == nil {
		t.Error("an envelope without data marshalled")
	}
}
