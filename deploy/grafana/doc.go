// Package grafana holds humstack's Grafana dashboard, humstack.json (API
// health, reconcile health, nodes, top VMs; docs/metrics.md). It has no
// code: its test validates the dashboard, every query parsed by promtool
// and every metric it names one that the apiserver exposes (a real
// scrape) or that docs/metrics.md documents for the agents.
package grafana
