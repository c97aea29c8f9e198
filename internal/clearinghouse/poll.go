package clearinghouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Seen records the content of the inbound files that were handled, by the
// hex SHA-256 of their bytes, so that a file is handled once however often
// it is delivered and under whatever name.
//
// Poll asks Has before handling a file and calls Mark only after the
// handler finished with it, so a file whose handling failed (or was cut off
// by a crash) is handled again on the next poll: handling is at least once,
// and exactly once when the handler's own writes and Mark commit together.
//
// A Postgres implementation:
//
//	CREATE TABLE clearinghouse_seen (
//	    sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
//	    name       text NOT NULL,         -- the name it was first seen under
//	    handled_at timestamptz NOT NULL DEFAULT now()
//	);
//	-- Has:
//	SELECT EXISTS (SELECT 1 FROM clearinghouse_seen WHERE sha256 = $1);
//	-- Mark (first = the command tag's RowsAffected() == 1):
//	INSERT INTO clearinghouse_seen (sha256, name) VALUES ($1, $2)
//	ON CONFLICT (sha256) DO NOTHING;
//
// Run Mark in the same transaction as the handler's writes to make handling
// exactly once. If one database serves several mailboxes, add a mailbox
// column to the key.
type Seen interface {
	// Has reports whether content with this hash was marked.
	Has(ctx context.Context, sha256 string) (bool, error)
	// Mark records that content with this hash, delivered as name, was
	// handled. first is false if it had been marked already.
	Mark(ctx context.Context, sha256, name string) (first bool, err error)
}

// MemorySeen is a Seen kept in memory, for tests and the dev environment.
// The zero value is ready to use.
type MemorySeen struct {
	mu     sync.Mutex
	hashes map[string]string // sha256 -> first name
}

var _ Seen = (*MemorySeen)(nil)

// Has implements Seen.
func (m *MemorySeen) Has(_ context.Context, sha256 string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.hashes[sha256]
	return ok, nil
}

// Mark implements Seen.
func (m *MemorySeen) Mark(_ context.Context, sha256, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.hashes[sha256]; ok {
		return false, nil
	}
	if m.hashes == nil {
		m.hashes = make(map[string]string)
	}
	m.hashes[sha256] = name
	return true, nil
}

// Reject is an error a Poll handler returns (possibly wrapped) for a file
// that can never be handled, such as a malformed acknowledgement: Poll
// archives the file as rejected, with the error's text as the reason,
// instead of retrying it.
type Reject struct {
	Err error
}

// Rejectf returns a *Reject whose reason is formatted as by fmt.Errorf.
func Rejectf(format string, a ...any) error {
	return &Reject{Err: fmt.Errorf(format, a...)}
}

func (r *Reject) Error() string {
	if r.Err == nil {
		return "rejected"
	}
	return r.Err.Error()
}

func (r *Reject) Unwrap() error { return r.Err }

// Poll handles the inbound files of t once each, in name order:
//
//   - a file whose content (SHA-256) seen already has is archived as
//     processed without calling handle;
//   - a file larger than MaxFileSize is archived as rejected;
//   - otherwise handle is called. If it returns nil the file is marked in
//     seen and archived as processed; if it returns an error wrapping a
//     *Reject the file is marked and archived as rejected with the error's
//     text as the reason; any other error leaves the file in place, to be
//     handled again by the next Poll.
//
// Errors for one file do not stop the others; they are joined and returned
// with the number of files handled (archived after handle). Poll stops
// early only when ctx ends. One Poll at a time should run on a mailbox.
func Poll(ctx context.Context, t Transport, seen Seen, handle func(ctx context.Context, f File, data []byte) error) (handled int, err error) {
	files, err := t.List(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		ok, err := pollOne(ctx, t, seen, handle, f)
		if ok {
			handled++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return handled, errors.Join(errs...)
}

// pollOne handles one file; handled reports whether handle was called and
// its outcome recorded.
func pollOne(ctx context.Context, t Transport, seen Seen, handle func(context.Context, File, []byte) error, f File) (handled bool, err error) {
	data, err := t.Get(ctx, f.Name)
	if errors.Is(err, ErrTooLarge) {
		return false, t.Archive(ctx, f.Name, true, err.Error())
	}
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])

	dup, err := seen.Has(ctx, hash)
	if err != nil {
		return false, fmt.Errorf("clearinghouse: poll %q: seen: %w", f.Name, err)
	}
	if dup {
		return false, t.Archive(ctx, f.Name, false, "")
	}

	f.Size = int64(len(data))
	herr := handle(ctx, f, data)
	var reject *Reject
	rejected := errors.As(herr, &reject)
	if herr != nil && !rejected {
		return false, fmt.Errorf("clearinghouse: handle %q: %w", f.Name, herr)
	}
	if _, err := seen.Mark(ctx, hash, f.Name); err != nil {
		return false, fmt.Errorf("clearinghouse: poll %q: mark seen: %w", f.Name, err)
	}
	reason := ""
	if rejected {
		reason = herr.Error()
	}
	if err := t.Archive(ctx, f.Name, rejected, reason); err != nil {
		// Marked, so the next Poll archives it as a duplicate.
		return true, err
	}
	return true, nil
}
