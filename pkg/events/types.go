package events

// Event types. The version is part of the name: a breaking change is a new
// type (…v2) published beside the old one, never a changed meaning.
const (
	TypeVisitRecorded            = "visit.recorded.v1"
	TypeVisitCoded               = "visit.coded.v1"
	TypeClaimScrubbed            = "claim.scrubbed.v1"
	TypeClaimSubmitted           = "claim.submitted.v1"
	TypeClaimAcknowledged        = "claim.acknowledged.v1"
	TypeRemitReceived            = "remit.received.v1"
	TypeClaimReconciled          = "claim.reconciled.v1"
	TypeDenialOpened             = "denial.opened.v1"
	TypeDenialUpdated            = "denial.updated.v1"
	TypeClaimCorrectionRequested = "claim.correction_requested.v1"
)

// Subjects on which each event type is published.
const (
	SubjectVisitRecorded            = "rcm.visit.recorded"
	SubjectVisitCoded               = "rcm.visit.coded"
	SubjectClaimScrubbed            = "rcm.claim.scrubbed"
	SubjectClaimSubmitted           = "rcm.claim.submitted"
	SubjectClaimAcknowledged        = "rcm.claim.acknowledged"
	SubjectRemitReceived            = "rcm.remit.received"
	SubjectClaimReconciled          = "rcm.claim.reconciled"
	SubjectDenialOpened             = "rcm.denial.opened"
	SubjectDenialUpdated            = "rcm.denial.updated"
	SubjectClaimCorrectionRequested = "rcm.claim.correction_requested"

	// SubjectDeadLetterPrefix is followed by the consuming service's name.
	SubjectDeadLetterPrefix = "rcm.dlq."
)

// Stream names, one per producing service, plus the dead-letter stream.
const (
	StreamIntake     = "INTAKE"
	StreamCoder      = "CODER"
	StreamSubmitter  = "SUBMITTER"
	StreamDenials    = "DENIALS"
	StreamDeadLetter = "DEADLETTER"
)

// Stream describes a JetStream stream. It is plain data so that this package
// stays free of a NATS dependency; internal/platform turns it into a
// jetstream.StreamConfig with the deployment's retention and replicas.
type Stream struct {
	Name        string
	Description string
	Subjects    []string
}

// Streams lists every stream the pipeline uses.
var Streams = []Stream{
	{Name: StreamIntake, Description: "visits received from EMRs", Subjects: []string{SubjectVisitRecorded}},
	{Name: StreamCoder, Description: "coded visits", Subjects: []string{SubjectVisitCoded}},
	{Name: StreamSubmitter, Description: "claims scrubbed, submitted and acknowledged", Subjects: []string{
		SubjectClaimScrubbed, SubjectClaimSubmitted, SubjectClaimAcknowledged}},
	{Name: StreamDenials, Description: "remittances, reconciliations, denials and correction requests", Subjects: []string{
		SubjectRemitReceived, SubjectClaimReconciled, SubjectDenialOpened, SubjectDenialUpdated, SubjectClaimCorrectionRequested}},
	{Name: StreamDeadLetter, Description: "messages a stage gave up on, kept for rcm dlq", Subjects: []string{SubjectDeadLetterPrefix + ">"}},
}

type info struct {
	subject string
	stream  string
}

var typeInfo = map[string]info{
	TypeVisitRecorded:            {SubjectVisitRecorded, StreamIntake},
	TypeVisitCoded:               {SubjectVisitCoded, StreamCoder},
	TypeClaimScrubbed:            {SubjectClaimScrubbed, StreamSubmitter},
	TypeClaimSubmitted:           {SubjectClaimSubmitted, StreamSubmitter},
	TypeClaimAcknowledged:        {SubjectClaimAcknowledged, StreamSubmitter},
	TypeRemitReceived:            {SubjectRemitReceived, StreamDenials},
	TypeClaimReconciled:          {SubjectClaimReconciled, StreamDenials},
	TypeDenialOpened:             {SubjectDenialOpened, StreamDenials},
	TypeDenialUpdated:            {SubjectDenialUpdated, StreamDenials},
	TypeClaimCorrectionRequested: {SubjectClaimCorrectionRequested, StreamDenials},
}

// SubjectOf returns the subject an event type is published on.
func SubjectOf(typ string) (string, bool) {
	i, ok := typeInfo[typ]
	return i.subject, ok
}

// StreamOf returns the stream that holds an event type.
func StreamOf(typ string) (string, bool) {
	i, ok := typeInfo[typ]
	return i.stream, ok
}

// Types lists every known event type.
func Types() []string {
	out := make([]string, 0, len(typeInfo))
	for t := range typeInfo {
		out = append(out, t)
	}
	return out
}
