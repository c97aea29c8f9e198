package events

// Changes a visit.recorded event can announce.
const (
	ChangeNew       = "new"
	ChangeAmendment = "amendment"
	ChangeVoid      = "void"
)

// VisitRecorded is the data of visit.recorded.v1: a visit intake accepted.
// The envelope's Subject and CorrelationID are VisitID.
type VisitRecorded struct {
	// VisitID is rcm's id for the visit, stable across revisions.
	VisitID string `json:"visit_id"`
	// Revision is the EMR's revision of the visit.
	Revision int `json:"revision"`
	// Change says whether this is the first revision, an amendment of an
	// earlier one, or a void.
	Change string `json:"change"`
	// Supersedes is the event id of the revision this one replaces, for an
	// amendment or a void.
	Supersedes string `json:"supersedes,omitempty"`
	// WebhookID is the webhook-id the EMR sent, for tracing a delivery.
	WebhookID  string `json:"webhook_id,omitempty"`
	ReceivedAt string `json:"received_at"`
	Visit      Visit  `json:"visit"`
}
