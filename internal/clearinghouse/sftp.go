package clearinghouse

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// DefaultTimeout bounds connecting and the SSH handshake when
// SFTPConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// ErrHostKeyMismatch is returned by NewSFTP when the server presents a host
// key other than SFTPConfig.HostKey.
var ErrHostKeyMismatch = errors.New("ssh host key mismatch")

// SFTPConfig configures an SFTP mailbox.
type SFTPConfig struct {
	// Addr is the server's host:port.
	Addr string
	// User is the SSH user name.
	User string
	// Password authenticates the user; PrivateKey may be given instead or
	// as well.
	Password string
	// PrivateKey is a PEM-encoded private key (OpenSSH, PKCS#1, PKCS#8 or
	// SEC 1), encrypted with PrivateKeyPassphrase if that is set.
	PrivateKey           []byte
	PrivateKeyPassphrase string
	// HostKey is the server's public host key in authorized_keys format
	// ("ssh-ed25519 AAAA...") or as a known_hosts line. It is required
	// unless InsecureIgnoreHostKey is set.
	HostKey string
	// InsecureIgnoreHostKey accepts any host key. Use it only in tests.
	InsecureIgnoreHostKey bool
	// OutboundDir is the server directory files are written to, and
	// InboundDir the one they are read from; relative paths are relative
	// to the login directory. Missing directories, and
	// InboundDir/processed and InboundDir/rejected, are created.
	OutboundDir string
	InboundDir  string
	// Timeout bounds connecting and the SSH handshake (DefaultTimeout if
	// zero).
	Timeout time.Duration
}

// SFTP is a mailbox on an SFTP server. It is safe for concurrent use.
//
// The SFTP protocol cannot abandon a request, so if a context is cancelled
// while a request is in flight the connection is closed, the call returns
// the context's error and later calls fail: open a new SFTP.
type SFTP struct {
	conn     *ssh.Client
	client   *sftp.Client
	outbound string
	inbound  string

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

var _ Transport = (*SFTP)(nil)

// NewSFTP connects to the SFTP server described by cfg, verifying its host
// key, and opens the mailbox.
func NewSFTP(ctx context.Context, cfg SFTPConfig) (*SFTP, error) {
	s, err := newSFTP(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("clearinghouse: sftp %s: %w", cfg.Addr, err)
	}
	return s, nil
}

func newSFTP(ctx context.Context, cfg SFTPConfig) (*SFTP, error) {
	clientConfig, err := cfg.sshConfig()
	if err != nil {
		return nil, err
	}
	if cfg.OutboundDir == "" || cfg.InboundDir == "" {
		return nil, errors.New("config: OutboundDir and InboundDir are required")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	clientConfig.Timeout = timeout

	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	netConn, err := d.DialContext(dialCtx, "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	// The handshake does not take a context: bound it with a deadline and
	// close the connection if ctx ends first.
	deadline, _ := dialCtx.Deadline()
	if err := netConn.SetDeadline(deadline); err != nil {
		netConn.Close()
		return nil, err
	}
	stop := context.AfterFunc(dialCtx, func() { netConn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(netConn, cfg.Addr, clientConfig)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, dialCtx.Err()
	}
	if err != nil {
		netConn.Close()
		return nil, err
	}
	if err := netConn.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, err
	}
	conn := ssh.NewClient(c, chans, reqs)

	// Starting the subsystem and creating the directories do not take a
	// context either: close the connection if ctx ends first.
	stop = context.AfterFunc(ctx, func() { conn.Close() })
	client, err := openMailbox(conn, cfg)
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &SFTP{
		conn:     conn,
		client:   client,
		outbound: path.Clean(cfg.OutboundDir),
		inbound:  path.Clean(cfg.InboundDir),
		closed:   make(chan struct{}),
	}, nil
}

// openMailbox starts the SFTP subsystem on conn and creates the mailbox
// directories.
func openMailbox(conn *ssh.Client, cfg SFTPConfig) (*sftp.Client, error) {
	client, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, fmt.Errorf("start sftp subsystem: %w", err)
	}
	inbound := path.Clean(cfg.InboundDir)
	for _, dir := range []string{
		path.Clean(cfg.OutboundDir),
		inbound,
		path.Join(inbound, ProcessedDir),
		path.Join(inbound, RejectedDir),
	} {
		if err := client.MkdirAll(dir); err != nil {
			client.Close()
			return nil, fmt.Errorf("create mailbox directory %q: %w", dir, err)
		}
	}
	return client, nil
}

func (cfg SFTPConfig) sshConfig() (*ssh.ClientConfig, error) {
	if cfg.Addr == "" || cfg.User == "" {
		return nil, errors.New("config: Addr and User are required")
	}
	var auth []ssh.AuthMethod
	if len(cfg.PrivateKey) > 0 {
		var signer ssh.Signer
		var err error
		if cfg.PrivateKeyPassphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(cfg.PrivateKey, []byte(cfg.PrivateKeyPassphrase))
		} else {
			signer, err = ssh.ParsePrivateKey(cfg.PrivateKey)
		}
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if cfg.Password != "" {
		auth = append(auth, ssh.Password(cfg.Password))
	}
	if len(auth) == 0 {
		return nil, errors.New("config: a Password or PrivateKey is required")
	}

	var hostKeyCallback ssh.HostKeyCallback
	switch {
	case cfg.HostKey != "":
		want, err := parseHostKey(cfg.HostKey)
		if err != nil {
			return nil, err
		}
		hostKeyCallback = fixedHostKey(want)
	case cfg.InsecureIgnoreHostKey:
		hostKeyCallback = ssh.InsecureIgnoreHostKey()
	default:
		return nil, errors.New("config: HostKey is required (or set InsecureIgnoreHostKey)")
	}
	return &ssh.ClientConfig{
		User:            cfg.User,
		Auth:            auth,
		HostKeyCallback: hostKeyCallback,
	}, nil
}

// parseHostKey parses a public key in authorized_keys format or a
// known_hosts line (whose host patterns are ignored).
func parseHostKey(s string) (ssh.PublicKey, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err == nil {
		return key, nil
	}
	marker, _, key, _, _, kerr := ssh.ParseKnownHosts([]byte(s))
	if kerr == nil && marker == "" {
		return key, nil
	}
	return nil, fmt.Errorf("parse HostKey: %w", err)
}

func fixedHostKey(want ssh.PublicKey) ssh.HostKeyCallback {
	wantBytes := want.Marshal()
	return func(_ string, _ net.Addr, got ssh.PublicKey) error {
		if !bytes.Equal(got.Marshal(), wantBytes) {
			return fmt.Errorf("%w: server presented %s %s, want %s %s", ErrHostKeyMismatch,
				got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
		}
		return nil
	}
}

// do runs fn, closing the connection if ctx ends before fn returns (which
// makes fn's pending request fail).
func (s *SFTP) do(ctx context.Context, fn func() error) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	err := fn()
	if !stop() {
		return fmt.Errorf("%w (connection closed)", ctx.Err())
	}
	return err
}

// Put writes data to the outbound file name atomically: to a hidden
// temporary file, then renamed.
func (s *SFTP) Put(ctx context.Context, name string, data []byte) error {
	if err := s.put(ctx, name, data); err != nil {
		return fmt.Errorf("clearinghouse: sftp put %q: %w", name, err)
	}
	return nil
}

func (s *SFTP) put(ctx context.Context, name string, data []byte) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := checkSize(int64(len(data))); err != nil {
		return err
	}
	return s.do(ctx, func() error { return s.writeAtomic(s.outbound, name, data) })
}

func (s *SFTP) writeAtomic(dir, name string, data []byte) (err error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path.Join(dir, "."+name+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := s.client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			s.client.Remove(tmp)
		}
	}()
	if _, err = f.ReadFrom(bytes.NewReader(data)); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return s.rename(tmp, path.Join(dir, name))
}

