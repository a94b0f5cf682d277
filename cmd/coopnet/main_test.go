package main

import (
	"os"
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestMain tunes the garbage collector as the coopnet binary does (the
// benchmarks measure nodes as they run), and drops the package's PostgreSQL
// template database after the run.
func TestMain(m *testing.M) {
	tuneGC(os.Getenv)
	storagetest.Main(m)
}
