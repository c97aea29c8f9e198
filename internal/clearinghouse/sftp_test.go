package clearinghouse

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

const (
	testUser     = "clinic"
	testPassword = "correct horse battery staple"
)

// sftpServer is a real SFTP server (golang.org/x/crypto/ssh with
// github.com/pkg/sftp) on 127.0.0.1, serving a directory, stopped at the
// end of the test.
type sftpServer struct {
	addr      string
	hostKey   string // authorized_keys format
	clientKey []byte // PEM private key the server accepts for testUser
}

func startSFTPServer(t *testing.T, root string) *sftpServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientSSHPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}

	config := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if c.User() == testUser && subtle.ConstantTimeCompare(password, []byte(testPassword)) == 1 {
				return nil, nil
			}
			return nil, errors.New("password rejected")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == testUser && bytes.Equal(key.Marshal(), clientSSHPub.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key rejected")
		},
	}
	config.AddHostKey(hostSigner)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		conns   = map[net.Conn]struct{}{}
		stopped bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			mu.Lock()
			if stopped {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				serveSSH(c, config, root)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		stopped = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &sftpServer{
		addr:      ln.Addr().String(),
		hostKey:   string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())),
		clientKey: pem.EncodeToMemory(block),
	}
}

// serveSSH serves one SSH connection: session channels whose "sftp"
// subsystem is served from root. It returns when the connection ends.
func serveSSH(c net.Conn, config *ssh.ServerConfig, root string) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, config)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	defer func() {
		conn.Close()
		wg.Wait()
	}()
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Go(func() { serveSession(ch, chReqs, root, &wg) })
	}
}

func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, root string, wg *sync.WaitGroup) {
	defer ch.Close()
	for req := range reqs {
		// The payload of a subsystem request is an SSH string.
		ok := req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
		req.Reply(ok, nil)
		if !ok {
			continue
		}
		wg.Go(func() { ssh.DiscardRequests(reqs) })
		server, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(root))
		if err != nil {
			return
		}
		server.Serve()
		server.Close()
		return
	}
}

// sftpConfig returns a config for srv's mailbox, authenticated by password.
func (srv *sftpServer) config() SFTPConfig {
	return SFTPConfig{
		Addr:        srv.addr,
		User:        testUser,
		Password:    testPassword,
		HostKey:     srv.hostKey,
		OutboundDir: "outbound",
		InboundDir:  "inbound",
		Timeout:     5 * time.Second,
	}
}

