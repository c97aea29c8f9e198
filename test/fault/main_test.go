package fault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMain doubles as a NATS node: the tests start this binary again with
// natsNodeEnv set so that a node is a process of its own, which SIGKILL can
// take down without a clean shutdown, as a crashed server would go.
func TestMain(m *testing.M) {
	if spec := os.Getenv(natsNodeEnv); spec != "" {
		os.Exit(runNATSNode(spec))
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// binEnv names an rcm binary to test instead of building cmd/rcm, such as
// a release candidate or an older build to compare with.
const binEnv = "RCM_FAULT_RCM_BIN"

// rcmBinary builds cmd/rcm once per test binary, on first use, so that a
// run in which every test skips builds nothing.
func rcmBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(binEnv); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("no go command to build rcm with (or set %s): %w", binEnv, err)
			return
		}
		binDir, buildErr = os.MkdirTemp("", "rcm-fault-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "rcm")
		start := time.Now()
		cmd := exec.Command(goTool, "build", "-o", binPath, "github.com/rcm-health/rcm/cmd/rcm")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/rcm: %w\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "fault: built rcm in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// needsPipeline skips t in -short runs: every test here starts processes,
// a database and a message server.
func needsPipeline(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole pipeline as processes")
	}
}
