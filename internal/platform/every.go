package platform

import (
	"context"
	"time"
)

// Every runs step at once and then every interval until ctx ends. A step
// that takes longer than the interval is followed by the next at once, so a
// poller that falls behind catches up without piling steps up.
func Every(ctx context.Context, interval time.Duration, step func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		step()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
