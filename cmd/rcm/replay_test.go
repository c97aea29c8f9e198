package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/rulestest"
	"github.com/rcm-health/rcm/pkg/events"
)

func TestParseReplayTime(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-01":                time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:00Z":      time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:00-05:00": time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC),
		"2026-11-01T08:15":          time.Date(2026, 11, 1, 8, 15, 0, 0, time.UTC),
		"36h":                       now.Add(-36 * time.Hour),
		"7d":                        time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC),
	} {
		got, err := parseReplayTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseReplayTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3h", "0d", "2026-13-01"} {
		if _, err := parseReplayTime(bad, now); err == nil {
			t.Errorf("parseReplayTime(%q) took it", bad)
		}
	}
}

// TestReplayRefusesBadFlags: mistakes are named before anything connects.
func TestReplayRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stage", "coder"}, "--since TIME or --from-seq N"},
		{[]string{"--stage", "coder", "--since", "1h", "--from-seq", "3"}, "choose one"},
		{[]string{"--stage", "coder", "--since", "1h", "--to-seq", "3"}, "not both"},
		{[]string{"--stage", "coder", "--from-seq", "9", "--to-seq", "3"}, "ends before"},
		{[]string{"--stage", "coder", "--since", "2026-11-02", "--until", "2026-11-01"}, "not after"},
		{[]string{"--stage", "billing", "--since", "1h"}, "want coder, submitter, denials or intake"},
		{[]string{"--since", "1h"}, "--stage is required"},
		{[]string{"--stage", "intake", "--from-seq", "1"}, "replay it by time"},
		{[]string{"--stage", "denials", "--from-seq", "1"}, "replay it by time"},
		{[]string{"--stage", "submitter", "--from-seq", "1", "--method", "ama"}, "--method applies to the coder"},
		{[]string{"--stage", "denials", "--since", "1h", "--rules", "x"}, "no use for them"},
		{[]string{"--stage", "coder", "--since", "1h", "--method", "ama2"}, "want cms or ama"},
		{[]string{"--stage", "coder", "--since", "1h", "--data-dir", t.TempDir()}, "no running rcm dev"},
	} {
		root := newRoot()
		root.SetArgs(append([]string{"replay"}, c.args...))
		root.SetOut(&bytes.Buffer{})
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rcm replay %v: %v; want an error saying %q", c.args, err, c.want)
		}
	}
	var help bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"replay", "--help"})
	root.SetOut(&help)
	if err := root.Execute(); err != nil || !strings.Contains(help.String(), "Examples:\n  rcm replay --stage coder") {
		t.Fatalf("rcm replay --help: %v\n%s", err, help.String())
	}
}

// TestReplayAgainstDev replays a running rcm dev found through its data
// dir: under its rules nothing changes; a dry run under dearer 97530
// prints the diff and publishes nothing; the real replay publishes a
// revision per changed visit and the submitter answers each.
func TestReplayAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the pipeline")
	}
	// The URLs must come from the data dir, whatever the environment says.
	for _, v := range []string{"DATABASE_URL", "RCM_DATABASE_URL", "RCM_NATS_URL"} {
		t.Setenv(v, "")
	}
	stages, _ := parseStages([]string{"coder", "submitter"})
	d := startDev(t, devOptions{stages: stages})
	dataDir, natsURL, ctx := d.dataDir, d.natsURL, t.Context()
	t.Cleanup(func() {
		_ = d.stop() // startDev's cleanup reports an rcm dev that did not stop
		if _, err := os.Stat(filepath.Join(dataDir, "database.url")); err == nil {
			t.Error("database.url left behind after a clean stop")
		}
	})
	if st, err := os.Stat(filepath.Join(dataDir, "database.url")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database.url: %v, %v; want a file only its owner reads", st, err)
	}
	if err := runDemo(ctx, demoOptions{visits: 30, addr: d.addr, natsURL: natsURL, secret: devSecret, seed: 7, wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	count := func(stream string) uint64 {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	replay := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		root := newRoot()
		root.SetArgs(append([]string{"replay", "--data-dir", dataDir}, args...))
		root.SetOut(&out)
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("rcm replay %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	coded := count(events.StreamCoder)

	if text := replay("--stage", "coder", "--from-seq", "1"); !strings.Contains(text, "30 events read; 30 current codings compared") ||
		!strings.Contains(text, "0 changed, 30 unchanged") || !strings.Contains(text, "nothing published: downstream sees no change") {
		t.Fatalf("replay under the same rules:\n%s", text)
	}
	if text := replay("--stage", "submitter", "--since", "1h"); !strings.Contains(text, "0 changed") {
		t.Fatalf("submitter replay under the same rules:\n%s", text)
	}
	if text := replay("--stage", "intake", "--since", "1h"); !strings.Contains(text, "30 revisions recorded, 30 in INTAKE, 0 missing") {
		t.Fatalf("intake replay:\n%s", text)
	}

	rules := rulestest.Dir(t, "2026.11.2-dearer", rulestest.Replace(t, "fees.csv", "\n97530,6500\n", "\n97530,8000\n"))
	dry := replay("--stage", "coder", "--since", "1h", "--rules", rules, "--dry-run")
	if !strings.Contains(dry, "would be coding 2 (rules 2026.11.2-dearer)") || !strings.Contains(dry, "97530: charge") ||
		!strings.Contains(dry, "nothing published, nothing written (dry run)") {
		t.Fatalf("dry run under dearer 97530:\n%s", dry)
	}
	changed := strings.Count(dry, "would be coding 2")
	if n := count(events.StreamCoder); n != coded {
		t.Fatalf("a dry run published: CODER holds %d, held %d", n, coded)
	}

	submitterBefore := count(events.StreamSubmitter)
	text := replay("--stage", "coder", "--since", "1h", "--rules", rules)
	if strings.Count(text, "→ coding 2 (rules 2026.11.2-dearer)") != changed {
		t.Fatalf("the replay changed other visits than its dry run listed (%d):\n%s", changed, text)
	}
	if n := count(events.StreamCoder); n != coded+uint64(changed) {
		t.Fatalf("CODER holds %d after the replay; want %d + %d", n, coded, changed)
	}
	// The submitter answers each new revision with a claim.scrubbed: a
	// rebuild, or a hold for a corrected claim when the claim was sent.
	deadline := time.Now().Add(30 * time.Second)
	for count(events.StreamSubmitter) < submitterBefore+uint64(changed) {
		if time.Now().After(deadline) {
			t.Fatalf("SUBMITTER holds %d; want at least %d + %d", count(events.StreamSubmitter), submitterBefore, changed)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if text := replay("--stage", "coder", "--since", "1h", "--rules", rules); !strings.Contains(text, "0 changed") {
		t.Fatalf("second replay:\n%s", text)
	}
}
