package platform

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Transient reports whether err says an infrastructure dependency was away
// (PostgreSQL restarting or unreachable, NATS reconnecting, a timeout)
// rather than that the message itself cannot be handled. A stage must not
// dead-letter a message for a transient error: the same message succeeds
// once the database is back, so it goes back to JetStream for a later
// delivery instead. Only errors that would recur on every delivery (a
// payload that is not an event, a handler that refuses its data) make a
// message poison.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"), // insufficient resources, too many connections
			pgErr.Code == "57P01",               // admin_shutdown: the server is stopping
			pgErr.Code == "57P02",               // crash_shutdown
			pgErr.Code == "57P03",               // cannot_connect_now: starting up or recovering
			pgErr.Code == "40001",               // serialization_failure
			pgErr.Code == "40P01":               // deadlock_detected
			return true
		}
		return false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
		nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrDisconnected, nats.ErrConnectionReconnecting,
		jetstream.ErrNoStreamResponse} {
		if errors.Is(err, e) {
			return true
		}
	}
	// pgx reports a connection that broke mid-query as "conn closed" and a
	// pool with no connection left as "closed pool", with no type to match.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
