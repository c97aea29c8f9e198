package k8s

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/rcm-health/rcm/internal/platform"
	"github.com/rcm-health/rcm/pkg/events"
	"github.com/rcm-health/rcm/services/coder"
	"github.com/rcm-health/rcm/services/denials"
	"github.com/rcm-health/rcm/services/submitter"
)

// image is the one image every service runs, with the subcommand as args.
const image = "ghcr.io/rcm-health/rcm"

// overlays are the deployable directories under overlays/.
var overlays = []string{"dev", "prod"}

// consumes lists the streams each service consumes, from the services'
// own consumer specs: its NATS user may acknowledge messages of those
// streams and no others. A new consumer of a service belongs here.
var consumes = map[string][]string{}

func init() {
	for svc, specs := range map[string][]platform.ConsumerSpec{
		"intake":    nil,
		"coder":     {coder.ConsumerSpec()},
		"submitter": {submitter.ConsumerSpec(), submitter.CorrectionSpec()},
		"denials":   {denials.ClaimsConsumer(), denials.CodedConsumer()},
	} {
		consumes[svc] = []string{}
		for _, c := range specs {
			if !slices.Contains(consumes[svc], c.Stream) {
				consumes[svc] = append(consumes[svc], c.Stream)
			}
		}
	}
}

// services are the pipeline's services: one per producing stream of the
// event contract (INTAKE is intake's, and so on).
func services(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range events.Streams {
		if s.Name == events.StreamDeadLetter {
			continue
		}
		out = append(out, strings.ToLower(s.Name))
	}
	sort.Strings(out)
	var known []string
	for s := range consumes {
		known = append(known, s)
	}
	sort.Strings(known)
	if !slices.Equal(out, known) {
		t.Fatalf("services from pkg/events streams %v, but this test knows what %v consume: update consumes", out, known)
	}
	return out
}

// publishes is what each service's NATS user must be allowed to publish on
// rcm.>, derived from pkg/events: the subjects of the stream the service
// owns, and its own dead-letter subject.
func publishes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, typ := range events.Types() {
		subject, ok1 := events.SubjectOf(typ)
		stream, ok2 := events.StreamOf(typ)
		if !ok1 || !ok2 {
			t.Fatalf("event type %s has no subject or stream", typ)
		}
		svc := strings.ToLower(stream)
		out[svc] = append(out[svc], subject)
	}
	for _, svc := range services(t) {
		out[svc] = append(out[svc], events.SubjectDeadLetterPrefix+svc)
		sort.Strings(out[svc])
	}
	return out
}

// cnpgCluster is the part of CloudNativePG's Cluster (postgresql.cnpg.io/v1)
// that the manifests use. Decoding is strict: a field not declared here is
// an error, so a typo in the manifest is caught, and a new field must be
// added here on purpose.
type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances             int           `json:"instances"`
		ImageName             string        `json:"imageName"`
		PrimaryUpdateStrategy string        `json:"primaryUpdateStrategy"`
		EnableSuperuserAccess *bool         `json:"enableSuperuserAccess"`
		Storage               cnpgStorage   `json:"storage"`
		WalStorage            *cnpgStorage  `json:"walStorage"`
		PostgreSQL            cnpgPostgres  `json:"postgresql"`
		Bootstrap             cnpgBootstrap `json:"bootstrap"`
		Managed               struct {
			Roles []cnpgRole `json:"roles"`
		} `json:"managed"`
		Affinity struct {
			EnablePodAntiAffinity bool   `json:"enablePodAntiAffinity"`
			TopologyKey           string `json:"topologyKey"`
			PodAntiAffinityType   string `json:"podAntiAffinityType"`
		} `json:"affinity"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"spec"`
}

type cnpgStorage struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
}

type cnpgPostgres struct {
	Parameters  map[string]string `json:"parameters"`
	PgHBA       []string          `json:"pg_hba"`
	Synchronous *struct {
		Method         string `json:"method"`
		Number         int    `json:"number"`
		DataDurability string `json:"dataDurability"`
	} `json:"synchronous"`
}

type cnpgBootstrap struct {
	InitDB struct {
		Database               string   `json:"database"`
		Owner                  string   `json:"owner"`
		DataChecksums          bool     `json:"dataChecksums"`
		PostInitApplicationSQL []string `json:"postInitApplicationSQL"`
	} `json:"initdb"`
}

type cnpgRole struct {
	Name           string `json:"name"`
	Ensure         string `json:"ensure"`
	Login          bool   `json:"login"`
	Inherit        *bool  `json:"inherit"`
	PasswordSecret *struct {
		Name string `json:"name"`
	} `json:"passwordSecret"`
}

// certificate is the part of cert-manager's Certificate (cert-manager.io/v1)
// the manifests use.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		IsCA        bool     `json:"isCA"`
		CommonName  string   `json:"commonName"`
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		Usages      []string `json:"usages"`
		DNSNames    []string `json:"dnsNames"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
			Name  string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// issuer is cert-manager's Issuer (cert-manager.io/v1), self-signed or CA.
type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca"`
	} `json:"spec"`
}

// manifests are the decoded objects of one rendered overlay.
type manifests struct {
	overlay         string
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	services        []*corev1.Service
	deployments     []*appsv1.Deployment
	statefulSets    []*appsv1.StatefulSet
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	netpols         []*networkingv1.NetworkPolicy
	clusters        []*cnpgCluster
	certificates    []*certificate
	issuers         []*issuer
}

