package pages

import (
	"embed"
	"encoding/json"
	"fmt"
)

// The message catalogue of the web interface: every string a page shows,
// in French (the default) and English, one data file per language in
// locales/ (a key, its text; %s where a value goes). A test fails when a
// key is missing in one language or a template uses a key that is not
// there.

//go:embed locales/*.json
var locales embed.FS

var messages = loadMessages()

func loadMessages() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Langs {
		b, err := locales.ReadFile("locales/" + lang + ".json")
		if err != nil {
			panic(fmt.Sprintf("webui: the %s catalogue: %v", lang, err))
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("webui: the %s catalogue: %v", lang, err))
		}
		out[lang] = m
	}
	return out
}
