package platform

import (
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log fields are filtered by key: a value is written only when its key is on
// the allowlist, so a developer who logs a patient name under a new key gets
// "[redacted]" in the output rather than PHI. Reflection-encoded values are
// always redacted, whatever their key, because zap.Any on a struct would
// serialise every field of it.
var (
	allowMu   sync.RWMutex
	allowKeys = map[string]bool{
		"error": true, "service": true, "component": true, "stage": true,
		"event_id": true, "event_type": true, "visit_id": true, "claim_id": true,
		"correlation_id": true, "causation_id": true, "message_uuid": true,
		"source": true, "source_visit_id": true, "revision": true, "change": true,
		"subject": true, "stream": true, "consumer": true, "seq": true, "attempt": true,
		"status": true, "code": true, "count": true, "duration": true, "elapsed": true,
		"addr": true, "url": true, "path": true, "method": true, "dir": true,
		"version": true, "schema": true, "migration": true, "rows": true, "batch": true,
		"handler_name": true, "topic": true, "retry_no": true, "max_retries": true,
		"wait_time": true, "pending": true, "webhook_id": true, "remote_addr": true,
		"bytes": true, "problems": true, "rules_version": true, "pid": true,
		"data_dir": true, "signal": true, "reason": true, "uuid": true, "provider": true,
	}
)

// AllowLogKeys adds keys whose values may be logged. Call it from init for a
// key that by construction never holds PHI.
func AllowLogKeys(keys ...string) {
	allowMu.Lock()
	defer allowMu.Unlock()
	for _, k := range keys {
		allowKeys[k] = true
	}
}

func keyAllowed(k string) bool {
	allowMu.RLock()
	defer allowMu.RUnlock()
	return allowKeys[k]
}

const redacted = "[redacted]"

// phiSafeCore filters fields before they reach the encoder.
type phiSafeCore struct{ zapcore.Core }

func (c phiSafeCore) With(fields []zapcore.Field) zapcore.Core {
	return phiSafeCore{c.Core.With(filterFields(fields))}
}

func (c phiSafeCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c phiSafeCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.Core.Write(e, filterFields(fields))
}

func filterFields(fields []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fields))
	for i, f := range fields {
		out[i] = safeField(f)
	}
	return out
}

func safeField(f zapcore.Field) zapcore.Field {
	switch f.Type {
	case zapcore.ReflectType:
		return zap.String(f.Key, redacted)
	case zapcore.NamespaceType, zapcore.SkipType:
		return f
	}
	if !keyAllowed(f.Key) {
		return zap.String(f.Key, redacted)
	}
	return f
}

// NewLogger returns a JSON (or, with console, human-readable) logger at the
// given level whose fields pass the PHI filter.
func NewLogger(level string, console bool) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	if console {
		enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return NewLoggerWithCore(zapcore.NewCore(encoder, zapcore.Lock(os.Stderr), lvl)), nil
}

// NewLoggerWithCore wraps core in the PHI filter; tests use it with an
// observer core.
func NewLoggerWithCore(core zapcore.Core) *zap.Logger {
	return zap.New(phiSafeCore{core}, zap.AddCaller())
}
