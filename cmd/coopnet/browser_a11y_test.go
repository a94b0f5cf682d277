package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, the accessibility engine (testdata/axe).
//
//go:embed testdata/axe/axe.min.js
var axeSource string

const axeSHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

func TestAxeIsTheVendoredOne(t *testing.T) {
	sum := sha256.Sum256([]byte(axeSource))
	if got := hex.EncodeToString(sum[:]); got != axeSHA256 || !strings.HasPrefix(axeSource, "/*! axe v4.14.1") {
		t.Fatalf("testdata/axe/axe.min.js is not axe-core 4.14.1 (sha256 %s)", got)
	}
}

// violation is one rule axe found broken, with where.
type violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// accessible checks the page the person is on with axe-core: no serious
// or critical violation of WCAG 2.1 A and AA.
func (p *person) accessible(what string) {
	p.t.Helper()
	ctx, cancel := p.step()
	defer cancel()
	await := func(e *runtime.EvaluateParams) { yes := true; e.AwaitPromise = &yes }
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.axe ? true : (function(){"+axeSource+"\n;return true})()")); err != nil {
		p.t.Fatalf("%s: inject axe on %s: %v", p.name, what, err)
	}
	type result struct {
		Passes     int         `json:"passes"`
		Violations []violation `json:"violations"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
		.then(r => ({passes: r.passes.length, violations: r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))}))`, await))
	if err != nil {
		p.t.Fatalf("%s: axe on %s: %v", p.name, what, err)
	}
	if res.Passes < 5 {
		p.t.Errorf("%s: axe checked only %d rules on %s", p.name, res.Passes, what)
	}
	vs := res.Violations
	for _, v := range vs {
		p.t.Errorf("%s: %s: %s (%s): %s — %v", p.name, what, v.ID, v.Impact, v.Help, v.Nodes)
	}
	if len(vs) > 0 {
		p.shot("a11y-" + strings.ReplaceAll(what, " ", "-"))
	}
}
