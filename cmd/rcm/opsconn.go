package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"
)

// pipelineTarget is how an operator's command (rcm dlq, rcm status) finds
// the pipeline: a running rcm dev through its data dir, or a deployment
// through --nats-url (RCM_NATS_URL).
type pipelineTarget struct {
	dataDir string
	natsURL string
}

func (p *pipelineTarget) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.dataDir, "data-dir", ".rcm", "data dir of the running rcm dev to inspect (for its NATS URL)")
	fs.StringVar(&p.natsURL, "nats-url", "", "NATS URL of a deployment, such as tls://ops:PASSWORD@nats:4222 (default: the one rcm dev wrote in --data-dir)")
}

// connect dials NATS once, without the services' endless reconnects: a
// command that cannot reach the pipeline should say so and exit.
func (p *pipelineTarget) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	url := p.natsURL
	if url == "" {
		u, err := natsURLFromDataDir(p.dataDir)
		if err != nil {
			return nil, nil, err
		}
		url = u
	}
	nc, err := nats.Connect(url, nats.Name(name), nats.Timeout(5*time.Second), nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// devDatabaseURL is the Postgres URL a running rcm dev wrote beside its NATS
// URL, if it did; "" otherwise.
func (p *pipelineTarget) devDatabaseURL() string {
	if p.natsURL != "" {
		return "" // a deployment: its database comes from DATABASE_URL
	}
	b, err := os.ReadFile(filepath.Join(p.dataDir, "database.url"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