func openSFTP(t *testing.T, cfg SFTPConfig) *SFTP {
	t.Helper()
	s, err := NewSFTP(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSFTPTransport(t *testing.T) {
	t.Parallel()
	runTransportSuite(t, func(t *testing.T) mailbox {
		root := t.TempDir()
		srv := startSFTPServer(t, root)
		cfg := srv.config()
		ours := openSFTP(t, cfg)
		// The clearinghouse's side: the same server with the directories
		// swapped.
		cfg.OutboundDir, cfg.InboundDir = cfg.InboundDir, cfg.OutboundDir
		peer := openSFTP(t, cfg)
		return mailbox{t: ours, peer: peer, root: root}
	})
}

func TestSFTPAbsoluteDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	srv := startSFTPServer(t, t.TempDir())
	cfg := srv.config()
	cfg.OutboundDir = filepath.Join(root, "to-clearinghouse")
	cfg.InboundDir = filepath.Join(root, "from-clearinghouse")
	s := openSFTP(t, cfg)
	put(t, s, "a.837", "claims")
	if got := readFile(t, root, "to-clearinghouse", "a.837"); got != "claims" {
		t.Errorf("content = %q", got)
	}
	for _, d := range []string{"from-clearinghouse/processed", "from-clearinghouse/rejected"} {
		if info, err := os.Stat(filepath.Join(root, d)); err != nil || !info.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
}

func TestSFTPPrivateKeyAndKnownHosts(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	srv := startSFTPServer(t, root)
	cfg := srv.config()
	cfg.Password = ""
	cfg.PrivateKey = srv.clientKey
	cfg.HostKey = "[" + strings.Replace(srv.addr, ":", "]:", 1) + " " + srv.hostKey
	s := openSFTP(t, cfg)
	put(t, s, "a.837", "x")
	if got := readFile(t, root, "outbound", "a.837"); got != "x" {
		t.Errorf("content = %q", got)
	}
}

func TestSFTPHostKeyMismatch(t *testing.T) {
	t.Parallel()
	srv := startSFTPServer(t, t.TempDir())
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewPublicKey(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.config()
	cfg.HostKey = string(ssh.MarshalAuthorizedKey(other))
	s, err := NewSFTP(t.Context(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("NewSFTP with the wrong host key succeeded")
	}
	if !errors.Is(err, ErrHostKeyMismatch) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(other)) {
		t.Errorf("err = %v, want ErrHostKeyMismatch naming the expected key", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Error("error contains the password")
	}
}

func TestSFTPConfigErrors(t *testing.T) {
	t.Parallel()
	srv := startSFTPServer(t, t.TempDir())
	tests := []struct {
		name   string
		modify func(*SFTPConfig)
		want   string
	}{
		{"NoHostKey", func(c *SFTPConfig) { c.HostKey = "" }, "HostKey is required"},
		{"BadHostKey", func(c *SFTPConfig) { c.HostKey = "not a key" }, "parse HostKey"},
		{"NoAuth", func(c *SFTPConfig) { c.Password = "" }, "Password or PrivateKey"},
		{"BadPrivateKey", func(c *SFTPConfig) { c.PrivateKey = []byte("junk") }, "parse private key"},
		{"NoDirs", func(c *SFTPConfig) { c.InboundDir = "" }, "InboundDir"},
		{"WrongPassword", func(c *SFTPConfig) { c.Password = "wrong" }, "unable to authenticate"},
		{"WrongUser", func(c *SFTPConfig) { c.User = "someone" }, "unable to authenticate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := srv.config()
			tc.modify(&cfg)
			s, err := NewSFTP(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("NewSFTP succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSFTPInsecureIgnoreHostKey(t *testing.T) {
	t.Parallel()
	srv := startSFTPServer(t, t.TempDir())
	cfg := srv.config()
	cfg.HostKey = ""
	cfg.InsecureIgnoreHostKey = true
	s := openSFTP(t, cfg)
	if _, err := s.List(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestSFTPUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := SFTPConfig{Addr: addr, User: testUser, Password: "x", InsecureIgnoreHostKey: true, OutboundDir: "o", InboundDir: "i"}
	if _, err := NewSFTP(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("err = %v, want an error naming %s", err, addr)
	}
}

// TestSFTPHandshakeTimeout connects to a server that never speaks SSH.
func TestSFTPHandshakeTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := SFTPConfig{Addr: ln.Addr().String(), User: testUser, Password: "x", InsecureIgnoreHostKey: true,
		OutboundDir: "o", InboundDir: "i", Timeout: 200 * time.Millisecond}
	start := time.Now()
	if _, err := NewSFTP(t.Context(), cfg); err == nil {
		t.Fatal("NewSFTP succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("NewSFTP took %v with a 200ms timeout", d)
	}
}

func TestSFTPClose(t *testing.T) {
	t.Parallel()
	srv := startSFTPServer(t, t.TempDir())
	s, err := NewSFTP(t.Context(), srv.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.List(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close = %v, want ErrClosed", err)
	}
}

// TestSFTPCancelInFlight cancels a context while a request is in flight:
// the call returns promptly with the context's error and the transport is
// closed.
func TestSFTPCancelInFlight(t *testing.T) {
	t.Parallel()
	srv := startSFTPServer(t, t.TempDir())
	s := openSFTP(t, srv.config())
	data := make([]byte, MaxFileSize)
	ctx, cancel := context.WithCancel(t.Context())
	timer := time.AfterFunc(10*time.Millisecond, cancel)
	defer timer.Stop()
	err := s.Put(ctx, "big.837", data)
	if err == nil {
		t.Skip("Put finished before the context was cancelled")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "big.837") {
		t.Fatalf("Put = %v, want context.Canceled naming the file", err)
	}
	if _, err := s.List(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("List after cancel = %v, want ErrClosed", err)
	}
}
