package payersim

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/clearinghouse"
)

// ClaimSuffix marks the outbound files the simulator answers.
const ClaimSuffix = ".837"

// Mailbox answers the claim files of a mailbox as the clearinghouse.
type Mailbox struct {
	// Peer is the mailbox seen from the clearinghouse's side, as
	// clearinghouse.NewDirPeer opens it: List, Get and Archive work on
	// the files rcm sent (<root>/outbound), Put writes where rcm reads
	// (<root>/inbound).
	Peer   clearinghouse.Transport
	Config Config
	Log    *zap.Logger // nil logs nothing
	// Remit, when set, also answers each claim file with <name>.835
	// after the 999 and 277CA, adjudicating only the claims the 277CA
	// accepted (A2); no 835 is written when there are none. Nil writes no
	// 835, as before.
	Remit *Adjudicator
}

// Step answers every claim file waiting in the mailbox: for <name>.837 it
// writes <name>.999 and, when a set was accepted, <name>.277 (and
// <name>.835 with Remit set), then
// archives the claim file so it is answered once. A file that cannot be
// answered at all (see ErrUnreadable) or is too large is archived as
// rejected with the reason. Other files are left alone. Step returns the
// number of claim files answered or set aside; errors for one file do not
// stop the others, and a file whose answer could not be written stays in
// place for the next Step.
//
// If Step stops between writing the answers and archiving, the next Step
// answers the file again with the same bytes (Acknowledge is
// deterministic, and an Adjudicator does not count a file as a duplicate
// of itself), which the receiver's content-hash check treats as already
// handled.
func (m *Mailbox) Step(ctx context.Context) (int, error) {
	if err := m.Config.validate(); err != nil {
		return 0, err
	}
	log := m.Log
	if log == nil {
		log = zap.NewNop()
	}
	files, err := m.Peer.List(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ClaimSuffix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := m.answer(ctx, log, f.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (m *Mailbox) answer(ctx context.Context, log *zap.Logger, name string) error {
	data, err := m.Peer.Get(ctx, name)
	if errors.Is(err, clearinghouse.ErrTooLarge) {
		log.Warn("payersim: claim file too large, set aside", zap.String("file", name))
		return m.Peer.Archive(ctx, name, true, err.Error())
	}
	if err != nil {
		return err
	}
	resp, err := Acknowledge(data, m.Config)
	if errors.Is(err, ErrUnreadable) {
		// The error names segment positions and identifiers, never values.
		log.Warn("payersim: claim file unreadable, set aside", zap.String("file", name), zap.Error(err))
		return m.Peer.Archive(ctx, name, true, err.Error())
	}
	if err != nil {
		return fmt.Errorf("payersim: answer %q: %w", name, err)
	}
	base := strings.TrimSuffix(name, ClaimSuffix)
	if err := m.Peer.Put(ctx, base+".999", resp.Ack999); err != nil {
		return err
	}
	if resp.Ack277 != nil {
		if err := m.Peer.Put(ctx, base+".277", resp.Ack277); err != nil {
			return err
		}
	}
	if m.Remit != nil && resp.ClaimsAccepted > 0 {
		accepted := make(map[string]bool, resp.ClaimsAccepted)
		for _, c := range resp.Claims {
			if c.Accepted {
				accepted[c.ControlNumber] = true
			}
		}
		remit, sum, err := m.Remit.adjudicate(data, func(clm01 string) bool { return accepted[clm01] })
		switch {
		case err != nil:
			// Adjudication does no I/O: trying again would fail the same
			// way, so the file is archived with its 999 and 277CA.
			log.Error("payersim: no 835 for claim file", zap.String("file", name), zap.Error(err))
		case remit != nil:
			if err := m.Peer.Put(ctx, base+".835", remit); err != nil {
				return err
			}
			log.Info("payersim: remitted claim file", zap.String("file", name),
				zap.Int("claims_paid", sum.ClaimsPaid), zap.Int("claims_denied", sum.ClaimsDenied),
				zap.Int("claims_skipped", len(sum.Skipped)), zap.Int64("paid_cents", sum.PaidCents))
		}
	}
	if err := m.Peer.Archive(ctx, name, false, ""); err != nil {
		return err
	}
	log.Info("payersim: answered claim file",
		zap.String("file", name),
		zap.Int("sets", resp.SetsReceived), zap.Int("sets_accepted", resp.SetsAccepted),
		zap.Int("claims_accepted", resp.ClaimsAccepted), zap.Int("claims_rejected", resp.ClaimsRejected),
		zap.Bool("syntax_rejected", resp.Problem != ""))
	return nil
}
