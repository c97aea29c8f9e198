package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/intake"
)

// TestReplayRestoresTheStream: with a complete INTAKE stream a replay
// publishes nothing; after the stream is lost it republishes every
// revision under its id, byte for byte from the outbox, or rebuilt from
// the stored body when the outbox row was pruned.
func TestReplayRestoresTheStream(t *testing.T) {
	t.Parallel()
	e := start(t)
	d := e.deps
	v := example(t, "visit-ot-medicare.json")
	for _, body := range [][]byte{mustJSON(t, v), mustJSON(t, example(t, "visit-pt-commercial-prior-auth.json"))} {
		if code, b, _ := e.post(t, body, nil); code != http.StatusAccepted {
			t.Fatalf("post: %d %s", code, b)
		}
	}
	amended := v
	amended.Revision, amended.TotalTreatmentMinutes = 2, v.TotalTreatmentMinutes+1
	if code, b, _ := e.post(t, mustJSON(t, amended), nil); code != http.StatusAccepted {
		t.Fatalf("amendment: %d %s", code, b)
	}
	original := recorded(t, d.JS, 3)
	if len(original) != 3 {
		t.Fatalf("%d visit.recorded; want 3", len(original))
	}
	since := time.Now().Add(-time.Hour)
	replay := func(dry bool) (intake.ReplaySummary, string) {
		t.Helper()
		var out bytes.Buffer
		sum, err := (&intake.Replay{Pool: d.Pool, JS: d.JS, DryRun: dry, Out: &out}).Run(context.Background(), platform.ReplayRange{Since: since})
		if err != nil {
			t.Fatal(err)
		}
		return sum, out.String()
	}
	pending := func() int {
		var n int
		if err := d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM intake.outbox_pending`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The relay marks what it published asynchronously: wait for it, so
	// that what is pending below is the replay's doing alone.
	for deadline := time.Now().Add(15 * time.Second); pending() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows still pending after the relay", pending())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// (a) Complete: nothing to do.
	for _, dry := range []bool{true, false} {
		sum, text := replay(dry)
		if sum.Revisions != 3 || sum.InStream != 3 || sum.Missing != 0 || sum.Published.Stored != 0 {
			t.Fatalf("dry %v: %+v\n%s", dry, sum, text)
		}
		if !dry && !strings.Contains(text, "0 changed") {
			t.Fatalf("the summary does not say nothing changed:\n%s", text)
		}
	}
	if n := ptest.StreamCount(t, d.JS, events.StreamIntake); n != 3 {
		t.Fatalf("INTAKE holds %d; want 3", n)
	}
	if _, err := (&intake.Replay{Pool: d.Pool, JS: d.JS}).Run(context.Background(), platform.ReplayRange{FromSeq: 1}); err == nil {
		t.Fatal("a replay by sequence was not refused")
	}

	// The stream is lost, and the outbox row of the first revision pruned.
	if err := d.JS.DeleteStream(context.Background(), events.StreamIntake); err != nil {
		t.Fatal(err)
	}
	if err := platform.EnsureStreams(context.Background(), d.JS, d.Streams); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(context.Background(), `DELETE FROM intake.outbox WHERE event_id = $1`, original[0].ID); err != nil {
		t.Fatal(err)
	}

	// (c) Dry: lists them, publishes and writes nothing.
	sum, text := replay(true)
	if sum.Missing != 3 || sum.Rebuilt != 1 || !strings.Contains(text, "would republish") {
		t.Fatalf("dry run: %+v\n%s", sum, text)
	}
	if strings.Contains(text, v.Patient.LastName) || strings.Contains(text, v.Coverage.MemberID) {
		t.Fatalf("the output carries PHI:\n%s", text)
	}
	if n := ptest.StreamCount(t, d.JS, events.StreamIntake); n != 0 || pending() != 0 {
		t.Fatalf("a dry run published %d events, left %d pending", n, pending())
	}

	// (b) For real: the same events, under the same ids.
	if sum, text := replay(false); sum.Missing != 3 || sum.Published.Stored != 3 {
		t.Fatalf("replay: %+v\n%s", sum, text)
	}
	restored := recorded(t, d.JS, 3)
	if len(restored) != 3 || pending() != 0 {
		t.Fatalf("%d events restored, %d left pending; want 3 and 0", len(restored), pending())
	}
	byID := map[string]events.Envelope{}
	for _, r := range restored {
		byID[r.ID] = r
	}
	for i, o := range original {
		r, ok := byID[o.ID]
		if !ok {
			t.Fatalf("event %s not restored", o.ID)
		}
		var a, b events.VisitRecorded
		if err := o.DecodeData(&a); err != nil {
			t.Fatal(err)
		}
		if err := r.DecodeData(&b); err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a.Visit)
		jb, _ := json.Marshal(b.Visit)
		if string(ja) != string(jb) || a.Revision != b.Revision || a.Change != b.Change || a.Supersedes != b.Supersedes || a.WebhookID != b.WebhookID || r.Subject != o.Subject {
			t.Errorf("event %d restored differently:\n%+v\n%+v", i, a, b)
		}
		if i > 0 && string(r.Data) != string(o.Data) {
			t.Errorf("event %d, from the outbox, is not byte for byte the original", i)
		}
	}
	if sum, _ := replay(false); sum.Missing != 0 || sum.Published.Stored != 0 {
		t.Fatalf("replay of the restored stream: %+v", sum)
	}
}
