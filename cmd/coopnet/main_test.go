package main

import (
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
)

// TestMain drops the package's PostgreSQL template database after the run.
func TestMain(m *testing.M) { storagetest.Main(m) }
