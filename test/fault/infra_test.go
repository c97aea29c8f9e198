package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rcm-health/rcm/internal/pgserver"
)

// natsNodeEnv carries a natsNodeSpec, as JSON, to a child test binary that
// is to run a NATS node instead of tests.
const natsNodeEnv = "RCM_FAULT_NATS_NODE"

// natsNodeSpec configures one JetStream server.
type natsNodeSpec struct {
	Name     string
	Port     int
	StoreDir string
	// ClusterPort, when not 0, joins the node to the cluster of Routes.
	ClusterPort int
	Routes      []string
}

// runNATSNode runs a node until SIGTERM or SIGINT; the tests also SIGKILL it.
func runNATSNode(raw string) int {
	var spec natsNodeSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "nats node:", err)
		return 2
	}
	opts := &server.Options{
		ServerName: spec.Name,
		Host:       "127.0.0.1",
		Port:       spec.Port,
		JetStream:  true,
		StoreDir:   spec.StoreDir,
		NoSigs:     true,
		Logtime:    true,
	}
	if spec.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: "rcm-fault", Host: "127.0.0.1", Port: spec.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(spec.Routes, ","))
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats node:", err)
		return 1
	}
	// Its log goes to stderr, which the test keeps in a file beside the
	// services' logs for when a test fails.
	srv.ConfigureLogger()
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "nats node: not ready after 30s")
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Shutdown()
	srv.WaitForShutdown()
	return 0
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a child process whose output goes to a log file. It can be
// stopped, killed and started again with the same arguments.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
}

func newProc(name, path string, args, env []string, logDir string) *proc {
	return &proc{name: name, path: path, args: args, env: env, logPath: filepath.Join(logDir, name+".log")}
}

// start runs the process; its log file is appended to, so a restarted
// process keeps its history.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is running", p.name)
		}
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logFile, "=== start %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills the child if the test binary dies, so a timed-out
	// test leaves no server holding ports and data directories.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		defer close(done)
		defer logFile.Close()
		// The death signal fires when the thread that forked the child
		// exits (go.dev/issue/27505): keep this goroutine on its thread for
		// the child's life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, done
	return nil
}

// running reports whether the current run has not exited.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL: no handler, deferred function or flush runs.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL, 0)
}

// pause freezes the process (SIGSTOP), as a stage stalled by a long GC,
// a starved CPU or a slow disk would be; resume lets it go on (SIGCONT).
func (p *proc) pause()  { p.signal(syscall.SIGSTOP, -1) }
func (p *proc) resume() { p.signal(syscall.SIGCONT, -1) }

// stop asks for a clean exit and kills the process if it takes too long.
func (p *proc) stop() {
	p.signal(syscall.SIGTERM, 20*time.Second)
}

func (p *proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	if sig == syscall.SIGTERM || sig == syscall.SIGKILL {
		// A frozen process cannot act on SIGTERM.
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Signal(sig)
	if grace < 0 {
		return // the process lives on
	}
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-done
}

// problems returns the log lines that look like warnings or errors, the
// last max of them: the services log ids, never patient data.
func (p *proc) problems(max int) []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, "[ERR]") ||
			strings.Contains(l, "[WRN]") || strings.HasPrefix(l, "rcm:") || strings.HasPrefix(l, "panic") || strings.HasPrefix(l, "===") {
			if len(l) > 400 {
				l = l[:400] + "…"
			}
			out = append(out, l)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// natsNode is a JetStream server in a child process.
type natsNode struct {
	spec natsNodeSpec
	proc *proc
}

func (n *natsNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.spec.Port) }

// waitUp waits until the node accepts connections.
func (n *natsNode) waitUp(ctx context.Context) error {
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.spec.Port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if !n.proc.running() {
			return fmt.Errorf("nats node %s exited; see %s", n.spec.Name, n.proc.logPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats node %s: %w", n.spec.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// natsCluster is one or more nodes; with one node it is a plain server.
type natsCluster struct {
	nodes []*natsNode
}

// startNATS starts n nodes (clustered when n > 1) under dir and waits until
// JetStream answers through them.
func startNATS(t *testing.T, n int, dir string) *natsCluster {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &natsCluster{}
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		if n > 1 {
			clusterPorts[i] = freePort(t)
		}
	}
	for i := range n {
		spec := natsNodeSpec{Name: fmt.Sprintf("n%d", i+1), Port: freePort(t), StoreDir: filepath.Join(dir, fmt.Sprintf("nats-n%d", i+1))}
		if n > 1 {
			spec.ClusterPort = clusterPorts[i]
			for j, p := range clusterPorts {
				if j != i {
					spec.Routes = append(spec.Routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
				}
			}
		}
		raw, _ := json.Marshal(spec)
		env := append(cleanEnv(), natsNodeEnv+"="+string(raw))
		node := &natsNode{spec: spec, proc: newProc("nats-"+spec.Name, exe, []string{"-test.run=^$"}, env, dir)}
		if err := node.proc.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.proc.stop)
		c.nodes = append(c.nodes, node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, node := range c.nodes {
		if err := node.waitUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.waitJetStream(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// urls lists every node's client URL, comma-separated, as the services'
// --nats-url takes them.
func (c *natsCluster) urls() string {
	us := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		us[i] = n.url()
	}
	return strings.Join(us, ",")
}

// waitJetStream waits until every running node answers a JetStream request:
// in a cluster that needs a meta leader.
func (c *natsCluster) waitJetStream(ctx context.Context) error {
	for _, n := range c.nodes {
		if !n.proc.running() {
			continue
		}
		nc, err := nats.Connect(n.url(), nats.NoReconnect())
		if err != nil {
			return err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return err
		}
		for {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = js.AccountInfo(actx)
			cancel()
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				nc.Close()
				return fmt.Errorf("JetStream on %s not ready: %w", n.spec.Name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		nc.Close()
	}
	return nil
}

// node returns the node named name (n1, n2, ...).
func (c *natsCluster) node(name string) *natsNode {
	for _, n := range c.nodes {
		if n.spec.Name == name {
			return n
		}
	}
	return nil
}

// cleanEnv is the test's environment without RCM_* and DATABASE_URL, so
// that a developer's settings cannot point a child at their own servers.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RCM_") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// postgres is a private cluster with one database, rcm, that a test can
// stop and start again on the same data directory and socket.
type postgres struct {
	opts pgserver.Options
	mu   sync.Mutex
	srv  *pgserver.Server
}

func startPostgres(t *testing.T, dir string) *postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := &postgres{opts: pgserver.Options{Dir: filepath.Join(dir, "postgres")}}
	srv, err := pgserver.Start(ctx, p.opts)
	if errors.Is(err, pgserver.ErrNotFound) {
		t.Skip("no PostgreSQL server binaries on this machine")
	}
	if err != nil {
		t.Fatal(err)
	}
	p.srv = srv
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = p.srv.Stop(ctx)
	})
	if err := srv.CreateDatabase(ctx, "rcm"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *postgres) url() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srv.URL("rcm")
}

// stop shuts the server down (fast: sessions are cut, open transactions
// rolled back).
func (p *postgres) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srv.Stop(ctx)
}

// start starts the stopped server again on the same data directory; its
// URL does not change.
func (p *postgres) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, p.opts)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	return nil
}

// mkdirShared makes a temporary directory the postgres system user can
// enter, which t.TempDir (mode 0700) is not when tests run as root.
func mkdirShared(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rcm-fault-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("RCM_FAULT_KEEP") == "1" {
			t.Logf("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}
