// Package payersim answers 837P claim files the way a clearinghouse and a
// payer would, for development and demos: a 999 implementation
// acknowledgment per file and a 277CA claim acknowledgment for the
// transaction sets the 999 accepted (BILLING.md §6.3, §6.4), and an 835
// payment/advice that adjudicates the claims the 277CA accepted
// (BILLING.md §6.5, §7; see [Adjudicator] for the rules).
//
// [Acknowledge] is pure: the same file and [Config] give the same bytes, so
// a file answered twice (after a crash between writing the answers and
// archiving the claim file) yields identical answers, which the receiving
// side's content-hash deduplication then drops. [Mailbox] runs it over the
// clearinghouse side of a directory mailbox.
//
// What the simulator checks, and the codes it answers with:
//
// 999, per transaction set (IK5 R = rejected, with IK3/IK4 naming the
// segment and element; AK9 A, P or R for the group):
//
//   - GS01 not HC: every set IK5*R*1, AK905 1 (functional group not supported).
//   - GS08 not 005010X222A1: every set IK5*R*I6, AK905 2 (version not supported).
//   - ST01 not 837: IK5*R*1 (transaction set not supported).
//   - ST02 repeated in the group: IK5*R*23.
//   - ST03 not 005010X222A1: IK3*ST*1**8, IK4*3*1705*7, IK5*R*I6.
//   - BHT not the first segment: IK3*BHT*2**3 (required segment missing), IK5*R*5.
//   - CLM outside a billing provider (HL 20) and subscriber (HL 22/23):
//     IK3*CLM*n*2300*7 (not in proper sequence).
//   - CLM01 missing: IK4*1*1028*1; CLM02 not an amount: IK4*2*782*6 (or 1
//     when missing), under IK3*CLM*n*2300*8.
//   - no CLM at all: IK3*CLM*n*2300*3 with n the SE's position.
//
// A file x12.Parse refuses is rejected whole (AK9*R, nothing accepted) if
// its ISA and at least one GS can be read: the set holding the error gets
// an AK2 with IK5*R and code 2 (no SE: the file was cut), 3 (SE02 does not
// match ST02), 4 (SE01 count wrong) or 5 (a segment in error, with an IK3
// giving its position; IK304 1 for an unreadable segment identifier, 2 for
// an envelope segment inside the set), and the group's AK9 gets AK905 3 (no
// GE), 4 (GE02 does not match GS06) or 5 (GE01 count wrong) when the group
// trailer is at fault. Only the first interchange of such a file is read.
// If the ISA is unreadable, or no GS with GS01 and GS06 can be read, there
// is no group a 999 could refer to: Acknowledge returns an error wrapping
// [ErrUnreadable] and the caller sets the file aside (a real clearinghouse
// would send a TA1, which rcm does not read).
//
// 277CA, per claim of an accepted set (STC01 category:status:entity), in
// this order of precedence:
//
//   - A7:562:85 billing provider NPI missing or failing its check digit.
//   - A3:33:IL subscriber not found: Config.KnownMember said no.
//   - A7:21 missing or invalid information: the Config.RejectRate share,
//     drawn per claim from the seed, the submitter, the interchange control
//     number and CLM01, so a resubmission in a new file gets a new draw.
//   - A2:20 accepted into adjudication otherwise.
//
// Every claim gets REF*1K, a 13-digit payer claim control number from
// [PayerClaimNumber] (seed and CLM01), so that the 835 can be written later
// with the same number without remembering it.
//
// Names and member ids appear only inside the 277CA, echoed as a real
// clearinghouse does; errors and logs carry positions, counts and control
// numbers only.
package payersim

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Versions of the implementation guides involved (BILLING.md §6.1).
const (
	Version837P = "005010X222A1"
	Version999  = "005010X231A1"
	Version277  = "005010X214"
)

// ErrUnreadable is wrapped by the error Acknowledge returns for a file
// whose ISA is unreadable or that has no readable GS, so that no 999 can
// refer to it. The error names segment positions, not values.
var ErrUnreadable = errors.New("payersim: no readable interchange and functional group header")

