// Package api holds humstack's public wire types: the object envelope
// (Meta, Resource), one definition per resource kind, the kind registry, the
// error classes shared by the API server and its clients, and the decoders
// that turn user YAML or JSON into typed objects.
//
// Every kind is declared exactly once: its spec and status types, and one
// Kind entry in the registry (kinds.go). Everything generic — HTTP handlers,
// the client, watch, the CLI — is driven from that registry.
package api
