package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
)

// openDeps connects to NATS and Postgres as configured; the returned func
// closes them.
func openDeps(ctx context.Context, cfg platform.Config, name string) (platform.Deps, func(), error) {
	log, err := platform.NewLogger(cfg.LogLevel, cfg.LogConsole)
	if err != nil {
		return platform.Deps{}, nil, err
	}
	return openDepsWithLogger(ctx, cfg, name, log)
}

// openServiceDeps is openDeps for a service process: its metrics also
// report its consumers' lag, its outbox and the dead letters.
func openServiceDeps(ctx context.Context, cfg platform.Config, name, schema string) (platform.Deps, func(), error) {
	d, closeDeps, err := openDeps(ctx, cfg, name)
	if err != nil {
		return d, nil, err
	}
	if err := platform.RegisterPipelineCollector(d.Registry, d.JS, d.Pool, schema); err != nil {
		closeDeps()
		return d, nil, err
	}
	return d, closeDeps, nil
}

func openDepsWithLogger(ctx context.Context, cfg platform.Config, name string, log *zap.Logger) (platform.Deps, func(), error) {
	nc, err := platform.ConnectNATS(cfg.NATSURL, name, log)
	if err != nil {
		return platform.Deps{}, nil, err
	}
	pool, err := platform.OpenPool(ctx, cfg.DatabaseURL, int32(cfg.DBMaxConns))
	if err != nil {
		nc.Close()
		return platform.Deps{}, nil, err
	}
	d := platform.Deps{Log: log, NATS: nc, Pool: pool, Registry: platform.NewRegistry(), Streams: cfg.Streams}
	js, err := jetstream.New(nc)
	if err != nil {
		pool.Close()
		nc.Close()
		return platform.Deps{}, nil, fmt.Errorf("%s: jetstream: %w", name, err)
	}
	d.JS = js
	return d, func() {
		pool.Close()
		_ = nc.Drain()
	}, nil
}

// redactURL hides a password in a database URL before it is printed.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		if _, has := p.User.Password(); has {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
			return p.String()
		}
	}
	return u
}
