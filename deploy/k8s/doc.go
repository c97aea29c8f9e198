// Package k8s holds the Kubernetes manifests of rcm: a kustomize base
// (base/) and the overlays dev and prod (overlays/), deployed with
// `kubectl apply -k deploy/k8s/overlays/prod` as README.md describes.
//
// The package has no Go code of its own. Its test renders every overlay
// with kustomize's krusty, decodes every object strictly into its
// Kubernetes API type (or, for the cert-manager and CloudNativePG custom
// resources, a local struct that rejects unknown fields) and checks the
// deployment's promises: probes, resources and a restricted security
// context on every container; a PodDisruptionBudget and an autoscaler for
// every Deployment; network policies that deny by default and allow only
// the pipeline's flows; per-service Postgres roles; and a NATS
// configuration with TLS, encryption at rest, sync_interval always and one
// user per service that may publish only its own subjects, which the test
// proves by running nats-server with that configuration.
package k8s