// Config sets the simulator's choices. The zero value accepts every claim
// from every member and derives control numbers and dates from the file.
type Config struct {
	// Seed makes the answers reproducible: payer claim numbers, the random
	// rejections and derived control numbers depend on it.
	Seed int64
	// RejectRate is the share of otherwise good claims rejected with
	// A7:21, from 0 to 1.
	RejectRate float64
	// KnownMember reports whether the payer (NM1*PR NM109 of the
	// subscriber loop) knows the member id (NM1*IL NM109). Nil knows
	// everyone.
	KnownMember func(payerID, memberID string) bool
	// ControlNumber is ISA13 and GS06 of the 999; the 277CA uses the next
	// number. Zero derives both from the seed and the 837's sender and
	// ISA13, so a restarted simulator does not reuse numbers (barring a
	// one-in-a-billion collision). At most 999999998.
	ControlNumber int
	// Now is the answers' creation time. Zero uses the 837's own GS04/GS05
	// (or ISA09/ISA10), keeping the answer a function of the file.
	Now time.Time
}

func (c *Config) validate() error {
	if math.IsNaN(c.RejectRate) || c.RejectRate < 0 || c.RejectRate > 1 {
		return fmt.Errorf("payersim: RejectRate must be between 0 and 1")
	}
	if c.ControlNumber < 0 || c.ControlNumber > 999999998 {
		return fmt.Errorf("payersim: ControlNumber must be 0–999999998, got %d", c.ControlNumber)
	}
	return nil
}

// Response holds the answers to one 837P file.
type Response struct {
	Ack999 []byte // always present when Acknowledge succeeds
	Ack277 []byte // nil when the 999 accepted no transaction set
	Summary
}

// Summary describes the answers without any patient data.
type Summary struct {
	Groups       int // functional groups acknowledged (999 transaction sets)
	SetsReceived int // transaction sets found
	SetsAccepted int // transaction sets the 999 accepted
	// Problem is the parse error of a file rejected as unreadable at the
	// syntax level, naming the segment position; "" otherwise.
	Problem string

	Claims         []ClaimResult // claims of the accepted sets, in file order
	ClaimsAccepted int
	ClaimsRejected int
	AcceptedCents  int64
	RejectedCents  int64
}

// ClaimResult is the 277CA answer for one claim.
type ClaimResult struct {
	ControlNumber    string // CLM01, our patient control number
	Status           string // STC01, e.g. "A2:20" or "A7:562:85"
	Accepted         bool
	PayerClaimNumber string // REF*1K
	ChargeCents      int64  // CLM02
}

// PayerClaimNumber returns the 13-digit payer claim control number the
// simulator gives the claim with patient control number clm01. It depends
// only on the seed and CLM01 so that the 277CA and, later, the 835 agree.
// A replacement claim sent with the same CLM01 therefore gets the same
// number, where a real payer would assign a new one.
func PayerClaimNumber(seed int64, clm01 string) string {
	n := draw(seed, "icn", clm01) % 1e13
	s := strconv.FormatUint(n, 10)
	for len(s) < 13 {
		s = "0" + s
	}
	return s
}

// draw hashes the seed with a purpose tag and parts. Hashing (rather than
// one random stream) makes each claim's outcome independent of the other
// claims in the file and of their order.
func draw(seed int64, tag string, parts ...string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(tag))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

// unit maps a draw to [0, 1).
func unit(n uint64) float64 { return float64(n>>11) / (1 << 53) }

// validNPI checks an NPI's Luhn check digit, computed over the card-issuer
// prefix 80840 and the first nine digits (CMS NPI check digit rules).
func validNPI(npi string) bool {
	if len(npi) != 10 {
		return false
	}
	for i := 0; i < len(npi); i++ {
		if npi[i] < '0' || npi[i] > '9' {
			return false
		}
	}
	s := "80840" + npi
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
