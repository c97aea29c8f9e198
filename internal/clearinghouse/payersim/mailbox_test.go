package payersim

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/pkg/x12"
)

func TestMailboxStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	rcm, err := clearinghouse.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := clearinghouse.NewDirPeer(root)
	if err != nil {
		t.Fatal(err)
	}
	claims := write837(t, batch(101, selfClaim("OT260302A", "1EG4TE5MK73")))
	for name, data := range map[string][]byte{
		"batch-000101.837": claims,
		"broken.837":       []byte("not an interchange"),
		"notes.txt":        []byte("left alone"),
	} {
		if err := rcm.Put(ctx, name, data); err != nil {
			t.Fatal(err)
		}
	}
	m := &Mailbox{Peer: peer, Config: Config{Seed: 1}}

	n, err := m.Step(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Step = %d, %v; want 2 files handled", n, err)
	}
	inbound, err := rcm.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range inbound {
		names = append(names, f.Name)
	}
	if want := []string{"batch-000101.277", "batch-000101.999"}; !slices.Equal(names, want) {
		t.Fatalf("inbound = %v, want %v", names, want)
	}
	ack, err := rcm.Get(ctx, "batch-000101.999")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := x12.Read999(ack); err != nil || !a[0].Accepted() {
		t.Errorf("999: %v", err)
	}
	ca, err := rcm.Get(ctx, "batch-000101.277")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := x12.Read277CA(ca); err != nil || a[0].Claims[0].PatientControlNumber != "OT260302A" {
		t.Errorf("277CA: %v", err)
	}

	// The claim file is archived, the unreadable one set aside with its
	// reason, the other file untouched.
	out := filepath.Join(root, "outbound")
	for _, p := range []string{
		filepath.Join(out, clearinghouse.ProcessedDir, "batch-000101.837"),
		filepath.Join(out, clearinghouse.RejectedDir, "broken.837"),
		filepath.Join(out, clearinghouse.RejectedDir, "broken.837"+clearinghouse.ReasonSuffix),
		filepath.Join(out, "notes.txt"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}

	n, err = m.Step(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second Step = %d, %v; want nothing new", n, err)
	}
}

func TestMailboxStepBadConfig(t *testing.T) {
	t.Parallel()
	peer, err := clearinghouse.NewDirPeer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := &Mailbox{Peer: peer, Config: Config{RejectRate: -1}}
	if _, err := m.Step(context.Background()); err == nil {
		t.Fatal("no error for a negative reject rate")
	}
}

// TestMailboxStepRemit answers with an 835 for the claims the 277CA
// accepted only.
func TestMailboxStepRemit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	rcm, err := clearinghouse.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := clearinghouse.NewDirPeer(root)
	if err != nil {
		t.Fatal(err)
	}
	claims := write837(t, batch(801, selfClaim("OT260302A", "1EG4TE5MK73"), selfClaim("OT260302U", unknown)))
	if err := rcm.Put(ctx, "batch-000801.837", claims); err != nil {
		t.Fatal(err)
	}
	m := &Mailbox{Peer: peer, Config: Config{Seed: 1, KnownMember: knownMembers}, Remit: &Adjudicator{Config: testAdjudicateConfig()}}
	if n, err := m.Step(ctx); err != nil || n != 1 {
		t.Fatalf("Step = %d, %v", n, err)
	}
	remit, err := rcm.Get(ctx, "batch-000801.835")
	if err != nil {
		t.Fatal(err)
	}
	r, err := readRemit(remit)
	if err != nil {
		t.Fatalf("835: %v\n%s", err, remit)
	}
	if !slices.Equal(r.order, []string{"OT260302A"}) {
		t.Errorf("835 claims %v, want only the accepted OT260302A", r.order)
	}
}