// decode unmarshals y strictly (unknown or duplicate fields are errors).
func decode[T any](t *testing.T, id string, y []byte) *T {
	t.Helper()
	v := new(T)
	if err := yaml.UnmarshalStrict(y, v); err != nil {
		t.Errorf("%s: strict decode: %v", id, err)
	}
	return v
}

// render builds an overlay with kustomize from the files on disk and decodes
// every object into its API type. An object of a kind this test does not
// know fails the test: a new kind needs its checks.
func render(t *testing.T, overlay string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", overlay, err)
	}
	m := &manifests{overlay: overlay, configMaps: map[string]*corev1.ConfigMap{}}
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", r.CurId(), err)
		}
		id := fmt.Sprintf("%s %s/%s", r.GetKind(), r.GetNamespace(), r.GetName())
		if r.GetKind() != "Namespace" && r.GetNamespace() != "rcm" {
			t.Errorf("%s: namespace %q, want rcm (certificate names and hosts assume it)", id, r.GetNamespace())
		}
		switch r.GetApiVersion() + " " + r.GetKind() {
		case "v1 Namespace":
			m.namespaces = append(m.namespaces, decode[corev1.Namespace](t, id, y))
		case "v1 ServiceAccount":
			m.serviceAccounts = append(m.serviceAccounts, decode[corev1.ServiceAccount](t, id, y))
		case "v1 ConfigMap":
			cm := decode[corev1.ConfigMap](t, id, y)
			m.configMaps[cm.Name] = cm
		case "v1 Service":
			m.services = append(m.services, decode[corev1.Service](t, id, y))
		case "apps/v1 Deployment":
			m.deployments = append(m.deployments, decode[appsv1.Deployment](t, id, y))
		case "apps/v1 StatefulSet":
			m.statefulSets = append(m.statefulSets, decode[appsv1.StatefulSet](t, id, y))
		case "policy/v1 PodDisruptionBudget":
			m.pdbs = append(m.pdbs, decode[policyv1.PodDisruptionBudget](t, id, y))
		case "autoscaling/v2 HorizontalPodAutoscaler":
			m.hpas = append(m.hpas, decode[autoscalingv2.HorizontalPodAutoscaler](t, id, y))
		case "networking.k8s.io/v1 NetworkPolicy":
			m.netpols = append(m.netpols, decode[networkingv1.NetworkPolicy](t, id, y))
		case "postgresql.cnpg.io/v1 Cluster":
			m.clusters = append(m.clusters, decode[cnpgCluster](t, id, y))
		case "cert-manager.io/v1 Certificate":
			m.certificates = append(m.certificates, decode[certificate](t, id, y))
		case "cert-manager.io/v1 Issuer":
			m.issuers = append(m.issuers, decode[issuer](t, id, y))
		case "v1 Secret":
			t.Errorf("%s: Secrets are created by hand (README.md), never committed", id)
		default:
			t.Errorf("%s: apiVersion %s kind %s is not known to this test: add its decoding and checks", id, r.GetApiVersion(), r.GetKind())
		}
	}
	return m
}

func TestOverlays(t *testing.T) {
	// The NATS check connects as the services do, trusting the CA through
	// SSL_CERT_DIR; SSL_CERT_FILE is pointed at nothing so that only that CA
	// counts.
	ca := newTestCA(t)
	t.Setenv("SSL_CERT_DIR", ca.dir)
	t.Setenv("SSL_CERT_FILE", filepath.Join(ca.dir, "none"))
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			m := render(t, overlay)
			if t.Failed() {
				t.FailNow()
			}
			t.Run("workloads", func(t *testing.T) { checkWorkloads(t, m) })
			t.Run("services", func(t *testing.T) { checkServices(t, m) })
			t.Run("availability", func(t *testing.T) { checkAvailability(t, m) })
			t.Run("configuration", func(t *testing.T) { checkConfiguration(t, m) })
			t.Run("secrets", func(t *testing.T) { checkSecrets(t, m) })
			t.Run("postgres", func(t *testing.T) { checkPostgres(t, m) })
			t.Run("certificates", func(t *testing.T) { checkCertificates(t, m) })
			t.Run("networkpolicies", func(t *testing.T) { checkNetworkPolicies(t, m) })
			t.Run("nats", func(t *testing.T) { checkNATS(t, m, ca) })
		})
	}
}

// deployment returns the Deployment named name.
func (m *manifests) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return nil
}

func (m *manifests) statefulSet(t *testing.T, name string) *appsv1.StatefulSet {
	t.Helper()
	for _, s := range m.statefulSets {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no StatefulSet %s", name)
	return nil
}

func (m *manifests) cluster(t *testing.T) *cnpgCluster {
	t.Helper()
	if len(m.clusters) != 1 {
		t.Fatalf("%d CloudNativePG Clusters, want 1", len(m.clusters))
	}
	return m.clusters[0]
}

// podSpecs are every pod template of the overlay, by owner.
func (m *manifests) podSpecs() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, d := range m.deployments {
		out["Deployment "+d.Name] = &d.Spec.Template
	}
	for _, s := range m.statefulSets {
		out["StatefulSet "+s.Name] = &s.Spec.Template
	}
	return out
}

