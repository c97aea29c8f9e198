package clearinghouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// mailbox is one mailbox under test, seen from both sides.
type mailbox struct {
	// t is our side: it writes outbound and reads inbound.
	t Transport
	// peer is the clearinghouse's side: it reads our outbound and writes
	// our inbound.
	peer Transport
	// root is the local directory holding outbound/ and inbound/.
	root string
}

// transportCase is one behaviour every Transport must have.
type transportCase struct {
	name string
	run  func(t *testing.T, m mailbox)
}

// runTransportSuite runs every behaviour against fresh mailboxes from
// newMailbox, in parallel.
func runTransportSuite(t *testing.T, newMailbox func(t *testing.T) mailbox) {
	for _, tc := range transportCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newMailbox(t))
		})
	}
}

var transportCases = []transportCase{
	{"PutIsReadByPeer", testPutIsReadByPeer},
	{"PutReplaces", testPutReplaces},
	{"PutIsAtomic", testPutIsAtomic},
	{"ListSortedSkipsDirsAndTemporaries", testListSorted},
	{"ArchiveProcessed", testArchiveProcessed},
	{"ArchiveRejectedWithReason", testArchiveRejected},
	{"ArchiveKeepsEarlierCopies", testArchiveKeepsEarlierCopies},
	{"GetMissing", testGetMissing},
	{"UnsafeNames", testUnsafeNames},
	{"TooLarge", testTooLarge},
	{"CancelledContext", testCancelledContext},
	{"PollDuplicateContentHandledOnce", testPollDuplicate},
	{"PollRejectArchivedWithReason", testPollReject},
	{"PollTransientErrorRetried", testPollTransient},
	{"PollTooLargeRejected", testPollTooLarge},
}

func TestDirTransport(t *testing.T) {
	t.Parallel()
	runTransportSuite(t, func(t *testing.T) mailbox {
		root := t.TempDir()
		d, err := NewDir(root)
		if err != nil {
			t.Fatal(err)
		}
		peer, err := NewDirPeer(root)
		if err != nil {
			t.Fatal(err)
		}
		return mailbox{t: d, peer: peer, root: root}
	})
}

func put(t *testing.T, tr Transport, name, data string) {
	t.Helper()
	if err := tr.Put(t.Context(), name, []byte(data)); err != nil {
		t.Fatal(err)
	}
}

func names(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func listNames(t *testing.T, tr Transport) []string {
	t.Helper()
	files, err := tr.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return names(files)
}

func readFile(t *testing.T, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertNoTemporaries fails if a temporary file was left in dir.
func assertNoTemporaries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if isTemporary(e.Name()) {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func testPutIsReadByPeer(t *testing.T, m mailbox) {
	ctx := t.Context()
	data := "ISA*00*...~IEA*1*000000001~"
	put(t, m.t, "batch-0001.837", data)

	files, err := m.peer.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "batch-0001.837" || files[0].Size != int64(len(data)) || files[0].ModTime.IsZero() {
		t.Fatalf("peer List = %+v, want batch-0001.837 of %d bytes", files, len(data))
	}
	got, err := m.peer.Get(ctx, "batch-0001.837")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != data {
		t.Errorf("peer Get = %q, want %q", got, data)
	}
	if got := readFile(t, m.root, "outbound", "batch-0001.837"); got != data {
		t.Errorf("on disk = %q, want %q", got, data)
	}
	assertNoTemporaries(t, filepath.Join(m.root, "outbound"))
	// Our own inbound does not see outbound files.
	if got := listNames(t, m.t); len(got) != 0 {
		t.Errorf("List = %v, want none", got)
	}
}

func testPutReplaces(t *testing.T, m mailbox) {
	put(t, m.t, "a.837", "first version, longer")
	put(t, m.t, "a.837", "second")
	got, err := m.peer.Get(t.Context(), "a.837")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "second" {
		t.Errorf("Get = %q, want %q", got, "second")
	}
	assertNoTemporaries(t, filepath.Join(m.root, "outbound"))
}

// testPutIsAtomic lists and reads the outbound files while they are being
// written: every file listed must be complete.
func testPutIsAtomic(t *testing.T, m mailbox) {
	ctx := t.Context()
	const files, size = 20, 256 << 10
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, size) }

	var wg sync.WaitGroup
	done := make(chan struct{})
	putErr := make(chan error, 1)
	wg.Go(func() {
		defer close(done)
		for i := range files {
			if err := m.t.Put(ctx, fmt.Sprintf("f%02d.837", i), content(i)); err != nil {
				putErr <- err
				return
			}
		}
	})
	defer wg.Wait()

	seen := map[string]bool{}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one last List after the writer is done
		default:
		}
		list, err := m.peer.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range list {
			if isTemporary(f.Name) {
				t.Fatalf("List returned temporary file %s", f.Name)
			}
			if f.Size != size {
				t.Fatalf("List returned %s with %d bytes, want %d", f.Name, f.Size, size)
			}
			if seen[f.Name] {
				continue
			}
			data, err := m.peer.Get(ctx, f.Name)
			if err != nil {
				t.Fatal(err)
			}
			var i int
			fmt.Sscanf(f.Name, "f%02d.837", &i)
			if !bytes.Equal(data, content(i)) {
				t.Fatalf("Get %s: incomplete or wrong content (%d bytes)", f.Name, len(data))
			}
			seen[f.Name] = true
		}
	}
	select {
	case err := <-putErr:
		t.Fatal(err)
	default:
	}
	if len(seen) != files {
		t.Errorf("saw %d files, want %d", len(seen), files)
	}
	assertNoTemporaries(t, filepath.Join(m.root, "outbound"))
}

