package webhook_test

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/rcm-health/rcm/pkg/webhook"
)

// A sender signs the exact bytes it posts.
func ExampleSignRequest() {
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"test": 2432232314}`)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/v1/visits", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	webhook.SignRequest(req, secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	fmt.Println(req.Header.Get(webhook.HeaderTimestamp))
	fmt.Println(req.Header.Get(webhook.HeaderSignature))
	// Output:
	// 1614265330
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// A receiver verifies the raw body before it parses it.
func ExampleVerifier_Verify() {
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	v := &webhook.Verifier{
		Secrets: map[string][]webhook.Secret{"acme-emr": {secret}},
		Now:     func() time.Time { return time.Unix(1614265330, 0) },
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	fmt.Println(v.Verify("acme-emr", h, []byte(`{"test": 2432232314}`)))
	fmt.Println(v.Verify("acme-emr", h, []byte(`{"test": 1}`)))
	// Output:
	// <nil>
	// webhook: no matching signature: none of the v1 signatures matches a secret of the source
}