// checkWorkloads: every container has liveness and readiness probes,
// resource requests and limits, and a restricted, non-root security context;
// the pipeline's Deployments run the one image with their subcommand and
// probe /healthz and /readyz on their ops port.
func checkWorkloads(t *testing.T, m *manifests) {
	if len(m.deployments) == 0 || len(m.statefulSets) == 0 {
		t.Fatalf("%d Deployments and %d StatefulSets rendered", len(m.deployments), len(m.statefulSets))
	}
	for owner, tpl := range m.podSpecs() {
		checkPod(t, owner, &tpl.Spec)
	}
	for _, svc := range services(t) {
		d := m.deployment(t, svc)
		id := "Deployment " + svc
		if d.Spec.Replicas != nil {
			t.Errorf("%s: spec.replicas is set: the HorizontalPodAutoscaler owns the count, and kubectl apply would reset it", id)
		}
		if got := d.Spec.Template.Labels["app.kubernetes.io/component"]; got != "pipeline" {
			t.Errorf("%s: pod label app.kubernetes.io/component=%q, want pipeline (network policies select on it)", id, got)
		}
		cs := d.Spec.Template.Spec.Containers
		if len(cs) != 1 {
			t.Errorf("%s: %d containers, want 1", id, len(cs))
			continue
		}
		c := cs[0]
		name, tag, _ := strings.Cut(c.Image, ":")
		if name != image || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q, want %s:<pinned tag>", id, c.Image, image)
		}
		if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != svc {
			t.Errorf("%s: command %q args %q, want the image's rcm entrypoint with args [%s ...]", id, c.Command, c.Args, svc)
		}
		ops := opsPort(t, id, c)
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", id, p.kind)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s: %s probe path %q, want %s", id, p.kind, p.probe.HTTPGet.Path, p.path)
			}
			if got := containerPort(t, id, c, p.probe.HTTPGet.Port.String()); got != ops {
				t.Errorf("%s: %s probe on port %d, want the ops port %d", id, p.kind, got, ops)
			}
		}
		if d.Spec.Template.Annotations["prometheus.io/port"] != strconv.Itoa(int(ops)) {
			t.Errorf("%s: prometheus.io/port annotation %q, want the ops port %d", id, d.Spec.Template.Annotations["prometheus.io/port"], ops)
		}
	}
}

// flagValue returns --name=value from args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// opsPort is the port of /metrics, /healthz and /readyz: --ops-addr, or for
// intake (which serves them beside the webhook API) --addr.
func opsPort(t *testing.T, id string, c corev1.Container) int32 {
	t.Helper()
	addr, ok := flagValue(c.Args, "ops-addr")
	if !ok && c.Args[0] == "intake" {
		addr, ok = flagValue(c.Args, "addr")
	}
	if !ok {
		t.Errorf("%s: no --ops-addr in args %q", id, c.Args)
		return 0
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		t.Errorf("%s: ops address %q: want :PORT on every interface (the defaults listen on 127.0.0.1 only)", id, addr)
		return 0
	}
	n, _ := strconv.Atoi(port)
	found := false
	for _, p := range c.Ports {
		found = found || p.ContainerPort == int32(n)
	}
	if !found {
		t.Errorf("%s: ops port %d is not a container port", id, n)
	}
	return int32(n)
}

// containerPort resolves a port name or number of c.
func containerPort(t *testing.T, id string, c corev1.Container, port string) int32 {
	t.Helper()
	if n, err := strconv.Atoi(port); err == nil {
		return int32(n)
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return p.ContainerPort
		}
	}
	t.Errorf("%s: container %s has no port named %q", id, c.Name, port)
	return 0
}

func checkPod(t *testing.T, owner string, spec *corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false (no pod talks to the API server)", owner)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("%s: uses a host namespace", owner)
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: volume %s is a hostPath", owner, v.Name)
		}
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		id := owner + " container " + c.Name
		if c.LivenessProbe == nil {
			t.Errorf("%s: no liveness probe", id)
		}
		if c.ReadinessProbe == nil {
			t.Errorf("%s: no readiness probe", id)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			if !okReq || req.IsZero() {
				t.Errorf("%s: no %s request", id, r)
			}
			if !okLim || lim.IsZero() {
				t.Errorf("%s: no %s limit", id, r)
			}
			if okReq && okLim && req.Cmp(lim) > 0 {
				t.Errorf("%s: %s request %s above its limit %s", id, r, req.String(), lim.String())
			}
		}
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", id)
			continue
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			t.Errorf("%s: runAsNonRoot is not true", id)
		}
		user := sc.RunAsUser
		if user == nil {
			user = psc.RunAsUser
		}
		if user == nil || *user == 0 {
			t.Errorf("%s: runAsUser must name a non-zero uid (an image's USER may be a name the kubelet cannot check)", id)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", id)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", id)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", id)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 {
			t.Errorf("%s: capabilities must drop ALL and add none", id)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile is not RuntimeDefault", id)
		}
	}
}

// checkServices: intake's webhook port and the denials UI have a Service
// that reaches the pods' port.
func checkServices(t *testing.T, m *manifests) {
	for _, want := range []struct{ svc, port string }{{"intake", "http"}, {"denials", "http"}, {"nats", "client"}} {
		var s *corev1.Service
		for _, x := range m.services {
			if x.Name == want.svc {
				s = x
			}
		}
		if s == nil {
			t.Errorf("no Service %s", want.svc)
			continue
		}
		var tpl *corev1.PodTemplateSpec
		for owner, p := range m.podSpecs() {
			if strings.HasSuffix(owner, " "+want.svc) {
				tpl = p
			}
		}
		if tpl == nil {
			t.Errorf("Service %s: no workload of that name", want.svc)
			continue
		}
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(tpl.Labels)) || len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s: selector %v does not select its pods %v", s.Name, s.Spec.Selector, tpl.Labels)
		}
		found := false
		for _, p := range s.Spec.Ports {
			if p.TargetPort.String() != want.port {
				continue
			}
			for _, c := range tpl.Spec.Containers {
				for _, cp := range c.Ports {
					found = found || cp.Name == want.port
				}
			}
		}
		if !found {
			t.Errorf("Service %s: no port targets the pods' %q port", s.Name, want.port)
		}
	}
}

