package platform

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedNATS runs a JetStream-enabled nats-server inside the process, for
// rcm dev and tests. It listens on a free loopback port (port 0) so it never
// clashes with a NATS server already on 4222.
type EmbeddedNATS struct {
	srv *server.Server
}

// StartNATS starts the embedded server storing JetStream data in storeDir.
// port 0 takes a free port.
func StartNATS(storeDir string, port int) (*EmbeddedNATS, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "rcm-dev",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
		// Data written by rcm dev should survive a power cut of the
		// developer's machine as well as a crash of rcm.
		SyncAlways: false,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS: not ready after 15s (store %s)", storeDir)
	}
	return &EmbeddedNATS{srv: srv}, nil
}

// URL is the client URL of the server.
func (e *EmbeddedNATS) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *EmbeddedNATS) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
