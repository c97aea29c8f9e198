package events

import "fmt"

// Decode returns e's data as a pointer to its type's Go value (*VisitCoded
// for visit.coded.v1, and so on), for code that handles every event type,
// such as a dead-letter viewer or an audit export. A consumer of one type
// calls DecodeData with that type and needs no switch.
func Decode(e Envelope) (any, error) {
	var v any
	switch e.Type {
	case TypeVisitRecorded:
		v = new(VisitRecorded)
	case TypeVisitCoded:
		v = new(VisitCoded)
	case TypeClaimScrubbed:
		v = new(ClaimScrubbed)
	case TypeClaimSubmitted:
		v = new(ClaimSubmitted)
	case TypeClaimAcknowledged:
		v = new(ClaimAcknowledged)
	case TypeRemitReceived:
		v = new(RemitReceived)
	case TypeClaimReconciled:
		v = new(ClaimReconciled)
	case TypeDenialOpened:
		v = new(DenialOpened)
	case TypeDenialUpdated:
		v = new(DenialUpdated)
	case TypeClaimCorrectionRequested:
		v = new(ClaimCorrectionRequested)
	default:
		return nil, fmt.Errorf("decode %q: %w", e.Type, ErrUnknownType)
	}
	if err := e.DecodeData(v); err != nil {
		return nil, err
	}
	return v, nil
}
