package denials

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// Schema is the denials service's own Postgres schema.
const Schema = "denials"

// Consumers of the denials service: the submitter's claims and the
// coder's codings (for the timeline).
const (
	ConsumerClaims = "denials"
	ConsumerCoded  = "denials-coded"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema's migrations, embedded in the binary.
func Migrations() fs.FS { return platform.MustSub(migrationFiles, "migrations") }

// ClaimsConsumer reads every claim event of the submitter.
func ClaimsConsumer() platform.ConsumerSpec {
	return platform.ConsumerSpec{Stream: events.StreamSubmitter, Durable: ConsumerClaims, AckWait: 30 * time.Second}
}

// CodedConsumer reads the coder's visit.coded.
func CodedConsumer() platform.ConsumerSpec {
	return platform.ConsumerSpec{Stream: events.StreamCoder, Durable: ConsumerCoded, Subjects: []string{events.SubjectVisitCoded}, AckWait: 30 * time.Second}
}

// MaxRemitBytes bounds an 835 posted over HTTP; mailbox files have their
// own limit.
const MaxRemitBytes = 64 << 20

// Config is what the denials service needs beyond its dependencies.
type Config struct {
	Rules *billing.Rules
	// OpsAddr serves /metrics, /healthz and /readyz; empty serves nothing.
	OpsAddr string
	// HTTPAddr serves the web UI and POST /v1/remittances; empty serves
	// nothing.
	HTTPAddr string
	// Web, when set, serves the biller UI under /; it gets the store.
	Web func(*Store) (http.Handler, error)
	// Verifier and Sources authenticate POST /v1/remittances like EMR
	// webhooks (Standard Webhooks); nil refuses every post.
	Verifier *webhook.Verifier
	Sources  []string
	// Mailbox is polled for .835 files; nil polls nothing.
	Mailbox      clearinghouse.Transport
	PollInterval time.Duration
	Concurrency  int
	Ready        func()
	// Listening, when set, is told the UI's address once it listens.
	Listening func(addr string)
}

// Run migrates the schema, keeps the claim ledger from upstream events,
// posts remittances from the mailbox and over HTTP, and serves the UI until
// ctx ends.
func Run(ctx context.Context, cfg Config, d platform.Deps) error {
	if cfg.Rules == nil {
		return errors.New("denials: no rules")
	}
	log := d.Log.With(zap.String("service", "denials"), zap.String("rules_version", cfg.Rules.Version))
	stage := platform.Stage{
		Service: "denials", Schema: Schema, Migrations: Migrations(),
		Inputs: []platform.Input{
			{Consumer: ClaimsConsumer(), Handler: Ledger{}.Handle},
			{Consumer: CodedConsumer(), Handler: Ledger{}.Handle},
		},
		OpsAddr: cfg.OpsAddr, Concurrency: cfg.Concurrency, Ready: cfg.Ready,
	}
	stage.Background = func(ctx context.Context, outbox *platform.Outbox) error {
		store := &Store{Pool: d.Pool, Outbox: outbox, Rules: cfg.Rules}
		var wg sync.WaitGroup
		errc := make(chan error, 2)
		if cfg.Mailbox != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errc <- store.PollMailbox(ctx, cfg.Mailbox, cfg.PollInterval, log.With(zap.String("component", "remits")))
			}()
		}
		if cfg.HTTPAddr != "" {
			mux := http.NewServeMux()
			mux.Handle("POST /v1/remittances", &RemitHandler{Store: store, Verifier: cfg.Verifier, Sources: cfg.Sources, Log: log})
			if cfg.Web != nil {
				ui, err := cfg.Web(store)
				if err != nil {
					return fmt.Errorf("denials: web UI: %w", err)
				}
				mux.Handle("/", ui)
			}
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("denials: listen: %w", err)
			}
			log.Info("web serving", zap.String("addr", ln.Addr().String()))
			if cfg.Listening != nil {
				cfg.Listening(ln.Addr().String())
			}
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			wg.Add(1)
			go func() { defer wg.Done(); errc <- platform.Serve(ctx, srv, ln, 5*time.Second) }()
		}
		wg.Wait()
		close(errc)
		var errs []error
		for err := range errc {
			if err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return platform.RunStage(ctx, stage, d)
}

// seenFiles keys mailbox files by content in remit_files, which Import
// writes; Mark is a no-op for that reason.
type seenFiles struct{ s *Store }

