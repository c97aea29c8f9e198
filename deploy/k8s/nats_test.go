package k8s

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"

	"github.com/rcm-health/rcm/pkg/events"
)

// natsConfig is the nats.conf the StatefulSet runs, the directory its TLS
// files are mounted at, and the variables of the nats container.
type natsConfig struct {
	conf   string
	tlsDir string
	env    map[string]corev1.EnvVar
}

func (m *manifests) natsConfig(t *testing.T) natsConfig {
	t.Helper()
	sts := m.statefulSet(t, "nats")
	spec := sts.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("StatefulSet nats: %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	i := slices.Index(c.Command, "--config")
	if i < 0 || i+1 >= len(c.Command) {
		t.Fatalf("StatefulSet nats: command %q has no --config", c.Command)
	}
	path := c.Command[i+1]
	var nc natsConfig
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.ConfigMap != nil && filepath.Dir(path) == vm.MountPath {
				cm, ok := m.configMaps[v.ConfigMap.Name]
				if !ok {
					t.Fatalf("StatefulSet nats: ConfigMap %s is not rendered", v.ConfigMap.Name)
				}
				nc.conf, ok = cm.Data[filepath.Base(path)]
				if !ok {
					t.Fatalf("ConfigMap %s has no %s", cm.Name, filepath.Base(path))
				}
			}
			if v.Secret != nil {
				if cert := natsServerCert(t, m); cert != nil && cert.Spec.SecretName == v.Secret.SecretName {
					nc.tlsDir = vm.MountPath
				}
			}
		}
	}
	if nc.conf == "" || nc.tlsDir == "" {
		t.Fatalf("StatefulSet nats: config %s or the server certificate is not mounted", path)
	}
	nc.env = map[string]corev1.EnvVar{}
	for _, v := range c.Env {
		nc.env[v.Name] = v
	}
	return nc
}

