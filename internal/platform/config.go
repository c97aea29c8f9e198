package platform

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config holds what every service needs to reach its infrastructure. Each
// field is a flag and, when the flag is not given, an RCM_* environment
// variable (--nats-url ↔ RCM_NATS_URL); DATABASE_URL is honoured as well as
// RCM_DATABASE_URL because every Postgres tool knows it.
type Config struct {
	// NATSURL is the JetStream server or cluster; comma-separated URLs.
	NATSURL string
	// DatabaseURL is a pgx connection string.
	DatabaseURL string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogConsole switches logs from JSON to a human-readable form.
	LogConsole bool
	// DBMaxConns bounds the Postgres pool. pgx's default (the larger of 4
	// and the CPU count) starves a process running several stages: intake's
	// committers alone take four.
	DBMaxConns int
	// Streams configures provisioning.
	Streams StreamOptions
}

// AddFlags registers the shared flags on fs with their defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (also DATABASE_URL)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 24, "Postgres connections at most")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&c.LogConsole, "log-console", false, "human-readable logs instead of JSON")
	fs.IntVar(&c.Streams.Replicas, "stream-replicas", 1, "JetStream stream replicas (3 in production)")
	fs.DurationVar(&c.Streams.MaxAge, "stream-max-age", 0, "how long streams keep events; 0 keeps them for ever (the event log is the audit trail)")
	fs.DurationVar(&c.Streams.Duplicates, "stream-duplicates", 20*time.Minute, "JetStream de-duplication window for Nats-Msg-Id")
}

// ApplyEnv sets every flag of fs that was not given on the command line from
// its RCM_* variable, so that flags win over the environment.
func ApplyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := EnvName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok && f.Name == "database-url" {
			v, ok = os.LookupEnv("DATABASE_URL")
		}
		if !ok {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("environment %s: %w", name, e)
		}
	})
	return err
}

// EnvName is the environment variable for a flag name.
func EnvName(flag string) string {
	return "RCM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
