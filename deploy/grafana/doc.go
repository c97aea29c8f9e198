// Package grafana holds rcm's Grafana dashboard, rcm-dashboard.json: import
// it into Grafana (Dashboards → New → Import) and pick the Prometheus data
// source that scrapes the services' /metrics.
//
// The package has no Go code of its own. Its test checks that the
// dashboard is valid JSON with a query on every panel, and that every rcm_
// metric a query names is one the code registers, so that renaming a metric
// without the dashboard fails the build.
package grafana
