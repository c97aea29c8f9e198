// Package webhook signs and verifies HTTP requests as the Standard Webhooks
// specification (https://www.standardwebhooks.com) defines them.
//
// Intake uses Verifier on the raw body of every POST before it parses
// anything; EMR-side senders, rcm demo and the load generator use Sign or
// SignRequest, so both ends share one definition of the signed content.
//
// A signature is HMAC-SHA256, keyed with the base64-decoded part of a
// "whsec_" secret, over "<webhook-id>.<webhook-timestamp>.<body>", sent as
// "v1,<base64>" in the webhook-signature header. The header may carry several
// space-separated signatures so a sender can sign with an old and a new secret
// while the receiver rotates.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may lie from the receiver's
// clock, either way, when Verifier.Tolerance is zero. The specification
// recommends five minutes: long enough for clock skew and retries in flight,
// short enough that a captured request cannot be replayed for long.
const DefaultTolerance = 5 * time.Minute

const (
	secretPrefix     = "whsec_"
	signatureVersion = "v1"
)

// strictBase64 refuses encodings with stray bits in the last character, so
// each signature has exactly one accepted spelling: what Sign writes.
var strictBase64 = base64.StdEncoding.Strict()

// Errors returned by Verify and ParseSecret; test for them with errors.Is.
// The errors Verify returns wrap one of these with detail that never
// includes the body or a secret, so they are safe to log and to return to
// the client.
var (
	ErrMissingHeaders      = errors.New("webhook: missing header")
	ErrInvalidTimestamp    = errors.New("webhook: invalid timestamp")
	ErrTimestampTooOld     = errors.New("webhook: timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook: timestamp too new")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	ErrUnknownSource       = errors.New("webhook: unknown source")
	ErrInvalidSecret       = errors.New("webhook: invalid secret")
)

// Secret is an HMAC key shared with one sender. Its String method hides the
// key so that a Secret printed by accident (in a log line, a %v of a config
// struct) does not leak it.
type Secret struct {
	key []byte
}

// ParseSecret parses a "whsec_<base64>" secret as configuration holds it.
// The prefix is required: a value without it is more likely a mistake (a
// truncated paste, the wrong variable) than a raw key.
func ParseSecret(s string) (Secret, error) {
	// Secrets read from files and env files often end in a newline.
	encoded, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return Secret{}, fmt.Errorf("%w: want prefix %q", ErrInvalidSecret, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// The decoder's error quotes an offset, not the input, but the
		// input is the secret itself: say only what is wrong.
		return Secret{}, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalidSecret, secretPrefix)
	}
	if len(key) == 0 {
		return Secret{}, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return Secret{key: key}, nil
}

// String returns a redacted form; see Secret.
func (s Secret) String() string {
	if len(s.key) == 0 {
		return secretPrefix + "<empty>"
	}
	return secretPrefix + "<redacted>"
}

// GoString keeps %#v redacted as well.
func (s Secret) GoString() string { return "webhook.Secret{" + s.String() + "}" }

// Sign returns the "v1,<base64>" signature of body sent as message msgID at ts.
// ts is truncated to whole seconds, as the webhook-timestamp header carries it.
func Sign(secret Secret, msgID string, ts time.Time, body []byte) string {
	sum := mac(secret.key, msgID, ts.Unix(), body)
	out := make([]byte, 0, len(signatureVersion)+1+base64.StdEncoding.EncodedLen(len(sum)))
	out = append(out, signatureVersion...)
	out = append(out, ',')
	out = base64.StdEncoding.AppendEncode(out, sum)
	return string(out)
}

// SignRequest sets the three Standard Webhooks headers on req. body must be
// exactly the bytes req will send; SignRequest does not touch req.Body.
func SignRequest(req *http.Request, secret Secret, msgID string, ts time.Time, body []byte) {
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, msgID, ts, body))
}