func (f seenFiles) Has(ctx context.Context, sum string) (bool, error) {
	var ok bool
	err := f.s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM denials.remit_files WHERE sha256 = $1)`, sum).Scan(&ok)
	return ok, err
}

func (f seenFiles) Mark(ctx context.Context, sum, name string) (bool, error) { return true, nil }

// PollMailbox posts the .835 files that reach the mailbox, every interval,
// until ctx ends. A file that is not a readable 835 is set aside as
// rejected with the reason; it posts nothing. A file naming claims the
// ledger does not know yet waits up to UnknownClaimsWait, then posts with
// those claims in the exceptions queue.
func (s *Store) PollMailbox(ctx context.Context, mb clearinghouse.Transport, every time.Duration, log *zap.Logger) error {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	remits := clearinghouse.WithSuffixes(mb, ".835")
	waiting := map[string]time.Time{} // file name → first refused
	for {
		var n int
		// Replicas take turns: one reads the mailbox at a time.
		_, err := platform.OnlyOne(ctx, s.Pool, "denials.remits", func(ctx context.Context) error {
			var err error
			n, err = clearinghouse.Poll(ctx, remits, seenFiles{s}, s.mailboxFile(waiting, log))
			return err
		})
		if err != nil && ctx.Err() == nil && !onlyWaiting(err) {
			log.Warn("poll mailbox", zap.Error(err))
		}
		if n > 0 {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// mailboxFile posts one mailbox 835, or leaves it waiting for its claims.
func (s *Store) mailboxFile(waiting map[string]time.Time, log *zap.Logger) func(context.Context, clearinghouse.File, []byte) error {
	return func(ctx context.Context, f clearinghouse.File, data []byte) error {
		importFn := s.ImportWhenKnown
		if first, ok := waiting[f.Name]; ok && time.Since(first) > UnknownClaimsWait {
			importFn = s.Import
		}
		res, err := importFn(ctx, data, f.Name, SourceMailbox)
		switch {
		case errors.Is(err, ErrUnknownClaims):
			if _, ok := waiting[f.Name]; !ok {
				waiting[f.Name] = time.Now()
				log.Info("remittance waits for its claims", zap.String("file", f.Name), zap.Error(err))
			}
			return errWaiting
		case errors.Is(err, ErrMalformed):
			return clearinghouse.Rejectf("%v", err)
		case err == nil:
			delete(waiting, f.Name)
			log.Info("remittance posted", zap.String("file", f.Name), zap.String("file_id", res.FileID), zap.Int("sets", res.Posted),
				zap.Int("claims", res.Claims), zap.Int("unmatched", res.Unmatched), zap.Int("denials", res.Denials))
		}
		return err
	}
}

// UnknownClaimsWait is how long a mailbox 835 naming unknown claims waits
// for their claim.submitted before it is posted with them as exceptions.
var UnknownClaimsWait = 2 * time.Minute

// errWaiting leaves a file in the mailbox for the next poll.
var errWaiting = errors.New("waiting for claims")

// onlyWaiting reports whether every error Poll joined is errWaiting.
func onlyWaiting(err error) bool {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return errors.Is(err, errWaiting)
	}
	for _, e := range j.Unwrap() {
		if !errors.Is(e, errWaiting) {
			return false
		}
	}
	return true
}

// RemitHandler is POST /v1/remittances: an 835 in the body, signed like an
// EMR webhook. 200 with the import result; a repeat of a posted file is 200
// with duplicate true; a malformed file is 422 naming the segment and
// element.
type RemitHandler struct {
	Store    *Store
	Verifier *webhook.Verifier
	Sources  []string
	Log      *zap.Logger
}

func (h *RemitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRemitBytes))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return
	}
	if h.Verifier == nil || len(h.Sources) == 0 {
		httpError(w, http.StatusUnauthorized, "no signing secret is configured for remittances")
		return
	}
	if _, err := h.Verifier.VerifyAny(h.Sources, r.Header, body); err != nil {
		httpError(w, http.StatusUnauthorized, "signature: "+err.Error())
		return
	}
	name := r.Header.Get(webhook.HeaderID)
	res, err := h.Store.Import(r.Context(), body, name, SourceHTTP)
	switch {
	case errors.Is(err, ErrMalformed):
		httpError(w, http.StatusUnprocessableEntity, err.Error())
		return
	case err != nil:
		h.Log.Error("post remittance", zap.Error(err))
		httpError(w, http.StatusInternalServerError, "could not post the remittance; send it again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
