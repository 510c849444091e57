//go:build tools

// Package tools pins Parca, the server of the scrape integration test
// (tests/go/parcatest): go.mod and go.sum fix every module it is built from.
package tools

import _ "github.com/parca-dev/parca/cmd/parca"