// checkAvailability: every Deployment and StatefulSet has a
// PodDisruptionBudget that selects its pods and lets a node drain; every
// Deployment has an autoscaling/v2 HorizontalPodAutoscaler.
func checkAvailability(t *testing.T, m *manifests) {
	minReplicas := map[string]int32{}
	for _, d := range m.deployments {
		var hpas []*autoscalingv2.HorizontalPodAutoscaler
		for _, h := range m.hpas {
			ref := h.Spec.ScaleTargetRef
			if ref.Kind == "Deployment" && ref.Name == d.Name {
				hpas = append(hpas, h)
				if ref.APIVersion != "apps/v1" {
					t.Errorf("HorizontalPodAutoscaler %s: scaleTargetRef apiVersion %q, want apps/v1", h.Name, ref.APIVersion)
				}
			}
		}
		if len(hpas) != 1 {
			t.Errorf("Deployment %s: %d HorizontalPodAutoscalers, want 1", d.Name, len(hpas))
			continue
		}
		h := hpas[0]
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas || len(h.Spec.Metrics) == 0 {
			t.Errorf("HorizontalPodAutoscaler %s: min %v max %d metrics %d: want 1 <= min <= max and a metric", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas, len(h.Spec.Metrics))
			continue
		}
		if m.overlay == "prod" && *h.Spec.MinReplicas < 2 {
			t.Errorf("HorizontalPodAutoscaler %s: minReplicas %d in prod: one pod is no availability", h.Name, *h.Spec.MinReplicas)
		}
		minReplicas["Deployment "+d.Name] = *h.Spec.MinReplicas
	}
	for _, h := range m.hpas {
		found := false
		for _, d := range m.deployments {
			found = found || h.Spec.ScaleTargetRef.Name == d.Name
		}
		if !found {
			t.Errorf("HorizontalPodAutoscaler %s scales %s, which is not rendered", h.Name, h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, s := range m.statefulSets {
		if s.Spec.Replicas == nil {
			t.Errorf("StatefulSet %s: no replicas", s.Name)
			continue
		}
		minReplicas["StatefulSet "+s.Name] = *s.Spec.Replicas
	}
	for owner, tpl := range m.podSpecs() {
		var pdbs []*policyv1.PodDisruptionBudget
		for _, p := range m.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil {
				t.Errorf("PodDisruptionBudget %s: %v", p.Name, err)
				continue
			}
			if !sel.Empty() && sel.Matches(labels.Set(tpl.Labels)) {
				pdbs = append(pdbs, p)
			}
		}
		if len(pdbs) != 1 {
			t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", owner, len(pdbs))
			continue
		}
		p := pdbs[0]
		switch {
		case p.Spec.MaxUnavailable != nil:
			if v := p.Spec.MaxUnavailable.String(); v == "0" || v == "0%" {
				t.Errorf("PodDisruptionBudget %s: maxUnavailable %s blocks every drain", p.Name, v)
			}
		case p.Spec.MinAvailable != nil:
			v := p.Spec.MinAvailable
			if v.String() == "100%" || (v.Type == intstr.Int && v.IntVal >= minReplicas[owner]) {
				t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every drain", p.Name, v.String(), minReplicas[owner])
			}
		default:
			t.Errorf("PodDisruptionBudget %s: neither maxUnavailable nor minAvailable", p.Name)
		}
	}
}

// env is one container's environment: its env list and the ConfigMaps it
// takes whole.
type env struct {
	c   corev1.Container
	cms []*corev1.ConfigMap
}

func (m *manifests) env(t *testing.T, c corev1.Container) env {
	t.Helper()
	e := env{c: c}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("container %s: envFrom ConfigMap %s is not rendered", c.Name, from.ConfigMapRef.Name)
				continue
			}
			e.cms = append(e.cms, cm)
		case from.SecretRef != nil:
			t.Errorf("container %s: envFrom Secret %s: name the keys one by one", c.Name, from.SecretRef.Name)
		}
	}
	return e
}

// value returns a variable's literal value, from env or a ConfigMap.
func (e env) value(name string) (string, bool) {
	for _, v := range e.c.Env {
		if v.Name == name && v.ValueFrom == nil {
			return v.Value, true
		}
	}
	for _, cm := range e.cms {
		if v, ok := cm.Data[name]; ok {
			return v, true
		}
	}
	return "", false
}

// secretRef returns the Secret key a variable is read from, and its index.
func (e env) secretRef(name string) (*corev1.SecretKeySelector, int) {
	for i, v := range e.c.Env {
		if v.Name == name && v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil {
			return v.ValueFrom.SecretKeyRef, i
		}
	}
	return nil, -1
}

func (e env) index(name string) int {
	for i, v := range e.c.Env {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// mountedFile returns the Secret and key that the file at path comes from,
// through c's volume mounts and the pod's secret or projected volumes.
func mountedFile(spec *corev1.PodSpec, c corev1.Container, path string) (secret, key string, ok bool) {
	for _, vm := range c.VolumeMounts {
		rel, found := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !found {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			var sources []*corev1.SecretProjection
			if v.Secret != nil {
				sources = append(sources, &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: v.Secret.SecretName}, Items: v.Secret.Items})
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.Secret != nil {
						sources = append(sources, s.Secret)
					}
				}
			}
			for _, s := range sources {
				if len(s.Items) == 0 {
					return s.Name, rel, true
				}
				for _, it := range s.Items {
					if it.Path == rel {
						return s.Name, it.Key, true
					}
				}
			}
		}
	}
	return "", "", false
}

