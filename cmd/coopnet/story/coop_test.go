package story_test

import (
	"testing"
	"time"

	"github.com/coopnet/coopnet/cmd/coopnet/rig"
)

// coop is the test rig (cmd/coopnet/rig), with this package's helpers on it:
// the seed story's journeys across three regions, on real databases, NATS
// and HTTP.
type coop struct{ *rig.Coop }

func newCoop(t testing.TB, offerTTL time.Duration) *coop { return &coop{rig.New(t, offerTTL)} }

func newCoopOn(t testing.TB, offerTTL time.Duration, dbs map[string]string) *coop {
	return &coop{rig.NewOn(t, offerTTL, dbs)}
}

func ptrTo[T any](v T) *T { return &v }
