package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/services/denials"
	"github.com/rcm-health/rcm/services/denials/web"
)

// The account rcm dev creates so that the UI can be tried at once. It
// exists only in dev's private database.
const (
	devUser     = "biller"
	devPassword = "rcm-dev-password"
)

// webUI mounts the biller UI on the denials service's HTTP server.
func webUI(log *zap.Logger, js jetstream.JetStream, secureCookies bool) func(*denials.Store) (http.Handler, error) {
	return func(s *denials.Store) (http.Handler, error) {
		return web.New(web.Config{Store: s, JS: js, Log: log.With(zap.String("component", "web")), SecureCookies: secureCookies})
	}
}

// ensureDevUser creates dev's supervisor account on first start.
func ensureDevUser(ctx context.Context, d platform.Deps) error {
	if err := platform.Migrate(ctx, d.Pool, denials.Schema, denials.Migrations()); err != nil {
		return err
	}
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM denials.users WHERE user_id = $1`, devUser).Scan(&n); err != nil {
		return fmt.Errorf("dev user: %w", err)
	}
	if n > 0 {
		return nil
	}
	return web.AddUser(ctx, d.Pool, devUser, "Dev Biller", "supervisor", devPassword)
}

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the biller web UI's accounts",
	}
	cmd.AddCommand(newUsersAddCmd())
	return cmd
}

func newUsersAddCmd() *cobra.Command {
	var cfg platform.Config
	var user, name, role string
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Create a web UI account (the password is read from RCM_PASSWORD or standard input)",
		Long: `rcm users add creates an account for the denials web UI. Roles: biller (works
denials), supervisor (also reads the audit log), ops (read-only). The password,
at least 12 characters, comes from RCM_PASSWORD or the first line of standard
input; it is stored as a bcrypt hash.`,
		Example: `  echo 'a long passphrase here' | rcm users add --user ann --name "Ann Biller" --role biller`,
		PreRunE: preRunEnv,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password := os.Getenv("RCM_PASSWORD")
			if password == "" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
				if password == "" {
					return errors.New("password: set RCM_PASSWORD or pipe it on standard input")
				}
			}
			ctx := cmd.Context()
			d, closeDeps, err := openDeps(ctx, cfg, "rcm-users")
			if err != nil {
				return err
			}
			defer closeDeps()
			if err := platform.Migrate(ctx, d.Pool, denials.Schema, denials.Migrations()); err != nil {
				return err
			}
			if err := web.AddUser(ctx, d.Pool, user, name, role, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s (%s) created\n", user, role)
			return nil
		},
	}
	cfg.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&user, "user", "", "login name")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringVar(&role, "role", "biller", "biller, supervisor or ops")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
