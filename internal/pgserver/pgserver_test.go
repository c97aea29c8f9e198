package pgserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcm-health/rcm/internal/pgserver"
)

// start starts a cluster in dir and registers its stop, and the removal of
// whatever it put outside dir, with t.Cleanup.
func start(t *testing.T, dir string) *pgserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := time.Now()
	s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v: data %s, socket %s", time.Since(begin).Round(time.Millisecond), s.DataDir, s.SocketDir)
	t.Cleanup(func() {
		_ = s.Stop(context.Background())
		for _, p := range []string{filepath.Dir(s.DataDir), s.SocketDir} {
			if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				_ = os.RemoveAll(p)
			}
		}
	})
	return s
}

func stop(t *testing.T, s *pgserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(begin).Round(time.Millisecond))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM visits").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// traversableDir returns a fresh directory that every user can reach, so that
// a cluster started as root can stay inside it.
func traversableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// killPostmaster simulates a crash and waits until the server has noticed.
func killPostmaster(t *testing.T, s *pgserver.Server) int {
	t.Helper()
	pid := postmasterPID(t, s)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("postgres still running after SIGKILL")
	}
	return pid
}

func postmasterPID(t *testing.T, s *pgserver.Server) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(first)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	dir := traversableDir(t)
	s := start(t, dir)
	if want := filepath.Join(dir, "data"); s.DataDir != want {
		t.Errorf("DataDir = %s, want %s", s.DataDir, want)
	}
	if os.Geteuid() == 0 {
		checkOwnedByPostgres(t, s.DataDir, 0o700)
		checkOwnedByPostgres(t, s.SocketDir, 0o700)
	}
	if err := s.CreateDatabase(context.Background(), "rcm"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDatabase(context.Background(), "rcm"); err != nil {
		t.Fatalf("second CreateDatabase: %v", err)
	}
	conn := connect(t, s.URL("rcm"))
	exec1(t, conn, "CREATE TABLE visits (id int PRIMARY KEY)")
	exec1(t, conn, "INSERT INTO visits VALUES (1)")
	_ = conn.Close(context.Background())
	stop(t, s)

	s = start(t, dir)
	conn = connect(t, s.URL("rcm"))
	if n := count(t, conn); n != 1 {
		t.Fatalf("after resume: %d rows, want 1", n)
	}
	exec1(t, conn, "INSERT INTO visits VALUES (2)")
	// The open connection leaves an orphaned backend behind the killed
	// postmaster, which the next Start must wait out.
	killPostmaster(t, s)
	if err := s.Stop(context.Background()); err == nil {
		t.Error("Stop after a crash returned nil")
	}

	s = start(t, dir)
	conn = connect(t, s.URL("rcm"))
	if n := count(t, conn); n != 2 {
		t.Fatalf("after crash: %d rows, want 2", n)
	}
	stop(t, s)
}

// A container restart hands out pids from 1 again, so postmaster.pid may name
// a live process that is no postgres; postgres alone would refuse to start.
func TestStaleLockFilesNamingOtherProcess(t *testing.T) {
	t.Parallel()
	dir := traversableDir(t)
	s := start(t, dir)
	killPostmaster(t, s)

	sleep := exec.Command("sleep", "60")
	if os.Geteuid() == 0 {
		// As another user's process postgres would take it for dead
		// (EPERM); the server's own user is the hard case.
		sleep.SysProcAttr = &syscall.SysProcAttr{Credential: postgresCredential(t)}
	}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	for _, lock := range []string{
		filepath.Join(s.DataDir, "postmaster.pid"),
		filepath.Join(s.SocketDir, ".s.PGSQL.5432.lock"),
	} {
		b, err := os.ReadFile(lock)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(b), "\n")
		if err := os.WriteFile(lock, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"+rest), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s = start(t, dir)
	connect(t, s.URL("postgres"))
	stop(t, s)
}

func TestFallbackWhenPostgresUserCannotReachDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the cluster as another user")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "rcm") // t.TempDir is mode 0700
	s := start(t, dir)
	if strings.HasPrefix(s.DataDir, dir) || !strings.HasPrefix(s.DataDir, os.TempDir()) {
		t.Fatalf("DataDir = %s, want a directory under %s", s.DataDir, os.TempDir())
	}
	checkOwnedByPostgres(t, s.DataDir, 0o700)
	connect(t, s.URL("postgres"))
	stop(t, s)

	again := start(t, dir)
	if again.DataDir != s.DataDir {
		t.Fatalf("second start used %s, first %s", again.DataDir, s.DataDir)
	}
	stop(t, again)
}

func TestLongSocketPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(traversableDir(t), strings.Repeat("d", 100))
	s := start(t, dir)
	if strings.HasPrefix(s.SocketDir, dir) {
		t.Fatalf("socket dir %s left under the long Dir", s.SocketDir)
	}
	if filepath.Dir(s.DataDir) != dir {
		t.Errorf("DataDir = %s, want it under %s", s.DataDir, dir)
	}
	connect(t, s.URL("postgres"))
	stop(t, s)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogAndPort(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	dir := traversableDir(t)
	s, err := pgserver.Start(context.Background(), pgserver.Options{Dir: dir, Port: 6543, Fsync: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if _, err := os.Stat(filepath.Join(s.SocketDir, ".s.PGSQL.6543")); err != nil {
		t.Error(err)
	}
	var fsync string
	if err := connect(t, s.URL("postgres")).QueryRow(context.Background(), "SHOW fsync").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" {
		t.Errorf("fsync = %s, want on", fsync)
	}
	stop(t, s)
	if !strings.Contains(log.String(), "database system is shut down") {
		t.Errorf("log lacks the shutdown line:\n%s", log.String())
	}
}

func postgresCredential(t *testing.T) *syscall.Credential {
	t.Helper()
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(pg.Uid)
	if err != nil {
		t.Fatal(err)
	}
	gid, err := strconv.Atoi(pg.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// TestParentKilled kills a process running a server, as when rcm dev dies
// by SIGKILL, and starts a new server on the same directory at once: the
// old one must go away by itself and the new one must wait for it.
func TestParentKilled(t *testing.T) {
	t.Parallel()
	dir := traversableDir(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
	helper.Env = append(os.Environ(), "PGSERVER_HELPER_DIR="+dir)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !strings.HasPrefix(line, "ready ") {
		t.Fatalf("helper said %q", line)
	}
	oldPID, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()

	s := start(t, dir)
	if running(oldPID) {
		t.Errorf("old postmaster %d still running", oldPID)
	}
	connect(t, s.URL("postgres"))
	stop(t, s)
}

// running is false for a zombie too: an orphan's exit status waits for pid 1,
// which in a container may be slow to reap it.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

func TestHelperServer(t *testing.T) {
	dir := os.Getenv("PGSERVER_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestParentKilled")
	}
	s, err := pgserver.Start(context.Background(), pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ready %d\n", postmasterPID(t, s))
	select {} // until killed
}

func checkOwnedByPostgres(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != pg.Uid {
		t.Errorf("%s belongs to uid %d, want postgres", path, uid)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}
