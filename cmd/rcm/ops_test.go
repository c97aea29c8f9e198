package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// opsPipeline starts an embedded JetStream with the pipeline's streams and
// a data dir that points at it, as rcm dev leaves one.
func opsPipeline(t *testing.T) (dataDir string, js jetstream.JetStream) {
	t.Helper()
	ns, _, js := ptest.NATS(t)
	if err := platform.EnsureStreams(context.Background(), js, platform.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	dataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "nats.url"), []byte(ns.URL()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dataDir, js
}

// rcm runs the command line and returns its standard output.
func rcm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// deadLetter stores a dead letter as the router's poison queue does.
func deadLetter(t *testing.T, js jetstream.JetStream, service, eventID string, streamSeq string) {
	t.Helper()
	payload := `{"id":"` + eventID + `","type":"visit.recorded.v1","data":{"patient":{"first_name":"Margaret","last_name":"Doe"}}}`
	m := nats.NewMsg(platform.DeadLetterSubject(service))
	m.Data = []byte(payload)
	for k, v := range map[string]string{
		nats.MsgIdHdr: "dlq:" + service + ":INTAKE:" + streamSeq, platform.MetaOriginalID: eventID,
		platform.MetaEventID: eventID, platform.MetaEventType: events.TypeVisitRecorded,
		platform.MetaStream: events.StreamIntake, platform.MetaSeq: streamSeq, platform.MetaSubject: events.SubjectVisitRecorded,
		platform.MetaDelivered: "1", platform.MetaAttempts: "6",
		middleware.PoisonedHandlerKey: service, middleware.ReasonForPoisonedKey: "event " + eventID + ": no fee schedule for payer 00952",
	} {
		m.Header.Set(k, v)
	}
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestDLQCommands(t *testing.T) {
	t.Parallel()
	dataDir, js := opsPipeline(t)
	deadLetter(t, js, "coder", "ev-1", "7")
	deadLetter(t, js, "coder", "ev-2", "8")
	deadLetter(t, js, "denials", "ev-3", "9")
	dir := "--data-dir=" + dataDir

	out, err := rcm(t, "dlq", "list", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SEQ", "ATTEMPTS", "coder", "denials", "rcm.visit.recorded", "visit.recorded.v1", "ev-1", "ev-3",
		"event ev-1: no fee schedule for payer 00952"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Margaret") {
		t.Errorf("list prints PHI:\n%s", out)
	}
	out, err = rcm(t, "dlq", "list", dir, "--service", "coder", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []platform.DeadLetter
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(list) != 2 || list[0].Seq != 1 || list[0].Attempts != 6 || list[0].StreamSeq != 7 || strings.Contains(out, "Margaret") {
		t.Errorf("list --json:\n%s", out)
	}

	out, err = rcm(t, "dlq", "show", "1", dir)
	if err != nil || !strings.Contains(out, "event (PHI)") || !strings.Contains(out, `"first_name": "Margaret"`) || !strings.Contains(out, "no fee schedule") {
		t.Errorf("show 1 (%v):\n%s", err, out)
	}

	out, err = rcm(t, "dlq", "retry", "1", dir)
	if err != nil || !strings.Contains(out, "retried 1: visit.recorded.v1 ev-1 back on rcm.visit.recorded") {
		t.Fatalf("retry 1 (%v):\n%s", err, out)
	}
	s, err := js.Stream(context.Background(), events.StreamIntake)
	if err != nil {
		t.Fatal(err)
	}
	back, err := s.GetLastMsgForSubject(context.Background(), events.SubjectVisitRecorded)
	if err != nil {
		t.Fatal(err)
	}
	if back.Header.Get(nats.MsgIdHdr) != "ev-1:retry:1" || back.Header.Get(platform.MetaRetryOf) != "DEADLETTER:1" ||
		back.Header.Get(middleware.ReasonForPoisonedKey) != "" || !strings.Contains(string(back.Data), `"id":"ev-1"`) {
		t.Errorf("retried message: headers %v data %s", back.Header, back.Data)
	}
	if _, err := rcm(t, "dlq", "retry", "1", dir); err == nil || !strings.Contains(err.Error(), "no such dead letter") {
		t.Errorf("retry of a retried dead letter: %v", err)
	}
	if _, err := rcm(t, "dlq", "retry", dir, "--service", "coder"); err == nil {
		t.Error("--service without --all accepted")
	}
	if _, err := rcm(t, "dlq", "drop", "2", dir); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Errorf("drop without a reason: %v", err)
	}

	out, err = rcm(t, "dlq", "drop", "--all", "--service", "coder", "--reason", "test data", dir)
	if err != nil || !strings.Contains(out, "1 dropped") {
		t.Fatalf("drop --all --service coder (%v):\n%s", err, out)
	}
	out, err = rcm(t, "dlq", "retry", "--all", dir)
	if err != nil || !strings.Contains(out, "retried 3") {
		t.Fatalf("retry --all (%v):\n%s", err, out)
	}
	if out, _ := rcm(t, "dlq", "list", dir); !strings.Contains(out, "no dead letters") {
		t.Errorf("list after all retried or dropped:\n%s", out)
	}
	if n := ptest.StreamCount(t, js, events.StreamIntake); n != 2 {
		t.Errorf("INTAKE holds %d; want the 2 retried events", n)
	}
}

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	dataDir, js := opsPipeline(t)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		m := nats.NewMsg(events.SubjectVisitRecorded)
		m.Data = []byte(`{"id":"` + id + `"}`)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := platform.EnsureConsumer(ctx, js, platform.ConsumerSpec{Stream: events.StreamIntake, Durable: "coder",
		Subjects: []string{events.SubjectVisitRecorded}}); err != nil {
		t.Fatal(err)
	}
	deadLetter(t, js, "submitter", "ev-1", "1")
	dir := "--data-dir=" + dataDir

	out, err := rcm(t, "status", dir, "--sample", "0")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	row := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
				return f
			}
		}
		t.Errorf("no row %s in:\n%s", prefix, out)
		return nil
	}
	if f := row("coder"); len(f) < 7 || f[1] != "INTAKE" || f[2] != "3" || f[3] != "0" || f[5] != "-" {
		t.Errorf("coder row %q", f)
	}
	if f := row("submitter"); len(f) < 3 || f[1] != "1" || f[2] != "-" {
		t.Errorf("submitter service row %q: want 1 dead letter, no outbox count", f)
	}
	if !strings.Contains(out, "1 dead letters: rcm dlq list") || !strings.Contains(out, "DEADLETTER") {
		t.Errorf("status:\n%s", out)
	}

	out, err = rcm(t, "status", dir, "--sample", "200ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st platform.PipelineStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(st.Stages) != 2 || st.Stages[1].Consumer != "coder" || st.Stages[1].Pending != 3 || st.Stages[1].OldestSeconds <= 0 ||
		st.SampleSeconds < 0.2 || time.Since(st.Time) > time.Minute {
		t.Errorf("status --json:\n%s", out)
	}

	if _, err := rcm(t, "status", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no running rcm dev") {
		t.Errorf("status without a dev: %v", err)
	}
}

// TestOpsHelp: each new command has help with an example.
func TestOpsHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"status"}, {"dlq"}, {"dlq", "list"}, {"dlq", "show"}, {"dlq", "retry"}, {"dlq", "drop"}} {
		out, err := rcm(t, append(args, "--help")...)
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "rcm "+args[0]) {
			t.Errorf("rcm %s --help (%v):\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, _ := rcm(t, "dlq", "show", "--help"); !strings.Contains(out, "PHI") {
		t.Error("rcm dlq show --help does not warn about PHI")
	}
}