var (
	quoted    = regexp.MustCompile(`"[^"]*"|'[^']*'`)
	comment   = regexp.MustCompile(`(?m)(#|//).*$`)
	reference = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// variables are the $NAMEs nats.conf reads from the environment.
func variables(conf string) []string {
	bare := quoted.ReplaceAllString(comment.ReplaceAllString(conf, ""), "")
	var out []string
	for _, m := range reference.FindAllStringSubmatch(bare, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// testCA is a CA for the test's NATS server certificates. The services
// trust the NATS CA through SSL_CERT_DIR (Go adds the files there to the
// system roots, which it loads once per process), so one CA serves every
// overlay and its directory holds nothing else.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test nats ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	// Named as the services' projected volume names it.
	if err := os.WriteFile(filepath.Join(ca.dir, "nats-ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// testPKI writes the CA and a server certificate for dnsNames (server and
// client auth, as cert-manager issues nats-server-tls) into dir, named as
// cert-manager names the keys of the Secret.
func testPKI(t *testing.T, ca *testCA, dir string, dnsNames []string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	leafTpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: dnsNames[0]}, DNSNames: dnsNames,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.crt":  {Type: "CERTIFICATE", Bytes: ca.cert.Raw},
		"tls.crt": {Type: "CERTIFICATE", Bytes: leafDER},
		"tls.key": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// parseNATS sets the variables nats.conf reads to test values (each must be
// an env var of the nats container: from a Secret, or the pod's name), then
// parses the configuration with nats-server's own code, TLS files from a
// test CA. It returns the options and the test value of each variable.
func parseNATS(t *testing.T, m *manifests, nc natsConfig, pkiDir string) (*server.Options, map[string]string) {
	t.Helper()
	values := map[string]string{}
	for _, name := range variables(nc.conf) {
		v, ok := nc.env[name]
		switch {
		case !ok:
			t.Fatalf("nats.conf reads $%s, which the nats container does not set", name)
		case v.ValueFrom != nil && v.ValueFrom.FieldRef != nil && v.ValueFrom.FieldRef.FieldPath == "metadata.name":
			values[name] = "nats-0"
		case v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil:
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			values[name] = "t" + hex.EncodeToString(b) // as README.md says to make them
		default:
			t.Fatalf("nats.conf reads $%s, which is neither from a Secret nor the pod's name", name)
		}
		t.Setenv(name, values[name])
	}
	conf := strings.ReplaceAll(nc.conf, strings.TrimSuffix(nc.tlsDir, "/")+"/", pkiDir+"/")
	opts := &server.Options{}
	if err := opts.ProcessConfigString(conf); err != nil {
		var warn interface{ Errors() []error }
		if !errors.As(err, &warn) || len(warn.Errors()) != 0 {
			t.Fatalf("nats-server rejects nats.conf: %v", err)
		}
	}
	return opts, values
}

// checkNATS checks the NATS configuration as nats-server parses it, then
// runs a server with it and proves each service user's permissions.
func checkNATS(t *testing.T, m *manifests, ca *testCA) {
	nc := m.natsConfig(t)
	cert := natsServerCert(t, m)
	if cert == nil {
		t.FailNow()
	}
	pkiDir := t.TempDir()
	testPKI(t, ca, pkiDir, cert.Spec.DNSNames)
	opts, values := parseNATS(t, m, nc, pkiDir)
	sts := m.statefulSet(t, "nats")

	// TLS for clients, mutual TLS for routes.
	if opts.TLSConfig == nil {
		t.Errorf("nats.conf: clients are not required to use TLS")
	}
	if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("nats.conf: cluster routes must use TLS with verify: true")
	}
	// A route per server, by the StatefulSet's stable names.
	var routes []string
	for _, r := range opts.Routes {
		routes = append(routes, r.Host)
	}
	var wantRoutes []string
	for i := range *sts.Spec.Replicas {
		wantRoutes = append(wantRoutes, fmt.Sprintf("nats-%d.%s:%d", i, sts.Spec.ServiceName, opts.Cluster.Port))
	}
	if *sts.Spec.Replicas != 3 || !slices.Equal(routes, wantRoutes) {
		t.Errorf("nats.conf: %d servers with routes %v, want 3 with %v", *sts.Spec.Replicas, routes, wantRoutes)
	}
	if !opts.Cluster.NoAdvertise {
		t.Errorf("nats.conf: cluster no_advertise should be true: clients must reconnect through the nats Service, whose name the certificate has")
	}
	if string(sts.Spec.PodManagementPolicy) != "Parallel" {
		t.Errorf("StatefulSet nats: podManagementPolicy %q, want Parallel (JetStream needs a quorum to start)", sts.Spec.PodManagementPolicy)
	}
	// JetStream: on, encrypted, fsync before every ack, on the volume.
	if !opts.JetStream {
		t.Errorf("nats.conf: JetStream is off")
	}
	if opts.JetStreamCipher != server.AES || opts.JetStreamKey == "" || opts.JetStreamKey != values["JS_KEY"] {
		t.Errorf("nats.conf: JetStream encryption must be cipher aes with key $JS_KEY; got cipher %v", opts.JetStreamCipher)
	}
	if ref := nc.env["JS_KEY"].ValueFrom; ref == nil || ref.SecretKeyRef == nil {
		t.Errorf("StatefulSet nats: JS_KEY must come from a Secret")
	}
	if !opts.SyncAlways {
		t.Errorf("nats.conf: sync_interval is not always")
	}
	dataOnVolume := false
	for _, vm := range sts.Spec.Template.Spec.Containers[0].VolumeMounts {
		for _, pvc := range sts.Spec.VolumeClaimTemplates {
			if vm.Name == pvc.Name && strings.HasPrefix(opts.StoreDir, vm.MountPath+"/") {
				dataOnVolume = true
			}
		}
	}
	if !dataOnVolume {
		t.Errorf("nats.conf: store_dir %s is not on the StatefulSet's persistent volume", opts.StoreDir)
	}
	if opts.SystemAccount == "" || opts.SystemAccount == "RCM" {
		t.Errorf("nats.conf: system account %q, want its own", opts.SystemAccount)
	}

	checkNATSUsers(t, m, nc, opts, values)
	if t.Failed() {
		return
	}
	checkNATSLive(t, m, nc, pkiDir)
}

// checkNATSUsers: one user per service in one JetStream account, whose
// publish permissions are exactly the subjects of its own stream and its
// dead-letter subject, plus the JetStream API (less stream deletion and
// purging) and the acknowledgements of the streams it consumes; that
// subscribes only to _INBOX.>; and whose password is the Secret its
// Deployment reads.
func checkNATSUsers(t *testing.T, m *manifests, nc natsConfig, opts *server.Options, values map[string]string) {
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	pubs := publishes(t)
	account := ""
	for _, svc := range services(t) {
		u, ok := users[svc]
		if !ok {
			t.Errorf("nats.conf: no user %s", svc)
			continue
		}
		if u.Account == nil || u.Account.Name == "" || u.Account.Name == opts.SystemAccount {
			t.Errorf("nats.conf: user %s is in no application account", svc)
			continue
		}
		if account == "" {
			account = u.Account.Name
		} else if u.Account.Name != account {
			t.Errorf("nats.conf: user %s is in account %s, the others in %s: the streams are shared", svc, u.Account.Name, account)
		}
		// The password is the Secret the Deployment reads NATS_PASSWORD from.
		var pwVar string
		for name, v := range values {
			if v == u.Password {
				pwVar = name
			}
		}
		d := m.deployment(t, svc)
		e := m.env(t, d.Spec.Template.Spec.Containers[0])
		want, _ := e.secretRef("NATS_PASSWORD")
		got := nc.env[pwVar].ValueFrom
		if pwVar == "" || want == nil || got == nil || got.SecretKeyRef == nil || *got.SecretKeyRef != *want {
			t.Errorf("nats.conf: user %s's password ($%s) is not the Secret its Deployment reads (%+v)", svc, pwVar, want)
		}
		p := u.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil {
			t.Errorf("nats.conf: user %s has no publish and subscribe permissions: it may publish anything", svc)
			continue
		}
		wantAllow := append([]string{"$JS.API.>"}, pubs[svc]...)
		for _, s := range consumes[svc] {
			wantAllow = append(wantAllow, "$JS.ACK."+s+".>")
		}
		gotAllow := slices.Clone(p.Publish.Allow)
		sort.Strings(wantAllow)
		sort.Strings(gotAllow)
		if !slices.Equal(gotAllow, wantAllow) {
			t.Errorf("nats.conf: user %s may publish %v, want exactly %v (pkg/events: its stream's subjects and rcm.dlq.%s)", svc, gotAllow, wantAllow, svc)
		}
		for _, api := range []string{"$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>"} {
			if !slices.Contains(p.Publish.Deny, api) {
				t.Errorf("nats.conf: user %s is not denied %s (the event log is the audit trail)", svc, api)
			}
		}
		if !slices.Equal(p.Subscribe.Allow, []string{"_INBOX.>"}) {
			t.Errorf("nats.conf: user %s may subscribe to %v, want [_INBOX.>] (JetStream pull consumers and acks reply there)", svc, p.Subscribe.Allow)
		}
	}
	for name, u := range users {
		if _, isService := consumes[name]; isService || u.Account == nil {
			continue
		}
		if u.Account.Name == account && name != "ops" {
			t.Errorf("nats.conf: user %s in the application account is neither a service nor ops", name)
		}
	}
}

// redirect dials addr whatever the URL names, so that the TLS server name
// is still the URL's host.
type redirect struct{ addr string }

func (r redirect) Dial(network, _ string) (net.Conn, error) { return net.Dial(network, r.addr) }

// checkNATSLive runs nats-server with the configuration (the cluster block
// left out: one server, listening on localhost) and, over TLS as each
// service user: provisions the streams as the services do, publishes on the
// service's own subjects, consumes and acknowledges the streams it consumes,
// is refused every other service's subjects, stream deletion and a
// subscription to rcm.>; and checks that the published payloads are not in
// the clear on disk.
func checkNATSLive(t *testing.T, m *manifests, nc natsConfig, pkiDir string) {
	opts, values := parseNATS(t, m, nc, pkiDir)
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.Cluster, opts.Routes, opts.RoutesStr = server.ClusterOpts{}, nil, ""
	opts.StoreDir = t.TempDir()
	opts.PidFile = ""
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server with nats.conf: %v", err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server with nats.conf did not start")
	}

	// Connect as the services do: their RCM_NATS_URL with the password of
	// their Secret, no TLS option (platform.ConnectNATS has none), the
	// certificate verified against the system roots plus SSL_CERT_DIR; only
	// the TCP connection is redirected to the test server.
	type conn struct {
		nc   *nats.Conn
		js   jetstream.JetStream
		errs chan error
	}
	conns := map[string]conn{}
	for _, svc := range services(t) {
		e := m.env(t, m.deployment(t, svc).Spec.Template.Spec.Containers[0])
		raw, _ := e.value("RCM_NATS_URL")
		ref, _ := e.secretRef("NATS_PASSWORD")
		var pw string
		for name, v := range nc.env {
			if ref != nil && v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil && *v.ValueFrom.SecretKeyRef == *ref {
				pw = values[name]
			}
		}
		if pw == "" {
			t.Fatalf("%s: no NATS server variable reads its password Secret %+v", svc, ref)
		}
		errs := make(chan error, 256)
		c, err := nats.Connect(strings.Replace(raw, "$(NATS_PASSWORD)", pw, 1),
			nats.SetCustomDialer(redirect{s.Addr().String()}),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }),
		)
		if err != nil {
			t.Fatalf("connect as %s with its RCM_NATS_URL, trusting SSL_CERT_DIR: %v", svc, err)
		}
		t.Cleanup(c.Close)
		if !c.TLSRequired() {
			t.Errorf("%s: connected without TLS", svc)
		}
		js, err := jetstream.New(c)
		if err != nil {
			t.Fatal(err)
		}
		conns[svc] = conn{c, js, errs}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Every service provisions every stream at start-up
	// (platform.EnsureStreams), then publishes its own events.
	canary := "PLAINTEXT-CANARY-" + hex.EncodeToString([]byte(time.Now().String()))[:16]
	pubs := publishes(t)
	for _, svc := range services(t) {
		c := conns[svc]
		for _, st := range events.Streams {
			if _, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name: st.Name, Subjects: st.Subjects, Storage: jetstream.FileStorage,
				Retention: jetstream.LimitsPolicy, Replicas: 1,
			}); err != nil {
				t.Errorf("%s: provision stream %s: %v", svc, st.Name, err)
			}
		}
		for _, subj := range pubs[svc] {
			if _, err := c.js.Publish(ctx, subj, []byte(`{"id":"`+canary+`"}`), jetstream.WithMsgID(svc+subj)); err != nil {
				t.Errorf("%s may not publish its own subject %s: %v", svc, subj, err)
			}
		}
	}
	// Each consumer reads and acknowledges the streams it consumes.
	for _, svc := range services(t) {
		c := conns[svc]
		for _, st := range consumes[svc] {
			cons, err := c.js.CreateOrUpdateConsumer(ctx, st, jetstream.ConsumerConfig{Durable: svc, AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				t.Errorf("%s: create its consumer on %s: %v", svc, st, err)
				continue
			}
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Errorf("%s: fetch from %s: %v", svc, st, err)
				continue
			}
			n := 0
			for msg := range batch.Messages() {
				n++
				if err := msg.DoubleAck(ctx); err != nil {
					t.Errorf("%s: acknowledge a message of %s: %v", svc, st, err)
				}
			}
			if n == 0 {
				t.Errorf("%s: fetched nothing from %s: %v", svc, st, batch.Error())
			}
		}
	}
	// Everything else on rcm.> is refused, as are stream deletion and purge
	// and a subscription to the events themselves.
	var all []string
	for _, subjects := range pubs {
		all = append(all, subjects...)
	}
	for _, svc := range services(t) {
		c := conns[svc]
		var refused []string
		for _, subj := range all {
			if !slices.Contains(pubs[svc], subj) {
				refused = append(refused, subj)
			}
		}
		refused = append(refused, "$JS.API.STREAM.DELETE."+events.StreamIntake, "$JS.API.STREAM.PURGE."+events.StreamDenials)
		for _, subj := range refused {
			if err := c.nc.Publish(subj, []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.nc.SubscribeSync("rcm.>"); err != nil {
			t.Fatal(err)
		}
		if err := c.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		pending := map[string]bool{}
		for _, subj := range refused {
			pending[`Publish to "`+subj+`"`] = true
		}
		pending[`Subscription to "rcm.>"`] = true
		deadline := time.After(5 * time.Second)
		for len(pending) > 0 {
			select {
			case err := <-c.errs:
				for k := range pending {
					if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), k) {
						delete(pending, k)
					}
				}
			case <-deadline:
				var left []string
				for k := range pending {
					left = append(left, k)
				}
				sort.Strings(left)
				t.Errorf("%s is not refused: %v", svc, left)
				pending = nil
			}
		}
	}
	// Encryption at rest: the events are on disk, but not in the clear.
	files := 0
	err = filepath.WalkDir(opts.StoreDir, func(path string, d fs.DirEntry, err error) error {
		// The running server renames its temporary state files while we
		// walk: a file gone by the time it is read holds nothing to check.
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".blk") && len(b) > 0 {
			files++
		}
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("JetStream file %s holds an event in the clear", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("no JetStream message block was written under %s: the encryption check saw nothing", opts.StoreDir)
	}
}