// checkConfiguration: each service reaches NATS over TLS as its own user
// and Postgres as its own role with verify-full, trusts the NATS CA through
// SSL_CERT_DIR, and the variables it needs are set.
func checkConfiguration(t *testing.T, m *manifests) {
	cl := m.cluster(t)
	caCert := ""
	for _, c := range m.certificates {
		if c.Spec.IsCA {
			caCert = c.Spec.SecretName
		}
	}
	for _, svc := range services(t) {
		d := m.deployment(t, svc)
		c := d.Spec.Template.Spec.Containers[0]
		id := "Deployment " + svc
		e := m.env(t, c)

		// NATS: tls://<svc>:$(NATS_PASSWORD)@nats:4222.
		ref, pwIdx := e.secretRef("NATS_PASSWORD")
		if ref == nil || ref.Name != "rcm-"+svc+"-nats" {
			t.Errorf("%s: NATS_PASSWORD must come from Secret rcm-%s-nats, got %+v", id, svc, ref)
		}
		raw, ok := e.value("RCM_NATS_URL")
		if !ok {
			t.Errorf("%s: no RCM_NATS_URL", id)
		} else if u, err := url.Parse(raw); err != nil {
			t.Errorf("%s: RCM_NATS_URL: %v", id, err)
		} else {
			pw, _ := u.User.Password()
			if u.Scheme != "tls" || u.User.Username() != svc || pw != "$(NATS_PASSWORD)" || u.Host != "nats:4222" {
				t.Errorf("%s: RCM_NATS_URL %q, want tls://%s:$(NATS_PASSWORD)@nats:4222", id, raw, svc)
			}
			if pwIdx < 0 || e.index("RCM_NATS_URL") < pwIdx {
				t.Errorf("%s: NATS_PASSWORD must be defined before RCM_NATS_URL for $(NATS_PASSWORD) to expand", id)
			}
		}
		// The Go TLS stack of the services adds the files in SSL_CERT_DIR to
		// the system roots: the NATS CA must be there.
		dir, ok := e.value("SSL_CERT_DIR")
		if !ok {
			t.Errorf("%s: no SSL_CERT_DIR: the services could not verify the NATS certificate", id)
		} else if secret, key, ok := mountedFile(&d.Spec.Template.Spec, c, dir+"/nats-ca.crt"); !ok || secret != caCert || key != "ca.crt" {
			t.Errorf("%s: %s/nats-ca.crt is %s/%s, want the ca.crt of the NATS CA's Secret %s", id, dir, secret, key, caCert)
		}

		// Postgres: postgres://<svc>@<cluster>-rw:5432/<db>?sslmode=verify-full.
		raw, ok = e.value("DATABASE_URL")
		if !ok {
			t.Errorf("%s: no DATABASE_URL", id)
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: DATABASE_URL: %v", id, err)
			continue
		}
		if _, has := u.User.Password(); has {
			t.Errorf("%s: DATABASE_URL carries a password: use PGPASSWORD from the Secret", id)
		}
		want := fmt.Sprintf("postgres://%s@%s-rw:5432/%s", svc, cl.Name, cl.Spec.Bootstrap.InitDB.Database)
		if got := fmt.Sprintf("%s://%s@%s%s", u.Scheme, u.User.Username(), u.Host, u.Path); got != want {
			t.Errorf("%s: DATABASE_URL %s, want %s", id, got, want)
		}
		q := u.Query()
		if q.Get("sslmode") != "verify-full" {
			t.Errorf("%s: DATABASE_URL sslmode %q, want verify-full", id, q.Get("sslmode"))
		}
		if secret, key, ok := mountedFile(&d.Spec.Template.Spec, c, q.Get("sslrootcert")); !ok || secret != cl.Name+"-ca" || key != "ca.crt" {
			t.Errorf("%s: sslrootcert %q is %s/%s, want ca.crt of the operator's Secret %s-ca", id, q.Get("sslrootcert"), secret, key, cl.Name)
		}
		if ref, _ := e.secretRef("PGPASSWORD"); ref == nil || ref.Name != "rcm-"+svc+"-db" || ref.Key != "password" {
			t.Errorf("%s: PGPASSWORD must come from Secret rcm-%s-db key password, got %+v", id, svc, ref)
		}
	}
	intake := m.env(t, m.deployment(t, "intake").Spec.Template.Spec.Containers[0])
	if ref, _ := intake.secretRef("RCM_WEBHOOK_SECRETS"); ref == nil {
		t.Errorf("intake: RCM_WEBHOOK_SECRETS must come from a Secret (it refuses to start without webhook secrets)")
	}
	cfg, ok := m.configMaps[m.deployment(t, "coder").Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name]
	if !ok {
		t.Fatalf("coder's first ConfigMap is not rendered")
	}
	wantReplicas := map[string]string{"dev": "1", "prod": "3"}[m.overlay]
	if got := cfg.Data["RCM_STREAM_REPLICAS"]; got != wantReplicas {
		t.Errorf("RCM_STREAM_REPLICAS %q in %s, want %s", got, m.overlay, wantReplicas)
	}
}

// secretish are names of variables and ConfigMap keys that hold secrets.
var secretish = regexp.MustCompile(`(?i)password|passwd|secret|token|session_key|private_key|js_key|encryption_key`)

