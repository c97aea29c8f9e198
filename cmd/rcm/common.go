package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/webhook"
)

// devSecret signs demo traffic when RCM_WEBHOOK_SECRET is not set. It is
// printed at start: it protects nothing and must never be used in production.
const devSecret = "whsec_cmNtLWRldi1vbmx5LWRvLW5vdC11c2UtaW4tcHJvZHVjdGlvbg=="

func webhookSecretFromEnv() string {
	if s := os.Getenv("RCM_WEBHOOK_SECRET"); s != "" {
		return s
	}
	return devSecret
}

// parseSecrets reads "source=whsec_...,source=whsec_..." as given to
// --webhook-secrets; a source may appear twice while a secret rotates.
func parseSecrets(list []string) (map[string][]webhook.Secret, error) {
	out := map[string][]webhook.Secret{}
	for _, item := range list {
		for _, part := range strings.Split(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			source, secret, ok := strings.Cut(part, "=")
			if !ok || source == "" {
				return nil, fmt.Errorf("webhook secret %q: want source=whsec_<base64>", redactSecret(part))
			}
			s, err := webhook.ParseSecret(secret)
			if err != nil {
				return nil, fmt.Errorf("webhook secret for source %s: %w", source, err)
			}
			out[source] = append(out[source], s)
		}
	}
	return out, nil
}

func redactSecret(s string) string {
	if i := strings.Index(s, "whsec_"); i >= 0 {
		return s[:i] + "whsec_…"
	}
	return s
}

// preRunEnv applies RCM_* variables to the flags a command did not get.
func preRunEnv(cmd *cobra.Command, _ []string) error {
	return platform.ApplyEnv(cmd.Flags())
}

// natsURLFromDataDir finds the NATS URL a running rcm dev wrote.
func natsURLFromDataDir(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "nats.url"))
	if err != nil {
		return "", fmt.Errorf("no running rcm dev found in %s (start one with: rcm dev): %w", dataDir, err)
	}
	return strings.TrimSpace(string(b)), nil
}