func testListSorted(t *testing.T, m mailbox) {
	for _, n := range []string{"c.999", "a.999", "b.277"} {
		put(t, m.peer, n, "content of "+n)
	}
	inbound := filepath.Join(m.root, "inbound")
	for _, n := range []string{".a.999.123.tmp", "d.999.part", "e.999.filepart", "f.TMP"} {
		if err := os.WriteFile(filepath.Join(inbound, n), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(inbound, "subdir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.999", filepath.Join(inbound, "link.999")); err != nil {
		t.Fatal(err)
	}

	files, err := m.t.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(files), []string{"a.999", "b.277", "c.999"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, f := range files {
		if want := int64(len("content of " + f.Name)); f.Size != want {
			t.Errorf("%s: Size = %d, want %d", f.Name, f.Size, want)
		}
	}
}

func testArchiveProcessed(t *testing.T, m mailbox) {
	ctx := t.Context()
	put(t, m.peer, "ack.999", "999 content")
	put(t, m.peer, "other.277", "277 content")
	if err := m.t.Archive(ctx, "ack.999", false, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := listNames(t, m.t), []string{"other.277"}; !slices.Equal(got, want) {
		t.Errorf("List after Archive = %v, want %v", got, want)
	}
	if got := readFile(t, m.root, "inbound", "processed", "ack.999"); got != "999 content" {
		t.Errorf("archived content = %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.root, "inbound", "processed", "ack.999"+ReasonSuffix)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("processed file has a reason file (%v)", err)
	}
	err := m.t.Archive(ctx, "ack.999", false, "")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "ack.999") {
		t.Errorf("second Archive = %v, want a not-exist error naming the file", err)
	}
}

func testArchiveRejected(t *testing.T, m mailbox) {
	put(t, m.peer, "bad.999", "garbage")
	reason := "segment 1: ISA is 12 characters, want 106"
	if err := m.t.Archive(t.Context(), "bad.999", true, reason); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, m.t); len(got) != 0 {
		t.Errorf("List after Archive = %v, want none", got)
	}
	rejected := filepath.Join(m.root, "inbound", "rejected")
	if got := readFile(t, rejected, "bad.999"); got != "garbage" {
		t.Errorf("rejected content = %q", got)
	}
	if got := readFile(t, rejected, "bad.999"+ReasonSuffix); got != reason {
		t.Errorf("reason = %q, want %q", got, reason)
	}
	assertNoTemporaries(t, rejected)
}

func testArchiveKeepsEarlierCopies(t *testing.T, m mailbox) {
	ctx := t.Context()
	for _, v := range []string{"v1", "v2"} {
		put(t, m.peer, "ack.999", v)
		if err := m.t.Archive(ctx, "ack.999", false, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(m.root, "inbound", "processed")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var contents []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "ack.999") {
			t.Errorf("unexpected archived name %s", e.Name())
		}
		contents = append(contents, readFile(t, dir, e.Name()))
	}
	slices.Sort(contents)
	if want := []string{"v1", "v2"}; !slices.Equal(contents, want) {
		t.Errorf("archived contents = %v, want %v", contents, want)
	}
}

func testGetMissing(t *testing.T, m mailbox) {
	_, err := m.t.Get(t.Context(), "missing.999")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.999") {
		t.Errorf("Get = %v, want a not-exist error naming the file", err)
	}
}

func testUnsafeNames(t *testing.T, m mailbox) {
	ctx := t.Context()
	for _, name := range []string{"", ".", "..", "../x.837", "a/b.837", `a\b.837`, "/etc/passwd", ".hidden", "x.837.tmp", "x.part", "a..b", "processed", "nul\x00.837", "line\n.837", strings.Repeat("x", MaxNameLen+1)} {
		if err := m.t.Put(ctx, name, []byte("x")); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("Put(%q) = %v, want ErrUnsafeName", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../outbound/x.837", "processed/x", `..\x`} {
		if _, err := m.t.Get(ctx, name); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("Get(%q) = %v, want ErrUnsafeName", name, err)
		}
		if err := m.t.Archive(ctx, name, true, "r"); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("Archive(%q) = %v, want ErrUnsafeName", name, err)
		}
	}
	// Nothing escaped the mailbox.
	entries, err := os.ReadDir(m.root)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(entries); got != 2 {
		t.Errorf("mailbox root has %d entries, want outbound and inbound", got)
	}
}

func testTooLarge(t *testing.T, m mailbox) {
	ctx := t.Context()
	err := m.t.Put(ctx, "huge.837", make([]byte, MaxFileSize+1))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "huge.837") {
		t.Errorf("Put = %v, want ErrTooLarge naming the file", err)
	}
	if err := m.t.Put(ctx, "max.837", make([]byte, 1<<20)); err != nil {
		t.Errorf("Put of 1 MiB: %v", err)
	}
	makeSparse(t, filepath.Join(m.root, "inbound", "huge.835"), MaxFileSize+1)
	_, err = m.t.Get(ctx, "huge.835")
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "huge.835") {
		t.Errorf("Get = %v, want ErrTooLarge naming the file", err)
	}
}

// makeSparse creates a file of size bytes without writing them.
func makeSparse(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func testCancelledContext(t *testing.T, m mailbox) {
	put(t, m.peer, "ack.999", "x")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.t.Put(ctx, "a.837", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put = %v, want context.Canceled", err)
	}
	if _, err := m.t.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List = %v, want context.Canceled", err)
	}
	if _, err := m.t.Get(ctx, "ack.999"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v, want context.Canceled", err)
	}
	if err := m.t.Archive(ctx, "ack.999", false, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Archive = %v, want context.Canceled", err)
	}
	// Nothing happened, and the transport still works.
	if got, want := listNames(t, m.t), []string{"ack.999"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if got := listNames(t, m.peer); len(got) != 0 {
		t.Errorf("peer List = %v, want none", got)
	}
}
