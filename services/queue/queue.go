// Package queue holds what coopnet's durable queues share. The queues (the
// routings to search, the NATS outbox, the federation's outbox and inbox)
// are tables of their owners, each described by a Spec: the queue leases
// their items the one way (Lease), counts them by state for /metrics
// (Collector) and lists the dead letters staff see; Signal wakes their
// workers and Backoff spaces their retries.
package queue

import (
	"context"
	"math/rand/v2"
	"time"
)

// Signal wakes a worker that waits for work: pokes that come while it is
// busy fold into one, and a poke never blocks.
type Signal chan struct{}

// NewSignal returns a signal.
func NewSignal() Signal { return make(Signal, 1) }

// Poke wakes the worker, now or when it next waits.
func (s Signal) Poke() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// Backoff is the wait before an item that failed is tried again:
// First·2ⁿ⁻¹ after the n-th attempt, capped at Max, within ±25 % so that
// items that failed together are not all tried again together.
type Backoff struct {
	First, Max time.Duration
}

// After is the wait after attempt n (1 for the first).
func (b Backoff) After(n int) time.Duration {
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d + time.Duration((rand.Float64()-.5)*.5*float64(d))
}

// Worker runs one queue's work in a goroutine of its own: at once, then
// whenever its signal is poked and every period (items put off come due
// with time), until Stop. The zero Worker is stopped.
type Worker struct {
	stop context.CancelFunc
	done chan struct{}
}

// Start runs work until Stop; a failure is told to failed and the worker
// goes on. Starting a running worker does nothing.
func (w *Worker) Start(wake Signal, every time.Duration, work func(context.Context) error, failed func(error)) {
	if w.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if err := work(ctx); err != nil && ctx.Err() == nil {
				failed(err)
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-tick.C:
			}
		}
	}()
}

// Stop ends the worker and waits for its work in progress.
func (w *Worker) Stop() {
	if w.stop != nil {
		w.stop()
		<-w.done
		w.stop = nil
	}
}
