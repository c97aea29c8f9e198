package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestTransient pins which errors keep a message out of the dead-letter
// stream: those of a dependency that was away, however deeply wrapped, but
// never those of the message itself.
func TestTransient(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("write claim: %w", fmt.Errorf("inbox: %w", err)) }
	transient := []error{
		wrap(&pgconn.ConnectError{}),
		wrap(&pgconn.PgError{Code: "57P01"}), // terminating connection due to administrator command
		wrap(&pgconn.PgError{Code: "57P03"}), // the database system is starting up
		wrap(&pgconn.PgError{Code: "08006"}),
		wrap(&pgconn.PgError{Code: "40001"}),
		wrap(context.DeadlineExceeded),
		wrap(io.ErrUnexpectedEOF),
		wrap(syscall.ECONNREFUSED),
		wrap(nats.ErrNoResponders),
		wrap(errors.New("conn closed")),
	}
	for _, err := range transient {
		if !platform.Transient(err) {
			t.Errorf("Transient(%v) = false, want true", err)
		}
	}
	permanent := []error{
		nil,
		wrap(&pgconn.PgError{Code: "23505"}), // unique_violation
		wrap(&pgconn.PgError{Code: "22P02"}), // invalid_text_representation
		wrap(events.ErrUnknownType),
		errors.New("visit.recorded 1: visit_id is empty"),
		context.Canceled, // shutdown, which the router filters by itself
	}
	for _, err := range permanent {
		if platform.Transient(err) {
			t.Errorf("Transient(%v) = true, want false", err)
		}
	}
}
