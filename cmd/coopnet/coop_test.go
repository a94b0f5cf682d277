package main

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
	"github.com/coopnet/coopnet/services/bus"
)

// coop is the test rig (cmd/coopnet/rig) with this package's own helpers
// on it: three regional nodes of the seed story on real databases, real
// NATS and real HTTP.
type coop struct{ *rig.Coop }

type coopNode = rig.Node

// The story's people.
const (
	jeanEmail   = rig.Jean
	claireEmail = rig.Claire
	marieEmail  = rig.Marie
	gwenEmail   = rig.Gwen
	yannEmail   = rig.Yann
	paulEmail   = rig.Paul
	zoeEmail    = rig.Zoe
)

func newCoop(t testing.TB, offerTTL time.Duration) *coop { return &coop{rig.New(t, offerTTL)} }

func newCoopOn(t testing.TB, offerTTL time.Duration, dbs map[string]string) *coop {
	return &coop{rig.NewOn(t, offerTTL, dbs)}
}

func newCoopWith(t testing.TB, offerTTL time.Duration, dbs map[string]string, startNATS func(dir string) (*bus.Embedded, error),
	natsUser map[string]string, opsUser string) *coop {
	return &coop{rig.NewWith(t, offerTTL, dbs, startNATS, natsUser, opsUser)}
}

const testMetricsToken = rig.MetricsToken

var (
	coopRegions    = rig.Regions
	testFederation = rig.Federation
	waitFor        = rig.WaitFor
	waitWithin     = rig.WaitWithin
	count          = rig.Count
	apiCall        = rig.Call
	apiStatus      = rig.Status
)

func ptrTo[T any](v T) *T { return &v }