// uiPort is the port of the denials web UI (--http-addr).
func uiPort(t *testing.T, m *manifests) int32 {
	t.Helper()
	c := m.deployment(t, "denials").Spec.Template.Spec.Containers[0]
	addr, ok := flagValue(c.Args, "http-addr")
	_, port, err := net.SplitHostPort(addr)
	if !ok || err != nil {
		t.Fatalf("denials: --http-addr %q: want :PORT", addr)
	}
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// checkSecrets: no secret value is committed (no literal value under a
// secret-looking name, in env or a ConfigMap), and every Secret the
// manifests reference is documented in README.md.
func checkSecrets(t *testing.T, m *manifests) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, cm := range m.configMaps {
		for k := range cm.Data {
			if secretish.MatchString(k) && !strings.HasSuffix(k, ".conf") {
				t.Errorf("ConfigMap %s: key %s looks like a secret", name, k)
			}
		}
	}
	refs := map[string]string{}
	for owner, tpl := range m.podSpecs() {
		for _, c := range append(append([]corev1.Container{}, tpl.Spec.InitContainers...), tpl.Spec.Containers...) {
			for _, v := range c.Env {
				if v.ValueFrom == nil && secretish.MatchString(v.Name) {
					t.Errorf("%s: env %s has a literal value: read it from a Secret", owner, v.Name)
				}
				if v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil {
					refs[v.ValueFrom.SecretKeyRef.Name] = owner
				}
			}
		}
		for _, v := range tpl.Spec.Volumes {
			if v.Secret != nil {
				refs[v.Secret.SecretName] = owner
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.Secret != nil {
						refs[s.Secret.Name] = owner
					}
				}
			}
		}
	}
	for _, r := range m.cluster(t).Spec.Managed.Roles {
		if r.PasswordSecret != nil {
			refs[r.PasswordSecret.Name] = "Cluster role " + r.Name
		}
	}
	for name, owner := range refs {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("Secret %s (used by %s) is not documented in README.md", name, owner)
		}
	}
}

// checkPostgres: instances per overlay, synchronous replication in prod, a
// login role per service whose password is the Secret its Deployment reads,
// owning its schema in the one database, and a connection budget that holds
// when every autoscaler is at its maximum.
func checkPostgres(t *testing.T, m *manifests) {
	cl := m.cluster(t)
	want := map[string]int{"dev": 1, "prod": 3}[m.overlay]
	if cl.Spec.Instances != want {
		t.Errorf("Cluster %s: %d instances in %s, want %d", cl.Name, cl.Spec.Instances, m.overlay, want)
	}
	if m.overlay == "prod" {
		s := cl.Spec.PostgreSQL.Synchronous
		if s == nil || s.Number < 1 || s.DataDurability != "required" {
			t.Errorf("Cluster %s: prod needs synchronous replication (number >= 1, dataDurability required), got %+v", cl.Name, s)
		}
	}
	if cl.Spec.EnableSuperuserAccess == nil || *cl.Spec.EnableSuperuserAccess {
		t.Errorf("Cluster %s: enableSuperuserAccess must be false", cl.Name)
	}
	if q := quantity(t, cl.Spec.Storage.Size); q.Cmp(quantity(t, "1Gi")) < 0 {
		t.Errorf("Cluster %s: storage %s", cl.Name, cl.Spec.Storage.Size)
	}
	if !slices.Contains(cl.Spec.PostgreSQL.PgHBA, "hostnossl all all all reject") {
		t.Errorf("Cluster %s: pg_hba must reject connections without TLS", cl.Name)
	}
	db := cl.Spec.Bootstrap.InitDB.Database
	sql := cl.Spec.Bootstrap.InitDB.PostInitApplicationSQL
	if !slices.Contains(sql, "REVOKE ALL ON DATABASE "+db+" FROM PUBLIC") {
		t.Errorf("Cluster %s: PUBLIC keeps its privileges on database %s", cl.Name, db)
	}
	roles := map[string]cnpgRole{}
	for _, r := range cl.Spec.Managed.Roles {
		roles[r.Name] = r
	}
	for _, svc := range services(t) {
		r, ok := roles[svc]
		if !ok || !r.Login || r.Ensure != "present" || r.PasswordSecret == nil || r.PasswordSecret.Name != "rcm-"+svc+"-db" {
			t.Errorf("Cluster %s: role %s must be present, login, with passwordSecret rcm-%s-db; got %+v", cl.Name, svc, svc, r)
		}
		for _, stmt := range []string{
			"CREATE ROLE " + svc + " NOLOGIN",
			"GRANT CONNECT, CREATE ON DATABASE " + db + " TO " + svc,
			"CREATE SCHEMA " + svc + " AUTHORIZATION " + svc,
		} {
			if !slices.Contains(sql, stmt) {
				t.Errorf("Cluster %s: postInitApplicationSQL lacks %q", cl.Name, stmt)
			}
		}
	}
	maxConns, err := strconv.Atoi(cl.Spec.PostgreSQL.Parameters["max_connections"])
	if err != nil {
		t.Fatalf("Cluster %s: max_connections: %v", cl.Name, err)
	}
	total := 0
	for _, d := range m.deployments {
		e := m.env(t, d.Spec.Template.Spec.Containers[0])
		v, ok := e.value("RCM_DB_MAX_CONNS")
		if !ok {
			t.Errorf("Deployment %s: no RCM_DB_MAX_CONNS (the default, 24 per pod, overruns Postgres)", d.Name)
			continue
		}
		n, _ := strconv.Atoi(v)
		for _, h := range m.hpas {
			if h.Spec.ScaleTargetRef.Name == d.Name {
				total += n * int(h.Spec.MaxReplicas)
			}
		}
	}
	const reserve = 20 // superuser, the operator, replication, operators' psql
	if total+reserve > maxConns {
		t.Errorf("Cluster %s: services may open %d connections at their autoscalers' maxima, max_connections %d leaves less than %d spare", cl.Name, total, maxConns, reserve)
	}
}

