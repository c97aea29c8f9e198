package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vector published with the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix      = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(vectorUnix, 0)

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	secret, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return secret
}

func headersFor(msgID string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

func vectorVerifier(t testing.TB) *Verifier {
	return &Verifier{
		Secrets: map[string][]Secret{"acme": {mustSecret(t, vectorSecret)}},
		Now:     func() time.Time { return vectorTime },
	}
}

func TestSignStandardVector(t *testing.T) {
	t.Parallel()
	got := Sign(mustSecret(t, vectorSecret), vectorMsgID, vectorTime, []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("Sign = %q, want %q", got, vectorSignature)
	}
	// Sub-second parts are not part of the header, so not of the signature.
	got = Sign(mustSecret(t, vectorSecret), vectorMsgID, vectorTime.Add(999*time.Millisecond), []byte(vectorBody))
	if got != vectorSignature {
		t.Fatalf("Sign with fractional second = %q, want %q", got, vectorSignature)
	}
}

func TestVerifyStandardVector(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set(HeaderID, vectorMsgID)
	h.Set(HeaderTimestamp, strconv.Itoa(vectorUnix))
	h.Set(HeaderSignature, vectorSignature)
	if err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"vector", vectorSecret, true},
		{"trailing newline", vectorSecret + "\n", true},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"wrong prefix", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"not base64", "whsec_not*base64!", false},
		{"url alphabet", "whsec_-_-_", false},
		{"empty key", "whsec_", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSecret(tc.in)
			if tc.ok && err != nil {
				t.Fatalf("ParseSecret(%q): %v", tc.in, err)
			}
			if !tc.ok {
				if !errors.Is(err, ErrInvalidSecret) {
					t.Fatalf("ParseSecret(%q) = %v, want ErrInvalidSecret", tc.in, err)
				}
				if enc, _ := strings.CutPrefix(tc.in, "whsec_"); enc != "" && strings.Contains(err.Error(), enc) {
					t.Fatalf("error %q repeats the secret", err)
				}
			}
		})
	}
}

func TestSecretIsRedactedWhenPrinted(t *testing.T) {
	t.Parallel()
	s := mustSecret(t, vectorSecret)
	cfg := struct{ Secrets []Secret }{[]Secret{s}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, cfg)
		if strings.Contains(out, "MfKQ9r8") || strings.Contains(out, fmt.Sprint(s.key[0])+" ") {
			t.Errorf("%s printed the key: %s", format, out)
		}
	}
}

