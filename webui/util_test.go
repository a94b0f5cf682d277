package webui_test

import (
	"encoding/json"
	"net/url"
	"sort"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func urlQuery(s string) string { return url.QueryEscape(s) }
