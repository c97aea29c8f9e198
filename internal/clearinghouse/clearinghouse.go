// Package clearinghouse exchanges files with a clearinghouse through a
// mailbox: outbound files (837P claim batches) are written for the
// clearinghouse to collect, and inbound files (999, 277CA, 835) are read,
// handled and archived.
//
// A mailbox is reached through a [Transport]. Two are provided: [Dir], a
// directory on a local or mounted file system (<root>/outbound and
// <root>/inbound), and [SFTP], a remote server reached over SSH.
// [NewDirPeer] opens the same directory mailbox from the clearinghouse's
// side, for the payer simulator.
//
// [Poll] reads every inbound file, skips content that was already handled
// (by its SHA-256, recorded in a [Seen]), passes new files to a handler and
// archives them, so each file is handled once however often it is seen.
//
// Files are small: at most [MaxFileSize] bytes. Names are single path
// elements; see [CheckName].
package clearinghouse

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// MaxFileSize is the largest file a transport writes or reads (64 MiB).
const MaxFileSize = 64 << 20

// MaxNameLen is the longest outbound file name, leaving room within the
// usual 255-byte limit for the temporary and archive names derived from it.
const MaxNameLen = 200

// Subdirectories of the inbound directory that handled files are moved to.
const (
	ProcessedDir = "processed"
	RejectedDir  = "rejected"
)

// ReasonSuffix is appended to an archived file's name to name the file that
// holds the reason it was rejected.
const ReasonSuffix = ".reason.txt"

var (
	// ErrUnsafeName is returned for a file name that is not a single, plain
	// path element.
	ErrUnsafeName = errors.New("unsafe file name")
	// ErrTooLarge is returned for a file larger than MaxFileSize.
	ErrTooLarge = fmt.Errorf("file larger than %d bytes", MaxFileSize)
	// ErrClosed is returned by a transport used after Close.
	ErrClosed = errors.New("transport closed")
)

// File describes an inbound file.
type File struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Transport is a clearinghouse mailbox. Implementations are safe for
// concurrent use.
type Transport interface {
	// Put writes an outbound file atomically (write to a temporary name,
	// then rename) so a reader never sees half a file. An existing file
	// with the same name is replaced.
	Put(ctx context.Context, name string, data []byte) error
	// List lists inbound files (not directories, not temporary/partial
	// names), sorted by name.
	List(ctx context.Context) ([]File, error)
	// Get reads an inbound file.
	Get(ctx context.Context, name string) ([]byte, error)
	// Archive moves a handled inbound file to inbound/processed (or
	// inbound/rejected with a reason file) so it is not listed again. If
	// the archive already holds a file of that name, the archived copy gets
	// a timestamp suffix; nothing archived is overwritten.
	Archive(ctx context.Context, name string, rejected bool, reason string) error
	// Close releases the transport's resources.
	Close() error
}

// CheckName reports whether name is safe as a mailbox file name: a single
// path element of at most MaxNameLen bytes, without path separators, "..",
// control characters or a leading dot, that does not look like a temporary
// or partial upload (which List would hide) and is not one of the archive
// directories. It returns an error wrapping ErrUnsafeName otherwise.
func CheckName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "empty"
	case len(name) > MaxNameLen:
		reason = fmt.Sprintf("longer than %d bytes", MaxNameLen)
	case strings.ContainsAny(name, `/\`):
		reason = "contains a path separator"
	case strings.Contains(name, ".."):
		reason = `contains ".."`
	case strings.HasPrefix(name, "."):
		reason = "starts with a dot"
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		reason = "contains a control character"
	case isTemporary(name):
		reason = "looks like a temporary or partial file"
	case name == ProcessedDir || name == RejectedDir:
		reason = "names an archive directory"
	default:
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrUnsafeName, name, reason)
}

// checkInboundName is the looser check for names of inbound files, which the
// clearinghouse chose: any single path element is accepted.
func checkInboundName(name string) error {
	reason := ""
	switch {
	case name == "" || name == "." || name == "..":
		reason = "not a file name"
	case strings.ContainsAny(name, "/\\\x00"):
		reason = "contains a path separator or NUL"
	default:
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrUnsafeName, name, reason)
}

// temporarySuffixes mark files still being written, by this package (".tmp")
// or by common SFTP clients.
var temporarySuffixes = []string{".tmp", ".part", ".partial", ".filepart", ".crdownload"}

// isTemporary reports whether a listed name is a temporary or partial file
// that List must not return: hidden (dot) files, which is where Put writes,
// and names with a temporary suffix.
func isTemporary(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	lower := strings.ToLower(name)
	for _, s := range temporarySuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// archiveName returns the name a file is archived under when name is
// already taken in the archive.
func archiveName(name string, now time.Time) string {
	return name + "." + now.UTC().Format("20060102T150405.000000000Z")
}

// checkSize returns an error wrapping ErrTooLarge if size exceeds MaxFileSize.
// checkReadable refuses what Get must not read whole: anything but a
// regular file, and files over MaxFileSize. Both transports stat first.
func checkReadable(info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return errNotRegular
	}
	return checkSize(info.Size())
}

var errNotRegular = errors.New("not a regular file")

func checkSize(size int64) error {
	if size > MaxFileSize {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, size)
	}
	return nil
}