// checkCertificates: every Certificate's issuer is rendered, the CA issuer
// signs with a CA certificate, and the NATS server certificate names the
// host the services dial and the hosts of the cluster routes, for both
// server and client authentication (the routes are mutual TLS).
func checkCertificates(t *testing.T, m *manifests) {
	issuers := map[string]*issuer{}
	for _, is := range m.issuers {
		issuers[is.Name] = is
		if (is.Spec.SelfSigned == nil) == (is.Spec.CA == nil) {
			t.Errorf("Issuer %s: want exactly one of selfSigned and ca", is.Name)
		}
	}
	certs := map[string]*certificate{}
	for _, c := range m.certificates {
		certs[c.Spec.SecretName] = c
	}
	for _, c := range m.certificates {
		ref := c.Spec.IssuerRef
		is, ok := issuers[ref.Name]
		if !ok || ref.Kind != "Issuer" || ref.Group != "cert-manager.io" {
			t.Errorf("Certificate %s: issuer %+v is not a rendered Issuer", c.Name, ref)
			continue
		}
		if is.Spec.CA != nil {
			if ca, ok := certs[is.Spec.CA.SecretName]; !ok || !ca.Spec.IsCA {
				t.Errorf("Issuer %s: Secret %s is not issued by a CA Certificate", is.Name, is.Spec.CA.SecretName)
			}
		}
		if c.Spec.SecretName == "" || c.Spec.PrivateKey == nil || c.Spec.Duration == "" {
			t.Errorf("Certificate %s: secretName, privateKey and duration are required here", c.Name)
		}
	}
	server := natsServerCert(t, m)
	if server == nil {
		return
	}
	for _, u := range []string{"server auth", "client auth"} {
		if !slices.Contains(server.Spec.Usages, u) {
			t.Errorf("Certificate %s: no %q usage", server.Name, u)
		}
	}
	sts := m.statefulSet(t, "nats")
	for _, host := range []string{"nats", "nats-0." + sts.Spec.ServiceName} {
		if !certCovers(server.Spec.DNSNames, host) {
			t.Errorf("Certificate %s: dnsNames %v do not cover %s", server.Name, server.Spec.DNSNames, host)
		}
	}
}

// natsServerCert is the Certificate whose Secret the nats pods mount.
func natsServerCert(t *testing.T, m *manifests) *certificate {
	t.Helper()
	sts := m.statefulSet(t, "nats")
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, c := range m.certificates {
			if c.Spec.SecretName == v.Secret.SecretName {
				return c
			}
		}
	}
	t.Errorf("StatefulSet nats mounts no Secret issued by a Certificate")
	return nil
}

func certCovers(names []string, host string) bool {
	for _, n := range names {
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, after, ok := strings.Cut(host, "."); ok && after == rest {
				return true
			}
		}
	}
	return false
}

// endpoint is one side of a connection in the network policy model: a pod
// (namespace and labels) or an address outside the cluster.
type endpoint struct {
	name      string
	namespace string
	labels    map[string]string
	ip        net.IP
}

// nsLabels are the labels the API server puts on a namespace.
func (e endpoint) nsLabels() labels.Set {
	return labels.Set{"kubernetes.io/metadata.name": e.namespace}
}

// peerMatches reports whether a policy peer (in the policy's namespace)
// matches e. ipBlock is taken to match only addresses outside the cluster.
func peerMatches(t *testing.T, ns string, p networkingv1.NetworkPolicyPeer, e endpoint) bool {
	t.Helper()
	if p.IPBlock != nil {
		if e.ip == nil {
			return false
		}
		_, cidr, err := net.ParseCIDR(p.IPBlock.CIDR)
		if err != nil {
			t.Errorf("ipBlock %s: %v", p.IPBlock.CIDR, err)
			return false
		}
		for _, ex := range p.IPBlock.Except {
			if _, x, err := net.ParseCIDR(ex); err == nil && x.Contains(e.ip) {
				return false
			}
		}
		return cidr.Contains(e.ip)
	}
	if e.ip != nil {
		return false
	}
	if p.NamespaceSelector == nil {
		if e.namespace != ns {
			return false
		}
	} else if !selects(t, p.NamespaceSelector, e.nsLabels()) {
		return false
	}
	return p.PodSelector == nil || selects(t, p.PodSelector, e.labels)
}

func selects(t *testing.T, s *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Errorf("selector %v: %v", s, err)
		return false
	}
	return sel.Matches(labels.Set(set))
}

