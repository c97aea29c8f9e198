// Package pgserver runs a private PostgreSQL cluster from the machine's server
// binaries, for `rcm dev` and for tests: no system service, no password and no
// TCP port. The cluster listens only on a unix socket in a directory of its
// own, so several can run side by side without clashing with each other or
// with a system PostgreSQL on 5432.
//
// As root (CI, containers) the cluster runs as the postgres system user,
// because initdb and postgres refuse to run as root.
package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures Start.
type Options struct {
	// Dir holds the cluster: its data in Dir/data, its socket in Dir/run.
	// Required. Files go under os.TempDir() instead when running as root
	// and the postgres user cannot reach Dir, or when the socket path would
	// exceed the kernel's limit; Server.DataDir and Server.SocketDir say
	// where they went.
	Dir string
	// Fsync makes commits survive an OS crash. Tests turn it off, and
	// full_page_writes with it, for speed; rcm dev must keep it on. Either
	// way a commit survives a crash of postgres itself.
	Fsync bool
	// Log receives the server's log until Stop returns. Nil discards it;
	// its last lines still appear in start-up errors.
	Log io.Writer
	// Port only names the socket file (.s.PGSQL.<Port>): the server does not
	// listen on TCP. Default 5432.
	Port int
}

// Server is a running cluster started by Start. Stop it with Stop.
type Server struct {
	// DataDir is the cluster's data directory: Options.Dir/data, or a
	// directory under os.TempDir() when running as root and the postgres
	// user cannot reach Options.Dir. Print it so users know where their
	// data lives.
	DataDir string
	// SocketDir is the directory of the unix socket.
	SocketDir string
	// Port is the socket's port number.
	Port int

	cmd     *exec.Cmd
	log     *tailWriter
	done    chan struct{}
	exitErr error // written before done is closed

	stopOnce sync.Once
	stopErr  error
}

// staleWait bounds how long Start waits for the processes of a previous
// server on the same data directory to go away.
const staleWait = 15 * time.Second

// Start initialises a cluster in opts.Dir unless one is there already, starts
// it and returns once it accepts connections. ctx bounds start-up only, not
// the server's life. The returned error is ErrNotFound when the machine has
// no PostgreSQL server binaries.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgserver: Options.Dir is required")
	}
	if opts.Port == 0 {
		opts.Port = 5432
	}
	bins, err := findBinaries(os.Getenv("PATH"), serverBinGlob)
	if err != nil {
		return nil, err
	}
	l, err := planLayout(opts.Dir, opts.Port)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	if err := initCluster(ctx, bins, l, opts.Fsync); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	if err := clearStale(ctx, l, opts.Port); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{DataDir: l.dataDir, SocketDir: l.sockDir, Port: opts.Port}
	if err := s.start(ctx, bins, l, opts); err != nil {
		return nil, fmt.Errorf("pgserver: start postgres on %s: %w", l.dataDir, err)
	}
	return s, nil
}

// URL returns a connection URL for database db over the unix socket, for pgx
// and libpq alike.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + db}
	// A slash is legal in a query; leaving it unescaped keeps printed URLs
	// readable.
	host := strings.ReplaceAll(url.QueryEscape(s.SocketDir), "%2F", "/")
	u.RawQuery = "host=" + host + "&port=" + strconv.Itoa(s.Port)
	return u.String()
}

// CreateDatabase creates an empty database, or does nothing if it exists, so
// that rcm dev can call it on every start. It copies template0, which nobody
// can connect to, so concurrent calls cannot fail with "source database is
// being accessed by other users".
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0")
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return nil
}

// Done is closed when postgres has exited, through Stop or otherwise, so that
// rcm dev can shut down when its database dies.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop asks for a fast shutdown (clients disconnected, open transactions
// rolled back, a checkpoint written, so the next start needs no recovery)
// and waits for it. If ctx ends first it falls back to an immediate
// shutdown, after which the next start runs crash recovery. Later calls
// return the first call's result.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	select {
	case <-s.done:
		if s.exitErr == nil {
			return fmt.Errorf("pgserver: postgres had already exited\n%s", s.log)
		}
		return fmt.Errorf("pgserver: postgres had already exited: %w\n%s", s.exitErr, s.log)
	default:
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgserver: stop postgres: %w", err)
	}
	select {
	case <-s.done:
		if s.exitErr != nil {
			return fmt.Errorf("pgserver: postgres shutdown: %w\n%s", s.exitErr, s.log)
		}
		return nil
	case <-ctx.Done():
		s.halt()
		return fmt.Errorf("pgserver: fast shutdown unfinished, used immediate shutdown: %w", ctx.Err())
	}
}

