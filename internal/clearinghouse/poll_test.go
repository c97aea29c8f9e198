package clearinghouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a Poll handler that records the files it was given and fails
// as told.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  func(name string) error
}

func (r *recorder) handle(_ context.Context, f File, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Size != int64(len(data)) {
		return fmt.Errorf("size %d, data %d bytes", f.Size, len(data))
	}
	r.calls = append(r.calls, f.Name)
	if r.fail != nil {
		return r.fail(f.Name)
	}
	return nil
}

func (r *recorder) called() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func poll(t *testing.T, m mailbox, seen Seen, r *recorder) (int, error) {
	t.Helper()
	return Poll(t.Context(), m.t, seen, r.handle)
}

func archived(t *testing.T, m mailbox, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(m.root, "inbound", sub))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func testPollDuplicate(t *testing.T, m mailbox) {
	seen := &MemorySeen{}
	r := &recorder{}
	put(t, m.peer, "a.999", "same acknowledgement")
	put(t, m.peer, "b.999", "same acknowledgement")
	put(t, m.peer, "c.277", "another file")

	n, err := poll(t, m, seen, r)
	if err != nil || n != 2 {
		t.Fatalf("Poll = %d, %v; want 2, nil", n, err)
	}
	if got, want := r.called(), []string{"a.999", "c.277"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
	if got := listNames(t, m.t); len(got) != 0 {
		t.Errorf("List after Poll = %v, want none", got)
	}
	if got, want := archived(t, m, ProcessedDir), []string{"a.999", "b.999", "c.277"}; !slices.Equal(got, want) {
		t.Errorf("processed = %v, want %v", got, want)
	}

	// Delivered again, under the first name: archived without handling.
	put(t, m.peer, "a.999", "same acknowledgement")
	n, err = poll(t, m, seen, r)
	if err != nil || n != 0 {
		t.Fatalf("second Poll = %d, %v; want 0, nil", n, err)
	}
	if got := len(r.called()); got != 2 {
		t.Errorf("handler called %d times, want 2", got)
	}
	if got := listNames(t, m.t); len(got) != 0 {
		t.Errorf("List after second Poll = %v, want none", got)
	}
}

func testPollReject(t *testing.T, m mailbox) {
	seen := &MemorySeen{}
	r := &recorder{fail: func(name string) error {
		if name == "bad.999" {
			return fmt.Errorf("segment 2: %w", Rejectf("GS01 is %q, want FA", "HC"))
		}
		return nil
	}}
	put(t, m.peer, "bad.999", "ISA~GS*HC~")
	put(t, m.peer, "good.999", "ISA~GS*FA~")

	n, err := poll(t, m, seen, r)
	if err != nil || n != 2 {
		t.Fatalf("Poll = %d, %v; want 2, nil", n, err)
	}
	if got, want := archived(t, m, RejectedDir), []string{"bad.999", "bad.999" + ReasonSuffix}; !slices.Equal(got, want) {
		t.Errorf("rejected = %v, want %v", got, want)
	}
	if got, want := readFile(t, m.root, "inbound", "rejected", "bad.999"+ReasonSuffix), `segment 2: GS01 is "HC", want FA`; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	if got, want := archived(t, m, ProcessedDir), []string{"good.999"}; !slices.Equal(got, want) {
		t.Errorf("processed = %v, want %v", got, want)
	}
}

func testPollTransient(t *testing.T, m mailbox) {
	seen := &MemorySeen{}
	down := true
	r := &recorder{fail: func(name string) error {
		if down && name == "a.277" {
			return errors.New("database unavailable")
		}
		return nil
	}}
	put(t, m.peer, "a.277", "277CA")
	put(t, m.peer, "b.999", "999")

	n, err := poll(t, m, seen, r)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "a.277") || !strings.Contains(err.Error(), "database unavailable") {
		t.Fatalf("Poll = %d, %v; want 1 and an error naming a.277", n, err)
	}
	if got, want := listNames(t, m.t), []string{"a.277"}; !slices.Equal(got, want) {
		t.Errorf("List after failed Poll = %v, want %v", got, want)
	}

	down = false
	n, err = poll(t, m, seen, r)
	if err != nil || n != 1 {
		t.Fatalf("second Poll = %d, %v; want 1, nil", n, err)
	}
	if got, want := r.called(), []string{"a.277", "b.999", "a.277"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
	if got := listNames(t, m.t); len(got) != 0 {
		t.Errorf("List after second Poll = %v, want none", got)
	}
}

func testPollTooLarge(t *testing.T, m mailbox) {
	r := &recorder{}
	makeSparse(t, filepath.Join(m.root, "inbound", "huge.835"), MaxFileSize+1)
	n, err := poll(t, m, &MemorySeen{}, r)
	if err != nil || n != 0 || len(r.called()) != 0 {
		t.Fatalf("Poll = %d, %v, handled %v; want 0, nil, none", n, err, r.called())
	}
	reason := readFile(t, m.root, "inbound", "rejected", "huge.835"+ReasonSuffix)
	if !strings.Contains(reason, "larger than") {
		t.Errorf("reason = %q", reason)
	}
}

// failingSeen fails every call.
type failingSeen struct{}

func (failingSeen) Has(context.Context, string) (bool, error) {
	return false, errors.New("seen store down")
}

func (failingSeen) Mark(context.Context, string, string) (bool, error) {
	return false, errors.New("seen store down")
}

func TestPollSeenErrorLeavesFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := NewDirPeer(root)
	if err != nil {
		t.Fatal(err)
	}
	m := mailbox{t: d, peer: peer, root: root}
	put(t, peer, "a.999", "x")
	r := &recorder{}
	n, err := poll(t, m, failingSeen{}, r)
	if n != 0 || err == nil || !strings.Contains(err.Error(), "a.999") {
		t.Fatalf("Poll = %d, %v; want 0 and an error naming a.999", n, err)
	}
	if len(r.called()) != 0 {
		t.Errorf("handler called for %v", r.called())
	}
	if got, want := listNames(t, d), []string{"a.999"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestMemorySeen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var s MemorySeen
	if has, _ := s.Has(ctx, "h1"); has {
		t.Error("Has before Mark = true")
	}
	if first, _ := s.Mark(ctx, "h1", "a"); !first {
		t.Error("first Mark = false")
	}
	if first, _ := s.Mark(ctx, "h1", "b"); first {
		t.Error("second Mark = true")
	}
	if has, _ := s.Has(ctx, "h1"); !has {
		t.Error("Has after Mark = false")
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"batch-20250101-0001.837", "ACK_123.999", "x", "a.b.c", strings.Repeat("x", MaxNameLen)} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
}

func TestNewDirCreatesDirectories(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "mailbox")
	if _, err := NewDir(root); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"outbound", "inbound", "inbound/processed", "inbound/rejected"} {
		info, err := os.Stat(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		if !info.IsDir() || info.Mode().Perm()&^0o750 != 0 {
			t.Errorf("%s: mode %v, want a directory with at most 0750", d, info.Mode())
		}
	}
}
