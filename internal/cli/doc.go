// Package cli is humcli, humstack's command-line client (its usage text
// says "humstack", as the seed's does). It reads YAML or JSON manifests and
// talks to the API server through the generic client; every kind is handled
// by the same code, driven by the api kind registry, so a new kind needs no
// change here.
//
// Main is the whole program; cmd/humcli only wires it to the process, so
// tests run the real command line in-process against an httptest server.
package cli
