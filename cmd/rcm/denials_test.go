package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
	"github.com/rcm-health/rcm/internal/platform/ptest"
	"github.com/rcm-health/rcm/pkg/events"
)

// TestRemitImport: rcm remit import posts a real 835 once (its claims,
// unknown to this empty ledger, go to the exceptions queue), says so when
// the file comes again, and fails naming the segment of a malformed file.
func TestRemitImport(t *testing.T) {
	t.Parallel()
	ns, _, js := ptest.NATS(t)
	conn := []string{"--nats-url=" + ns.URL(), "--database-url=" + pgtest.URL(t), "--log-level=error"}
	file := "../../pkg/x12/testdata/golden/remit_plb.835"
	out, err := rcm(t, append([]string{"remit", "import", file}, conn...)...)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Posted, Claims, Unmatched int
		Duplicate                 bool
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if res.Posted < 1 || res.Claims < 1 || res.Unmatched != res.Claims || res.Duplicate {
		t.Errorf("first import: %s", out)
	}
	received := 0
	for _, e := range ptest.Events(t, js, events.StreamDenials, 1, 5e9) {
		if e.Type == events.TypeRemitReceived {
			received++
		}
	}
	if received != res.Posted {
		t.Errorf("%d remit.received published, %d sets posted", received, res.Posted)
	}
	out, err = rcm(t, append([]string{"remit", "import", file}, conn...)...)
	if err != nil || !strings.Contains(out, `"duplicate":true`) {
		t.Errorf("second import: %s %v", out, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir() + "/bad.835"
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), "CLP*", "CLP**", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rcm(t, append([]string{"remit", "import", bad}, conn...)...); err == nil || !strings.Contains(err.Error(), "segment") {
		t.Errorf("malformed file: %v", err)
	}
}

// TestUsersAdd: rcm users add creates an account from RCM_PASSWORD or
// standard input and names the field of a bad one.
func TestUsersAdd(t *testing.T) {
	ns, _, _ := ptest.NATS(t)
	db := pgtest.URL(t)
	conn := []string{"--nats-url=" + ns.URL(), "--database-url=" + db, "--log-level=error"}
	t.Setenv("RCM_PASSWORD", "a long enough passphrase")
	out, err := rcm(t, append([]string{"users", "add", "--user", "ann", "--name", "Ann Biller", "--role", "biller"}, conn...)...)
	if err != nil || !strings.Contains(out, "user ann (biller) created") {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, err := rcm(t, append([]string{"users", "add", "--user", "ann", "--name", "Ann", "--role", "biller"}, conn...)...); err == nil {
		t.Error("a second ann was created")
	}
	t.Setenv("RCM_PASSWORD", "short")
	if _, err := rcm(t, append([]string{"users", "add", "--user", "bob", "--name", "Bob", "--role", "ops"}, conn...)...); err == nil || !strings.HasPrefix(err.Error(), "password") {
		t.Errorf("short password: %v", err)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var hash, role string
	if err := pool.QueryRow(context.Background(), `SELECT password_hash, role FROM denials.users WHERE user_id = 'ann'`).Scan(&hash, &role); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2") || role != "biller" || strings.Contains(hash, "passphrase") {
		t.Errorf("stored %q, role %s: want a bcrypt hash", hash, role)
	}
}
