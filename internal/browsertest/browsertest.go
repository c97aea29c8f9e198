// Package browsertest starts a real headless Chromium for tests, the way
// the biller UI's users meet it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium finds the browser. Without one the test fails rather than
// skips, so that CI cannot pass by not running it; RCM_SKIP_BROWSER=1
// skips it on a machine that cannot have a browser.
func Chromium(t testing.TB) string {
	t.Helper()
	if os.Getenv("RCM_SKIP_BROWSER") == "1" {
		t.Skip("RCM_SKIP_BROWSER=1")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("no chromium: install it (apt-get install chromium, as .ci/run does) or set RCM_SKIP_BROWSER=1")
	return ""
}

// Start starts a headless Chromium of the test's own and returns a context
// that drives it; derive timeouts from it. The browser stops when the test
// ends.
func Start(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine's network is closed: without these Chromium keeps
		// trying to reach Google's services.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Do starts the browser and ties it to ctx, which must have
	// no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