func portMatches(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		lo := int32(p.Port.IntValue())
		hi := lo
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

// allows reports whether the policies let from open a connection to to's
// port: egress must be allowed at from (when from is one of our pods) and
// ingress at to (when to is one of ours), each by some policy that selects
// the pod, since our namespace denies everything by default.
func allows(t *testing.T, pols []*networkingv1.NetworkPolicy, from, to endpoint, proto corev1.Protocol, port int32) bool {
	t.Helper()
	side := func(pod endpoint, dir networkingv1.PolicyType, peer endpoint) bool {
		if pod.ip != nil || pod.namespace != "rcm" {
			return true // not ours: its own namespace's policies decide
		}
		isolated, allowed := false, false
		for _, p := range pols {
			if !slices.Contains(p.Spec.PolicyTypes, dir) || !selects(t, &p.Spec.PodSelector, pod.labels) {
				continue
			}
			isolated = true
			if dir == networkingv1.PolicyTypeEgress {
				for _, r := range p.Spec.Egress {
					for _, to := range r.To {
						allowed = allowed || (peerMatches(t, p.Namespace, to, peer) && portMatches(r.Ports, proto, port))
					}
				}
			} else {
				for _, r := range p.Spec.Ingress {
					for _, from := range r.From {
						allowed = allowed || (peerMatches(t, p.Namespace, from, peer) && portMatches(r.Ports, proto, port))
					}
				}
			}
		}
		return !isolated || allowed
	}
	return side(from, networkingv1.PolicyTypeEgress, to) && side(to, networkingv1.PolicyTypeIngress, from)
}

// checkNetworkPolicies: default deny in both directions, no rule open to
// every source or destination, the flows the pipeline needs allowed and a
// sample of the ones it does not need denied.
func checkNetworkPolicies(t *testing.T, m *manifests) {
	denyAll := false
	for _, p := range m.netpols {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
			len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 {
			denyAll = true
		}
		for _, r := range p.Spec.Ingress {
			if len(r.From) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule without from admits every source", p.Name)
			}
		}
		for _, r := range p.Spec.Egress {
			if len(r.To) == 0 {
				t.Errorf("NetworkPolicy %s: an egress rule without to allows every destination", p.Name)
			}
		}
	}
	if !denyAll {
		t.Errorf("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}

	pod := func(tpl *corev1.PodTemplateSpec, name string) endpoint {
		return endpoint{name: name, namespace: "rcm", labels: tpl.Labels}
	}
	svc := map[string]endpoint{}
	ops := map[string]int32{}
	for _, s := range services(t) {
		d := m.deployment(t, s)
		svc[s] = pod(&d.Spec.Template, s)
		ops[s] = opsPort(t, "Deployment "+s, d.Spec.Template.Spec.Containers[0])
	}
	nats := pod(&m.statefulSet(t, "nats").Spec.Template, "nats")
	pg := endpoint{name: "postgres", namespace: "rcm", labels: map[string]string{"cnpg.io/cluster": m.cluster(t).Name, "cnpg.io/podRole": "instance"}}
	ingressCtl := endpoint{name: "ingress controller", namespace: "ingress-nginx", labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prometheus := endpoint{name: "prometheus", namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	operator := endpoint{name: "cnpg operator", namespace: "cnpg-system", labels: map[string]string{"app.kubernetes.io/name": "cloudnative-pg"}}
	dns := endpoint{name: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}}
	stranger := endpoint{name: "a pod in namespace default", namespace: "default", labels: map[string]string{"app": "other"}}
	sftp := endpoint{name: "clearinghouse SFTP", ip: net.ParseIP("203.0.113.10")}
	apiServer := endpoint{name: "API server", ip: net.ParseIP("10.0.0.1")}

	type flow struct {
		from, to endpoint
		proto    corev1.Protocol
		port     int32
	}
	tcp := func(from, to endpoint, port int32) flow { return flow{from, to, corev1.ProtocolTCP, port} }
	want := []flow{
		tcp(ingressCtl, svc["intake"], 8080),
		tcp(ingressCtl, svc["denials"], uiPort(t, m)),
		tcp(nats, nats, 6222),
		tcp(svc["submitter"], sftp, 22),
		tcp(svc["denials"], sftp, 22),
		tcp(prometheus, pg, 9187),
		tcp(pg, pg, 5432),
		tcp(operator, pg, 8000),
		tcp(pg, apiServer, 443),
		{nats, dns, corev1.ProtocolUDP, 53},
		{pg, dns, corev1.ProtocolUDP, 53},
	}
	deny := []flow{
		tcp(stranger, svc["intake"], 8080),
		tcp(stranger, nats, 4222),
		tcp(stranger, pg, 5432),
		tcp(ingressCtl, nats, 4222),
		tcp(ingressCtl, pg, 5432),
		tcp(prometheus, nats, 4222),
		tcp(nats, pg, 5432),
		tcp(svc["coder"], sftp, 22),
		tcp(svc["coder"], apiServer, 443),
		tcp(nats, sftp, 22),
	}
	for _, s := range services(t) {
		want = append(want,
			tcp(svc[s], nats, 4222),
			tcp(svc[s], pg, 5432),
			tcp(prometheus, svc[s], ops[s]),
			flow{svc[s], dns, corev1.ProtocolUDP, 53},
		)
		deny = append(deny, tcp(stranger, svc[s], ops[s]))
		for _, o := range services(t) {
			if o != s {
				deny = append(deny, tcp(svc[s], svc[o], ops[o]))
			}
		}
	}
	for _, s := range []string{"coder", "submitter"} {
		deny = append(deny, tcp(ingressCtl, svc[s], ops[s]))
	}
	for _, f := range want {
		if !allows(t, m.netpols, f.from, f.to, f.proto, f.port) {
			t.Errorf("network policies block %s -> %s %s/%d, which the pipeline needs", f.from.name, f.to.name, f.proto, f.port)
		}
	}
	for _, f := range deny {
		if allows(t, m.netpols, f.from, f.to, f.proto, f.port) {
			t.Errorf("network policies allow %s -> %s %s/%d, which nothing needs", f.from.name, f.to.name, f.proto, f.port)
		}
	}
}

// quantity parses a resource quantity or fails.
func quantity(t *testing.T, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatalf("quantity %q: %v", s, err)
	}
	return q
}
