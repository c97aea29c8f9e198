package clearinghouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// dirMode is the mode of the directories NewDir creates.
const dirMode = 0o750

// fileMode is the mode of the files Put writes.
const fileMode = 0o640

// Dir is a mailbox in a directory: outbound files are written to one
// directory and inbound files read from another. It is safe for concurrent
// use, but only one process should Archive from a mailbox at a time.
type Dir struct {
	outbound string
	inbound  string
}

var _ Transport = (*Dir)(nil)

// NewDir opens the directory mailbox at root: files are written to
// <root>/outbound and read from <root>/inbound. The directories, and
// inbound/processed and inbound/rejected, are created (mode 0750) if
// missing.
func NewDir(root string) (*Dir, error) {
	return openDir(filepath.Join(root, "outbound"), filepath.Join(root, "inbound"))
}

// NewDirPeer opens the directory mailbox at root as the clearinghouse sees
// it: files are read from <root>/outbound (and archived under it) and
// written to <root>/inbound. The payer simulator uses it.
func NewDirPeer(root string) (*Dir, error) {
	return openDir(filepath.Join(root, "inbound"), filepath.Join(root, "outbound"))
}

func openDir(outbound, inbound string) (*Dir, error) {
	for _, d := range []string{
		outbound,
		inbound,
		filepath.Join(inbound, ProcessedDir),
		filepath.Join(inbound, RejectedDir),
	} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("clearinghouse: create mailbox directory: %w", err)
		}
	}
	return &Dir{outbound: outbound, inbound: inbound}, nil
}

// Put writes data to the outbound file name atomically.
func (d *Dir) Put(ctx context.Context, name string, data []byte) error {
	if err := d.put(ctx, d.outbound, name, data); err != nil {
		return fmt.Errorf("clearinghouse: put %q: %w", name, err)
	}
	return nil
}

func (d *Dir) put(ctx context.Context, dir, name string, data []byte) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := checkSize(int64(len(data))); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeAtomic(dir, name, data)
}

// writeAtomic writes data to a hidden temporary file in dir, syncs it and
// renames it to name, so name either does not exist or is complete.
func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(fileMode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// List lists the regular files in the inbound directory, sorted by name,
// leaving out directories, symbolic links and temporary or partial files.
func (d *Dir) List(ctx context.Context) ([]File, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("clearinghouse: list: %w", err)
	}
	entries, err := os.ReadDir(d.inbound)
	if err != nil {
		return nil, fmt.Errorf("clearinghouse: list: %w", err)
	}
	files := make([]File, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() || isTemporary(e.Name()) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // archived or removed since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("clearinghouse: list: %q: %w", e.Name(), err)
		}
		files = append(files, File{Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	}
	sortFiles(files)
	return files, nil
}

func sortFiles(files []File) {
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}

// Get reads the inbound file name.
func (d *Dir) Get(ctx context.Context, name string) ([]byte, error) {
	data, err := d.get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("clearinghouse: get %q: %w", name, err)
	}
	return data, nil
}

func (d *Dir) get(ctx context.Context, name string) ([]byte, error) {
	if err := checkInboundName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.inbound, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkReadable(info); err != nil {
		return nil, err
	}
	return readLimited(f, info.Size())
}

// readLimited reads r to the end, refusing more than MaxFileSize bytes (the
// file may have grown since it was stat'ed).
func readLimited(r io.Reader, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(sizeHint) + 1)
	n, err := buf.ReadFrom(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if err := checkSize(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Archive moves the inbound file name to inbound/processed, or to
// inbound/rejected beside a file holding reason.
func (d *Dir) Archive(ctx context.Context, name string, rejected bool, reason string) error {
	if err := d.archive(ctx, name, rejected, reason); err != nil {
		return fmt.Errorf("clearinghouse: archive %q: %w", name, err)
	}
	return nil
}

func (d *Dir) archive(ctx context.Context, name string, rejected bool, reason string) error {
	if err := checkInboundName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	src := filepath.Join(d.inbound, name)
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errNotRegular
	}
	sub := ProcessedDir
	if rejected {
		sub = RejectedDir
	}
	dir := filepath.Join(d.inbound, sub)
	target := name
	if _, err := os.Lstat(filepath.Join(dir, target)); err == nil {
		target = archiveName(name, time.Now())
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if rejected {
		// The reason is written first, so a rejected file is never found
		// in the archive without it.
		if err := writeAtomic(dir, target+ReasonSuffix, []byte(reason)); err != nil {
			return fmt.Errorf("write reason: %w", err)
		}
	}
	if err := os.Rename(src, filepath.Join(dir, target)); err != nil {
		return err
	}
	return syncDir(dir)
}

// Close does nothing: a Dir holds no resources.
func (d *Dir) Close() error { return nil }
