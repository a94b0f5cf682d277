package story_test

import (
	"testing"

	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }
