package transport

import (
	"testing"
	"time"
)

// TestRefetchBounded: a signature that does not verify makes the node fetch
// the peer's key again at most once per refetchEvery.
func TestRefetchBounded(t *testing.T) {
	ps := &Transport{}
	if !ps.mayRefetch("bzh.example") {
		t.Fatal("the first refetch is refused")
	}
	if ps.mayRefetch("bzh.example") {
		t.Fatal("a second refetch at once is allowed")
	}
	if !ps.mayRefetch("idf.example") {
		t.Fatal("another peer's first refetch is refused")
	}
	ps.refetched["bzh.example"] = time.Now().Add(-refetchEvery - time.Second)
	if !ps.mayRefetch("bzh.example") {
		t.Fatal("a refetch after refetchEvery is refused")
	}
}