// halt stops postgres without a checkpoint.
func (s *Server) halt() {
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *Server) start(ctx context.Context, bins binaries, l layout, opts Options) error {
	args := []string{"-D", l.dataDir, "-p", strconv.Itoa(opts.Port), "-k", l.sockDir, "-c", "listen_addresses="}
	if !opts.Fsync {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	// postgres is run directly rather than through pg_ctl: arguments need no
	// shell quoting, the log can go to any writer, and the server stays our
	// child, so the kernel can stop it if we die (setDeathSignal).
	s.cmd = exec.Command(bins.postgres, args...)
	l.prepare(s.cmd)
	setDeathSignal(s.cmd.SysProcAttr)
	s.log = &tailWriter{}
	var w io.Writer = s.log
	if opts.Log != nil {
		w = io.MultiWriter(opts.Log, s.log)
	}
	s.cmd.Stdout, s.cmd.Stderr = w, w
	// Backends orphaned by a crashed postmaster hold the log pipe for a
	// moment; do not let that hang Wait.
	s.cmd.WaitDelay = 5 * time.Second
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go s.run(started)
	if err := <-started; err != nil {
		return err
	}
	if err := s.waitReady(ctx); err != nil {
		s.halt()
		return err
	}
	return nil
}

// run starts postgres and waits for it to exit. The kernel sends the death
// signal when the thread that forked the child exits, not the process
// (go.dev/issue/27505), so this goroutine keeps its thread until postgres is
// gone.
func (s *Server) run(started chan<- error) {
	defer close(s.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := s.cmd.Start(); err != nil {
		s.exitErr = err
		started <- err
		return
	}
	started <- nil
	s.exitErr = s.cmd.Wait()
}

// waitReady polls postmaster.pid the way pg_ctl -w does: line 1 is the
// postmaster's pid, line 8 its status, "ready" once it accepts connections.
func (s *Server) waitReady(ctx context.Context) error {
	pidFile := filepath.Join(s.DataDir, "postmaster.pid")
	want := strconv.Itoa(s.cmd.Process.Pid)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(pidFile); err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) >= 8 && lines[0] == want && strings.TrimSpace(lines[7]) == "ready" {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited during start-up (%v)\n%s", s.exitErr, s.log)
		case <-ctx.Done():
			return fmt.Errorf("waiting for postgres to accept connections: %w\n%s", ctx.Err(), s.log)
		case <-tick.C:
		}
	}
}

// initCluster runs initdb unless l.dataDir holds a cluster already.
func initCluster(ctx context.Context, bins binaries, l layout, fsync bool) error {
	_, err := os.Stat(filepath.Join(l.dataDir, "PG_VERSION"))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check %s: %w", l.dataDir, err)
	}
	// An empty directory is a harmless leftover; anything else may be
	// someone's data.
	switch entries, err := os.ReadDir(l.dataDir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("check %s: %w", l.dataDir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty but has no PG_VERSION, so it is no PostgreSQL data directory: move it away", l.dataDir)
	default:
		if err := os.Remove(l.dataDir); err != nil {
			return fmt.Errorf("remove empty %s: %w", l.dataDir, err)
		}
	}
	// initdb writes PG_VERSION early: building the cluster aside and
	// renaming it into place means a killed initdb never leaves a data
	// directory that looks complete.
	tmp := l.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove unfinished %s: %w", tmp, err)
	}
	if err := ensureDir(tmp, 0o700, l.owner); err != nil {
		return err
	}
	args := []string{"-D", tmp, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, bins.initdb, args...)
	l.prepare(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", tmp, err, lastBytes(out, tailSize))
	}
	if err := os.Rename(tmp, l.dataDir); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	if fsync {
		if err := syncDir(l.base); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// clearStale makes way for a new postmaster after a previous one ended
// uncleanly.
func clearStale(ctx context.Context, l layout, port int) error {
	real, err := filepath.EvalSymlinks(l.dataDir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", l.dataDir, err)
	}
	// Backends outlive a killed postmaster for a moment, and a postmaster
	// stopped by the death signal needs time for its checkpoint; postgres
	// refuses to start while they hold the old shared memory.
	deadline := time.Now().Add(staleWait)
	for {
		pids, ok := processesIn(real)
		if !ok {
			return nil
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL processes %v still run on %s: is another rcm using it?", pids, l.dataDir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for old PostgreSQL processes %v on %s: %w", pids, l.dataDir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := removeStaleLock(filepath.Join(l.dataDir, "postmaster.pid")); err != nil {
		return err
	}
	return removeStaleLock(socketPath(l.sockDir, port) + ".lock")
}

// removeStaleLock removes a PostgreSQL lock file that names a live process.
// Called once no process runs on the data directory, such a process is an
// unrelated one that got the old server's pid, as happens in containers where
// pids restart from 1, and postgres would refuse to start. A dead pid
// postgres handles itself, cleaning up the old shared memory too.
func removeStaleLock(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && !alive(pid) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale %s: %w", path, err)
	}
	return nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false // kill(0) and kill(-1) would address process groups
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// prepare makes cmd run as the cluster's owner, from a directory it can
// reach: as root our own working directory may be closed to it.
func (l layout) prepare(cmd *exec.Cmd) {
	cmd.Dir = l.base
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if l.owner == nil {
		return
	}
	cmd.SysProcAttr.Credential = l.owner.credential()
	cmd.Env = append(os.Environ(), "HOME="+l.owner.home, "USER="+l.owner.name, "LOGNAME="+l.owner.name)
}

// tailSize is how much of a log start-up errors quote.
const tailSize = 4 << 10

// tailWriter keeps the end of the server log for error messages.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*tailSize {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return lastBytes(w.buf, tailSize)
}

// lastBytes returns the whole lines within the last n bytes of b.
func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}
