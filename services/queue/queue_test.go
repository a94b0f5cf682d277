package queue

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{First: time.Second, Max: time.Minute}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: time.Minute, 50: time.Minute} {
		for range 200 {
			got := b.After(n)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("after attempt %d: %v, want %v ± 25 %%", n, got, want)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.After(3)] = true
	}
	if len(seen) < 10 {
		t.Errorf("%d different waits in 50: no jitter", len(seen))
	}
}

func TestSignalFoldsPokes(t *testing.T) {
	s := NewSignal()
	s.Poke()
	s.Poke() // does not block
	<-s
	select {
	case <-s:
		t.Fatal("two pokes before a wait woke the worker twice")
	default:
	}
}
