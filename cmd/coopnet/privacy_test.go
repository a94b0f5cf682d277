package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/privacy"
)

// TestRecordOfProcessing: `coopnet admin privacy` prints the record of
// processing from the one list in the code, and the README carries the
// same table.
func TestRecordOfProcessing(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"admin", "privacy"}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("admin privacy: %d %s", code, errb.String())
	}
	if out.String() != privacy.Markdown() || !strings.Contains(out.String(), "`federation_inbox`") {
		t.Errorf("admin privacy printed:\n%s", out.String())
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), privacy.Markdown()) {
		t.Error("the README's record of processing differs from services/privacy/record.go: paste the output of `coopnet admin privacy`")
	}
	out.Reset()
	if code := run(t.Context(), []string{"admin", "privacy", "--format", "json"}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 0 ||
		!strings.HasPrefix(out.String(), "[") {
		t.Errorf("admin privacy --format json: %d %s", code, out.String())
	}
	if code := run(t.Context(), []string{"admin", "privacy", "--format", "pdf"}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 2 {
		t.Errorf("a bad format: exit %d", code)
	}
}