// rename renames oldname to newname, replacing newname: atomically with the
// posix-rename extension, else by removing newname first.
func (s *SFTP) rename(oldname, newname string) error {
	if _, ok := s.client.HasExtension("posix-rename@openssh.com"); ok {
		return s.client.PosixRename(oldname, newname)
	}
	err := s.client.Rename(oldname, newname)
	if err == nil {
		return nil
	}
	if _, serr := s.client.Lstat(newname); serr != nil {
		return err // newname does not exist: the rename failed for another reason
	}
	if err := s.client.Remove(newname); err != nil {
		return err
	}
	return s.client.Rename(oldname, newname)
}

// List lists the regular files in the inbound directory, sorted by name,
// leaving out directories, symbolic links and temporary or partial files.
func (s *SFTP) List(ctx context.Context) ([]File, error) {
	var files []File
	err := s.do(ctx, func() error {
		infos, err := s.client.ReadDirContext(ctx, s.inbound)
		if err != nil {
			return err
		}
		files = make([]File, 0, len(infos))
		for _, info := range infos {
			if !info.Mode().IsRegular() || isTemporary(info.Name()) {
				continue
			}
			files = append(files, File{Name: info.Name(), Size: info.Size(), ModTime: info.ModTime()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clearinghouse: sftp list: %w", err)
	}
	sortFiles(files)
	return files, nil
}

// Get reads the inbound file name.
func (s *SFTP) Get(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := checkInboundName(name)
	if err == nil {
		err = s.do(ctx, func() error {
			var err error
			data, err = s.get(name)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("clearinghouse: sftp get %q: %w", name, err)
	}
	return data, nil
}

func (s *SFTP) get(name string) ([]byte, error) {
	f, err := s.client.Open(path.Join(s.inbound, name))
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
	w := &limitedBuffer{}
	w.buf.Grow(int(info.Size()))
	if _, err := f.WriteTo(w); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// limitedBuffer is a buffer that refuses to hold more than MaxFileSize
// bytes. sftp.File.WriteTo reads with concurrent requests, which
// io.LimitReader would hide.
type limitedBuffer struct{ buf bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if err := checkSize(int64(b.buf.Len() + len(p))); err != nil {
		return 0, err
	}
	return b.buf.Write(p)
}

// Archive moves the inbound file name to inbound/processed, or to
// inbound/rejected beside a file holding reason.
func (s *SFTP) Archive(ctx context.Context, name string, rejected bool, reason string) error {
	err := checkInboundName(name)
	if err == nil {
		err = s.do(ctx, func() error { return s.archive(name, rejected, reason) })
	}
	if err != nil {
		return fmt.Errorf("clearinghouse: sftp archive %q: %w", name, err)
	}
	return nil
}

func (s *SFTP) archive(name string, rejected bool, reason string) error {
	src := path.Join(s.inbound, name)
	info, err := s.client.Lstat(src)
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
	dir := path.Join(s.inbound, sub)
	target := name
	if _, err := s.client.Lstat(path.Join(dir, target)); err == nil {
		target = archiveName(name, time.Now())
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if rejected {
		if err := s.writeAtomic(dir, target+ReasonSuffix, []byte(reason)); err != nil {
			return fmt.Errorf("write reason: %w", err)
		}
	}
	// A plain rename: it fails rather than overwrite an archived file.
	return s.client.Rename(src, path.Join(dir, target))
}

// Close closes the SFTP session and the SSH connection.
func (s *SFTP) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		var errs []error
		if err := s.client.Close(); err != nil && !errors.Is(err, io.EOF) {
			errs = append(errs, err)
		}
		if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