// mac feeds the three parts of the signed content to the HMAC one after the
// other instead of joining them, so a large body is never copied.
func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	var buf [24]byte
	h.Write([]byte(msgID))
	h.Write(strconv.AppendInt(append(buf[:0], '.'), unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(make([]byte, 0, sha256.Size))
}

// Verifier checks signed requests from several sources. It is safe for
// concurrent use as long as Secrets is not modified.
type Verifier struct {
	// Secrets holds each source's secrets. A signature made with any of a
	// source's secrets is accepted, so that a new secret can be added, handed
	// to the sender, and the old one removed later without downtime.
	Secrets map[string][]Secret
	// Tolerance is how far the webhook-timestamp may lie from Now, in either
	// direction. Zero or negative means DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Verify checks that body, with headers, was signed for source by one of the
// source's secrets, within the tolerance. Call it on the raw body before
// parsing it. A nil error means authentic and fresh; replays inside the
// tolerance window are for the caller to catch, by keeping webhook-id as an
// idempotency key for longer than the tolerance.
func (v *Verifier) Verify(source string, headers http.Header, body []byte) error {
	secrets := v.Secrets[source]
	if len(secrets) == 0 {
		// The source is not quoted back: intake may have read it from the
		// unauthenticated body, and errors must carry nothing from there.
		return ErrUnknownSource
	}

	msgID := headers.Get(HeaderID)
	tsHeader := headers.Get(HeaderTimestamp)
	sigHeaders := headers.Values(HeaderSignature)
	var missing []string
	if msgID == "" {
		missing = append(missing, HeaderID)
	}
	if tsHeader == "" {
		missing = append(missing, HeaderTimestamp)
	}
	if strings.TrimSpace(strings.Join(sigHeaders, "")) == "" {
		missing = append(missing, HeaderSignature)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	unix, err := parseUnix(tsHeader)
	if err != nil {
		return err
	}
	if err := v.checkTime(unix); err != nil {
		return err
	}

	var want [][]byte
	for _, s := range secrets {
		want = append(want, mac(s.key, msgID, unix, body))
	}
	var sawV1 bool
	// Room for a padded SHA-256 in base64 (44 characters decode to at most
	// 33 bytes); longer entries cannot match and are skipped undecoded.
	var got [sha256.Size + 3]byte
	for _, h := range sigHeaders {
		for _, entry := range strings.Fields(h) {
			version, encoded, ok := strings.Cut(entry, ",")
			// Other versions (v1a, future schemes) are skipped rather than
			// refused, as the specification asks, so a sender can add a new
			// scheme before every receiver knows it.
			if !ok || version != signatureVersion {
				continue
			}
			sawV1 = true
			if strictBase64.DecodedLen(len(encoded)) > len(got) {
				continue
			}
			n, err := strictBase64.Decode(got[:], []byte(encoded))
			if err != nil || n != sha256.Size {
				continue
			}
			for _, w := range want {
				if hmac.Equal(got[:n], w) {
					return nil
				}
			}
		}
	}
	if !sawV1 {
		return fmt.Errorf("%w: no %s signature in %s", ErrNoMatchingSignature, signatureVersion, HeaderSignature)
	}
	return fmt.Errorf("%w: none of the %s signatures matches a secret of the source", ErrNoMatchingSignature, signatureVersion)
}

// VerifyAny finds the source among sources whose secret signed body, for
// senders that do not name their source in a header: a handful of sources
// costs a handful of HMACs. An error other than a signature mismatch (a
// stale timestamp, a missing header) is final; with no source matching it
// returns the first mismatch.
func (v *Verifier) VerifyAny(sources []string, headers http.Header, body []byte) (string, error) {
	firstErr := ErrUnknownSource
	for i, s := range sources {
		err := v.Verify(s, headers, body)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, ErrNoMatchingSignature) {
			return "", err
		}
		if i == 0 {
			firstErr = err
		}
	}
	return "", firstErr
}

// parseUnix accepts only plain decimal seconds: strconv alone would also take
// a sign, which no conforming sender writes.
func parseUnix(s string) (int64, error) {
	// 19 digits hold any int64 and keep a hostile header from being parsed
	// at length.
	if len(s) > 19 {
		return 0, fmt.Errorf("%w: %s has %d characters", ErrInvalidTimestamp, HeaderTimestamp, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %s is not unix seconds", ErrInvalidTimestamp, HeaderTimestamp)
		}
	}
	unix, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s out of range", ErrInvalidTimestamp, HeaderTimestamp)
	}
	return unix, nil
}

func (v *Verifier) checkTime(unix int64) error {
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now()
	// Whole seconds first: time.Unix overflows for timestamps centuries
	// away, which a client may send. The precise comparison below then
	// only sees values near now.
	slack := int64(tolerance/time.Second) + 1
	tooOld := unix < n.Unix()-slack
	tooNew := unix > n.Unix()+slack
	if !tooOld && !tooNew {
		age := n.Sub(time.Unix(unix, 0))
		tooOld = age > tolerance
		tooNew = age < -tolerance
	}
	switch {
	case tooOld:
		return fmt.Errorf("%w: %s %d is more than %s before the receiver's clock (%d)", ErrTimestampTooOld, HeaderTimestamp, unix, tolerance, n.Unix())
	case tooNew:
		return fmt.Errorf("%w: %s %d is more than %s after the receiver's clock (%d)", ErrTimestampTooNew, HeaderTimestamp, unix, tolerance, n.Unix())
	}
	return nil
}
