package main

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
)

// coop is the test rig (cmd/coopnet/rig), with this package's helpers on it.
type coop struct{ *rig.Coop }

func newCoop(t testing.TB, offerTTL time.Duration) *coop { return &coop{rig.New(t, offerTTL)} }

func ptrTo[T any](v T) *T { return &v }