func TestVerifyRotation(t *testing.T) {
	t.Parallel()
	old := mustSecret(t, vectorSecret)
	next := mustSecret(t, "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24tdGVzdHM=")
	stranger := mustSecret(t, "whsec_c29tZWJvZHktZWxzZXMtc2VjcmV0LWtleS0xMjM0")
	v := &Verifier{
		Secrets: map[string][]Secret{"acme": {old, next}},
		Now:     func() time.Time { return vectorTime },
	}
	body := []byte(vectorBody)
	for _, tc := range []struct {
		name   string
		secret Secret
		want   error
	}{
		{"first secret", old, nil},
		{"second secret", next, nil},
		{"unknown secret", stranger, ErrNoMatchingSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := headersFor(vectorMsgID, vectorTime, Sign(tc.secret, vectorMsgID, vectorTime, body))
			if err := v.Verify("acme", h, body); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifySignatureHeader(t *testing.T) {
	t.Parallel()
	other := Sign(mustSecret(t, "whsec_c29tZWJvZHktZWxzZXMtc2VjcmV0LWtleS0xMjM0"), vectorMsgID, vectorTime, []byte(vectorBody))
	good := vectorSignature
	goodB64 := strings.TrimPrefix(good, "v1,")
	for _, tc := range []struct {
		name   string
		values []string
		want   error
	}{
		{"only good", []string{good}, nil},
		{"good last", []string{other + " " + good}, nil},
		{"good first", []string{good + " " + other}, nil},
		{"extra spaces", []string{"  " + other + "   " + good + " "}, nil},
		{"other versions ignored", []string{"v2,abc v1a," + goodB64 + " " + good}, nil},
		{"malformed entries skipped", []string{"v1 v1, v1,!!!! nocomma " + good}, nil},
		{"second header line", []string{other, good}, nil},
		{"only other secret", []string{other}, ErrNoMatchingSignature},
		{"good under other version", []string{"v1a," + goodB64}, ErrNoMatchingSignature},
		{"without version", []string{goodB64}, ErrNoMatchingSignature},
		{"version case", []string{"V1," + goodB64}, ErrNoMatchingSignature},
		{"truncated", []string{good[:len(good)-2]}, ErrNoMatchingSignature},
		{"unpadded", []string{strings.TrimSuffix(good, "=")}, ErrNoMatchingSignature},
		{"stray bits in last character", []string{good[:len(good)-2] + "F="}, ErrNoMatchingSignature},
		{"too long", []string{good + "AAAA"}, ErrNoMatchingSignature},
		{"blank", []string{"   "}, ErrMissingHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := headersFor(vectorMsgID, vectorTime, "")
			h.Del(HeaderSignature)
			for _, v := range tc.values {
				h.Add(HeaderSignature, v)
			}
			if err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody)); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyTolerance(t *testing.T) {
	t.Parallel()
	secret := mustSecret(t, vectorSecret)
	body := []byte(vectorBody)
	now := vectorTime
	for _, tc := range []struct {
		name      string
		tolerance time.Duration
		now       time.Time
		sent      time.Time
		want      error
	}{
		{"same second", 0, now, now, nil},
		{"exactly 5m old", 0, now, now.Add(-5 * time.Minute), nil},
		{"5m1s old", 0, now, now.Add(-5*time.Minute - time.Second), ErrTimestampTooOld},
		{"5m old, receiver half a second on", 0, now.Add(500 * time.Millisecond), now.Add(-5 * time.Minute), ErrTimestampTooOld},
		{"exactly 5m ahead", 0, now, now.Add(5 * time.Minute), nil},
		{"5m1s ahead", 0, now, now.Add(5*time.Minute + time.Second), ErrTimestampTooNew},
		{"epoch", 0, now, time.Unix(0, 0), ErrTimestampTooOld},
		{"custom tolerance inside", 30 * time.Second, now, now.Add(-30 * time.Second), nil},
		{"custom tolerance outside", 30 * time.Second, now, now.Add(-31 * time.Second), ErrTimestampTooOld},
		{"custom tolerance ahead", 30 * time.Second, now, now.Add(31 * time.Second), ErrTimestampTooNew},
		{"negative tolerance means default", -time.Second, now, now.Add(-4 * time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &Verifier{
				Secrets:   map[string][]Secret{"acme": {secret}},
				Tolerance: tc.tolerance,
				Now:       func() time.Time { return tc.now },
			}
			h := headersFor(vectorMsgID, tc.sent, Sign(secret, vectorMsgID, tc.sent, body))
			if err := v.Verify("acme", h, body); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyDefaultClock(t *testing.T) {
	t.Parallel()
	secret := mustSecret(t, vectorSecret)
	v := &Verifier{Secrets: map[string][]Secret{"acme": {secret}}}
	now := time.Now()
	body := []byte(vectorBody)
	if err := v.Verify("acme", headersFor("msg_1", now, Sign(secret, "msg_1", now, body)), body); err != nil {
		t.Fatalf("Verify now: %v", err)
	}
	if err := v.Verify("acme", headersFor(vectorMsgID, vectorTime, vectorSignature), body); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("Verify 2021 vector today = %v, want ErrTimestampTooOld", err)
	}
}

func TestVerifyTampering(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"body changed", headersFor(vectorMsgID, vectorTime, vectorSignature), []byte(`{"test": 2432232315}`)},
		{"body whitespace", headersFor(vectorMsgID, vectorTime, vectorSignature), []byte(vectorBody + "\n")},
		{"body empty", headersFor(vectorMsgID, vectorTime, vectorSignature), nil},
		{"id changed", headersFor("msg_other", vectorTime, vectorSignature), body},
		{"timestamp changed", headersFor(vectorMsgID, vectorTime.Add(time.Second), vectorSignature), body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := vectorVerifier(t).Verify("acme", tc.header, tc.body); !errors.Is(err, ErrNoMatchingSignature) {
				t.Fatalf("Verify = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestVerifyMissingHeaders(t *testing.T) {
	t.Parallel()
	all := []string{HeaderID, HeaderTimestamp, HeaderSignature}
	for _, drop := range [][]string{{HeaderID}, {HeaderTimestamp}, {HeaderSignature}, all} {
		t.Run(strings.Join(drop, "+"), func(t *testing.T) {
			t.Parallel()
			h := headersFor(vectorMsgID, vectorTime, vectorSignature)
			for _, name := range drop {
				h.Del(name)
			}
			err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody))
			if !errors.Is(err, ErrMissingHeaders) {
				t.Fatalf("Verify = %v, want ErrMissingHeaders", err)
			}
			for _, name := range all {
				dropped := strings.Contains(strings.Join(drop, " "), name)
				if named := strings.Contains(err.Error(), name); named != dropped {
					t.Errorf("error %q: names %s = %v, want %v", err, name, named, dropped)
				}
			}
		})
	}
	t.Run("empty values", func(t *testing.T) {
		t.Parallel()
		h := http.Header{HeaderID: {""}, HeaderTimestamp: {""}, HeaderSignature: {""}}
		if err := vectorVerifier(t).Verify("acme", h, nil); !errors.Is(err, ErrMissingHeaders) {
			t.Fatalf("Verify = %v, want ErrMissingHeaders", err)
		}
	})
}

func TestVerifyInvalidTimestamp(t *testing.T) {
	t.Parallel()
	for _, ts := range []string{"abc", "-1", "+1614265330", "1614265330.5", "1614265330000000000000", " 1614265330", "0x60375DF2"} {
		t.Run(ts, func(t *testing.T) {
			t.Parallel()
			h := headersFor(vectorMsgID, vectorTime, vectorSignature)
			h.Set(HeaderTimestamp, ts)
			if err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody)); !errors.Is(err, ErrInvalidTimestamp) {
				t.Fatalf("Verify = %v, want ErrInvalidTimestamp", err)
			}
		})
	}
	t.Run("beyond int64", func(t *testing.T) {
		t.Parallel()
		h := headersFor(vectorMsgID, vectorTime, vectorSignature)
		h.Set(HeaderTimestamp, "9999999999999999999")
		if err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody)); !errors.Is(err, ErrInvalidTimestamp) {
			t.Fatalf("Verify = %v, want ErrInvalidTimestamp", err)
		}
	})
	t.Run("max int64 is too new", func(t *testing.T) {
		t.Parallel()
		h := headersFor(vectorMsgID, vectorTime, vectorSignature)
		h.Set(HeaderTimestamp, "9223372036854775807")
		if err := vectorVerifier(t).Verify("acme", h, []byte(vectorBody)); !errors.Is(err, ErrTimestampTooNew) {
			t.Fatalf("Verify = %v, want ErrTimestampTooNew", err)
		}
	})
}

func TestVerifyUnknownSource(t *testing.T) {
	t.Parallel()
	h := headersFor(vectorMsgID, vectorTime, vectorSignature)
	for _, v := range []*Verifier{vectorVerifier(t), {}, {Secrets: map[string][]Secret{"other": nil}}} {
		err := v.Verify("other", h, []byte(vectorBody))
		if !errors.Is(err, ErrUnknownSource) {
			t.Fatalf("Verify = %v, want ErrUnknownSource", err)
		}
		// The source may come from the unauthenticated body.
		if strings.Contains(err.Error(), "other") {
			t.Fatalf("error %q repeats the source", err)
		}
	}
}

// Errors reach logs and HTTP responses, so none may carry the body or a key.
func TestErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	body := []byte(`{"patient":{"last_name":"Zyxwvut"}}`)
	secret := mustSecret(t, vectorSecret)
	sig := Sign(secret, vectorMsgID, vectorTime, body)
	cases := map[string]http.Header{
		"tampered":  headersFor(vectorMsgID, vectorTime, "v1,"+strings.Repeat("A", 43)+"="),
		"old":       headersFor(vectorMsgID, vectorTime.Add(-time.Hour), sig),
		"missing":   {},
		"bad ts":    {HeaderID: {vectorMsgID}, HeaderTimestamp: {"x"}, HeaderSignature: {sig}},
		"no v1 sig": headersFor(vectorMsgID, vectorTime, "v2,abc"),
	}
	for name, h := range cases {
		err := vectorVerifier(t).Verify("acme", h, body)
		if err == nil {
			t.Fatalf("%s: Verify passed", name)
		}
		for _, secretPart := range []string{"Zyxwvut", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", strings.TrimPrefix(sig, "v1,")} {
			if strings.Contains(err.Error(), secretPart) {
				t.Errorf("%s: error %q contains %q", name, err, secretPart)
			}
		}
	}
}

// The round trip goes through a real HTTP server, so header names are
// canonicalised and the body is read back as a receiver sees it.
func TestSignRequestOverHTTP(t *testing.T) {
	t.Parallel()
	secret := mustSecret(t, vectorSecret)
	v := &Verifier{Secrets: map[string][]Secret{"acme": {secret}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := v.Verify("acme", r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	body := []byte(vectorBody)
	for _, tc := range []struct {
		name   string
		send   []byte
		status int
	}{
		{"as signed", body, http.StatusAccepted},
		{"body swapped", []byte(`{"test": 1}`), http.StatusUnauthorized},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tc.send))
		if err != nil {
			t.Fatal(err)
		}
		SignRequest(req, secret, "msg_http", time.Now(), body)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d (%s), want %d", tc.name, resp.StatusCode, msg, tc.status)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorMsgID, strconv.Itoa(vectorUnix), vectorSignature, []byte(vectorBody))
	f.Add("", "", "", []byte(nil))
	f.Add("msg_1", "1614265330", "v1,"+strings.Repeat("A", 43)+"=", []byte("{}"))
	secret := mustSecret(f, vectorSecret)
	v := vectorVerifier(f)
	f.Fuzz(func(t *testing.T, msgID, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, msgID)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if err := v.Verify("acme", h, body); err == nil {
			// Acceptance must come from the one correct signature, never
			// from a lucky parse of something else.
			unix, perr := strconv.ParseInt(ts, 10, 64)
			if perr != nil {
				t.Fatalf("accepted unparseable timestamp %q", ts)
			}
			want := Sign(secret, msgID, time.Unix(unix, 0), body)
			found := false
			for _, e := range strings.Fields(sig) {
				found = found || e == want
			}
			if !found {
				t.Fatalf("accepted %q, which lacks %q", sig, want)
			}
		}

		// Whatever the id and body, a correct signature must pass.
		if msgID == "" {
			return
		}
		good := headersFor(msgID, vectorTime, Sign(secret, msgID, vectorTime, body))
		good.Set(HeaderID, msgID)
		if err := v.Verify("acme", good, body); err != nil {
			t.Fatalf("correctly signed message refused: %v", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte(`{"k":"v"},`), 100) // about the size of a visit
	secrets := []Secret{
		mustSecret(b, "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24tdGVzdHM="),
		mustSecret(b, vectorSecret),
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			v := &Verifier{
				Secrets: map[string][]Secret{"acme": secrets[len(secrets)-n:]},
				Now:     func() time.Time { return vectorTime },
			}
			h := headersFor(vectorMsgID, vectorTime, Sign(secrets[1], vectorMsgID, vectorTime, body))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify("acme", h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestVerifyAny(t *testing.T) {
	t.Parallel()
	a, b := mustSecret(t, vectorSecret), mustSecret(t, "whsec_"+"c2Vjb25kLXNvdXJjZS1zZWNyZXQtMTIzNDU2Nzg5MA==")
	v := &Verifier{Secrets: map[string][]Secret{"emr-a": {a}, "emr-b": {b}}, Now: func() time.Time { return vectorTime }}
	body := []byte(vectorBody)
	signedBy := func(s Secret) http.Header {
		return headersFor(vectorMsgID, vectorTime, Sign(s, vectorMsgID, vectorTime, body))
	}
	if src, err := v.VerifyAny([]string{"emr-a", "emr-b"}, signedBy(b), body); err != nil || src != "emr-b" {
		t.Errorf("signed by b: %q %v", src, err)
	}
	other := mustSecret(t, "whsec_"+"b3RoZXItc2VjcmV0LW5vYm9keS1rbm93cy0xMjM0NQ==")
	if _, err := v.VerifyAny([]string{"emr-a", "emr-b"}, signedBy(other), body); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("signed by no source: %v", err)
	}
	stale := headersFor(vectorMsgID, vectorTime.Add(-time.Hour), Sign(a, vectorMsgID, vectorTime.Add(-time.Hour), body))
	if _, err := v.VerifyAny([]string{"emr-a", "emr-b"}, stale, body); err == nil || errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("stale: %v, want the timestamp error", err)
	}
	if _, err := v.VerifyAny(nil, signedBy(a), body); !errors.Is(err, ErrUnknownSource) {
		t.Errorf("no sources: %v", err)
	}
}
