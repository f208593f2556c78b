//go:build tools

// Package tools pins the daemon's main package so `go mod tidy` keeps its dependencies in go.sum.
package tools

import _ "github.com/aws/aws-xray-daemon/daemon"
