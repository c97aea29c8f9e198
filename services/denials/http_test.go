package denials_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/rcm-health/rcm/pkg/webhook"
	"github.com/rcm-health/rcm/services/denials"
)

// TestPostRemittances: POST /v1/remittances posts a signed 835 once, says
// so when it comes again, refuses an unsigned or tampered one, and names
// the segment of a malformed one, posting nothing.
func TestPostRemittances(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	secret, err := webhook.ParseSecret("whsec_" + "dGVzdC1zZWNyZXQtZm9yLXJlbWl0dGFuY2VzLTEyMzQ=")
	if err != nil {
		t.Fatal(err)
	}
	h := &denials.RemitHandler{Store: s, Log: zap.NewNop(), Sources: []string{"clearinghouse"},
		Verifier: &webhook.Verifier{Secrets: map[string][]webhook.Secret{"clearinghouse": {secret}}}}
	srv := httptest.NewServer(h)
	defer srv.Close()

	c := submit(t, s, "KKK-1", 1, "1", line("97110", 1, 6000, "GO"))
	file := era(t, 1, "T-HTTP", nil, claim835(c, "1", pay(c, 1)))
	post := func(body []byte, sign bool, mutate func([]byte) []byte) (int, map[string]any) {
		t.Helper()
		sent := body
		if mutate != nil {
			sent = mutate(bytes.Clone(body))
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(sent))
		if sign {
			webhook.SignRequest(req, secret, "msg_remit_1", time.Now(), body)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer is not JSON: %s", raw)
		}
		return resp.StatusCode, out
	}

	if code, out := post(file, false, nil); code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d %v", code, out)
	}
	if code, out := post(file, true, func(b []byte) []byte { return bytes.Replace(b, []byte("T-HTTP"), []byte("T-HTTX"), 1) }); code != http.StatusUnauthorized {
		t.Errorf("tampered: %d %v", code, out)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.remits`); n != 0 {
		t.Fatalf("%d remits posted by refused requests", n)
	}
	code, out := post(file, true, nil)
	if code != http.StatusOK || out["posted"] != float64(1) || out["claims"] != float64(1) || out["duplicate"] != false {
		t.Fatalf("signed: %d %v", code, out)
	}
	code, out = post(file, true, nil)
	if code != http.StatusOK || out["duplicate"] != true {
		t.Errorf("again: %d %v", code, out)
	}
	bad := bytes.Replace(file, []byte("CLP*KKK-1*1*"), []byte("CLP*KKK-1*X*"), 1)
	code, out = post(bad, true, nil)
	msg, _ := out["error"].(string)
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, "segment") || !strings.Contains(msg, "CLP") {
		t.Errorf("malformed: %d %v", code, out)
	}
	if n := count(t, s, `SELECT count(*) FROM denials.remits`); n != 1 {
		t.Errorf("%d remits, want 1", n)
	}
}
