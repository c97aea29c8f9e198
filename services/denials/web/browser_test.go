package web

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rcm-health/rcm/internal/browsertest"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// shot saves a screenshot when RCM_WEB_SCREENSHOTS names a directory, for
// a person to look at the pages.
func shot(name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("RCM_WEB_SCREENSHOTS")
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if dir == "" {
			return chromedp.Void{}, nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// TestBrowserCorrectedClaim works a denial in a real browser: log in
// through the form, filter the queue by category, open the claim's
// timeline and request a corrected claim with a changed modifier.
func TestBrowserCorrectedClaim(t *testing.T) {
	t.Parallel()
	bctx := browsertest.Start(t)
	f := newFixture(t)
	item := f.itemOf("c1")
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	type css = chromedp.CSS

	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.WaitVisible(css(`#login`)),
		chromedp.SendKeys(css(`#username`), biller),
		chromedp.SendKeys(css(`#password`), password),
		shot("1-login"),
		chromedp.Submit(css(`#login`)),
		chromedp.WaitVisible(css(`#filters`)),
		shot("2-queue"),
		chromedp.SetValue(css(`#f-category`), "bundling"),
		chromedp.Click(css(`#f-apply`)),
		// The server marks the chosen option: the filtered page has come.
		chromedp.WaitReady(css(`#f-category option[value="bundling"][selected]`)),
		shot("3-filtered"),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#queue tbody tr')).map(r => r.dataset.category)`))
	if err != nil {
		t.Fatal(err)
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, []string{"bundling"}) || !strings.Contains(url, "category=bundling") {
		t.Errorf("filtered queue: rows %v at %s; want the one bundling denial", rows, url)
	}

	form := `#correct-` + item
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#queue tbody tr a`)),
		chromedp.WaitVisible(css(`#timeline`)),
		chromedp.Click(css(`#correct-box-`+item+` summary`)),
		chromedp.WaitVisible(css(form+` textarea[name="note"]`)),
		chromedp.SendKeys(css(form+` textarea[name="note"]`), "separate session: add 59"),
		chromedp.SetValue(css(form+` input[name="mods_2"]`), "GO 59"),
		shot("4-claim"),
	)
	if err != nil {
		t.Fatal(err)
	}
	timeline, err := chromedp.Run(ctx, chromedp.Text(css(`#timeline`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(timeline, "Submitted (837P)") || !strings.Contains(timeline, "Remittance (835)") {
		t.Errorf("timeline %q", timeline)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`#correct-submit-`+item)),
		chromedp.WaitVisible(css(`#flash`)),
		shot("5-corrected"),
	)
	if err != nil {
		t.Fatal(err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(css(`#flash`)))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(css(`#item-status-`+item)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "Corrected claim requested") || status != "corrected" {
		t.Errorf("after the correction: flash %q, status %q", flash, status)
	}
	if st := f.itemStatus(item); st != events.DenialCorrected {
		t.Errorf("work item %s; want corrected", st)
	}
	var got *events.ClaimCorrectionRequested
	for _, e := range ptest.Events(t, f.deps.JS, events.StreamDenials, 1, 10*time.Second) {
		if e.Type == events.TypeClaimCorrectionRequested {
			got = new(events.ClaimCorrectionRequested)
			if err := e.DecodeData(got); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got == nil || got.ClaimID != "c1" || got.RequestedBy != biller || len(got.Lines) != 1 || got.Lines[0].Line != 2 ||
		!slices.Equal(got.Lines[0].Modifiers, []string{"GO", "59"}) {
		t.Errorf("claim.correction_requested in JetStream: %+v; want c1 line 2 with GO 59", got)
	}
}
