package webui_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/coopnet/coopnet/services/directory"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
	"github.com/coopnet/coopnet/webui/api"
	"github.com/coopnet/coopnet/webui/web"
)

// loginToken logs in as email with password and returns the session token.
func (r *rig) loginToken(email, password string, want int) string {
	r.t.Helper()
	res := r.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
	if res.Status != want {
		r.t.Fatalf("login %s: %d %s, want %d", email, res.Status, res.Body, want)
	}
	if want != 200 {
		return ""
	}
	var out api.LoginResponse
	if err := json.Unmarshal(res.Body, &out); err != nil {
		r.t.Fatalf("login %s: %v: %s", email, err, res.Body)
	}
	return out.Token
}

// as registers a token under a name, to call the API with it.
func (r *rig) as(name, token string) string { r.tokens[name] = token; return name }

// TestPasswordChange: a member changes their password from one session;
// their other sessions end, the one they changed it from and their API
// tokens stay; the old password no longer opens a session. Wrong or weak
// passwords are refused with the field that is wrong, and change nothing.
func TestPasswordChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		here := r.as("here", r.loginToken("jean@bfc.test", testPassword, 200))
		there := r.as("there", r.loginToken("jean@bfc.test", testPassword, 200))
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"wrong current password", map[string]any{"current_password": "pas le bon", "new_password": "un nouveau mot de passe"}, "current_password"},
			{"too short", map[string]any{"current_password": testPassword, "new_password": "court"}, "new_password"},
			{"the same", map[string]any{"current_password": testPassword, "new_password": testPassword}, "new_password"},
			{"missing current", map[string]any{"new_password": "un nouveau mot de passe"}, "current_password"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := r.do("POST", "/api/v1/me/password", here, tc.body)
				if res.Status != 422 {
					t.Fatalf("status %d %s", res.Status, res.Body)
				}
				if errs, _ := res.json(t)["errors"].(map[string]any); errs[tc.field] == nil {
					t.Errorf("errors %v lack %s", errs, tc.field)
				}
				r.must(200, "GET", "/api/v1/me", there, nil) // nothing changed
			})
		}
		r.must(204, "POST", "/api/v1/me/password", here, map[string]any{"current_password": testPassword, "new_password": "un nouveau mot de passe"})
		r.must(200, "GET", "/api/v1/me", here, nil)
		if res := r.do("GET", "/api/v1/me", there, nil); res.Status != 401 {
			t.Errorf("the other session after the change: %d, want 401", res.Status)
		}
		r.must(200, "GET", "/api/v1/me", "technician", nil) // the API token stays
		r.loginToken("jean@bfc.test", testPassword, 401)
		r.loginToken("jean@bfc.test", "un nouveau mot de passe", 200)
	})
}

// TestTokens: a member lists their sessions and tokens (never the tokens
// themselves), makes a labelled token with an expiry, revokes it (it stops
// at once) and cannot revoke another member's.
func TestTokens(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	res := r.must(201, "POST", "/api/v1/me/tokens", "technician", map[string]any{"label": "sauvegarde nocturne", "expires_in_days": 30})
	tok, id := res["token"].(string), res["id"].(string)
	if res["label"] != "sauvegarde nocturne" || res["expires_at"] == nil || tok == "" {
		t.Fatalf("new token: %v", res)
	}
	cron := r.as("cron", tok)
	r.must(200, "GET", "/api/v1/me", cron, nil)
	list := r.must(200, "GET", "/api/v1/me/tokens", cron, nil)["items"].([]any)
	found := false
	for _, it := range list {
		ti := it.(map[string]any)
		if ti["token"] != nil || ti["token_hash"] != nil {
			t.Errorf("the list shows a token: %v", ti)
		}
		if ti["id"] == id {
			found = true
			if ti["current"] != true || ti["kind"] != "api" {
				t.Errorf("the token as listed: %v", ti)
			}
		}
	}
	if !found || len(list) < 2 {
		t.Fatalf("tokens listed: %v", list)
	}
	r.must(404, "DELETE", "/api/v1/me/tokens/"+id, "other", nil) // not theirs
	r.must(200, "GET", "/api/v1/me", cron, nil)
	r.must(204, "DELETE", "/api/v1/me/tokens/"+id, "technician", nil)
	if res := r.do("GET", "/api/v1/me", cron, nil); res.Status != 401 {
		t.Errorf("a revoked token: %d, want 401", res.Status)
	}
	r.must(404, "DELETE", "/api/v1/me/tokens/"+id, "technician", nil)
	for _, bad := range []map[string]any{{"label": ""}, {"label": "x", "expires_in_days": 5000}, {"label": "x", "expires_in_days": -1}} {
		if res := r.do("POST", "/api/v1/me/tokens", "technician", bad); res.Status != 422 {
			t.Errorf("token %v: %d, want 422", bad, res.Status)
		}
	}
}

// TestDeactivation: an admin deactivates a member who leaves the coop:
// their tokens and sessions stop at once, they cannot log in nor get a
// token. Staff may not, nor may an admin deactivate themselves.
func TestDeactivation(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	session := r.as("session", r.loginToken("jean@bfc.test", testPassword, 200))
	id := r.ids["technician"]
	r.must(403, "POST", "/api/v1/members/"+id+"/deactivate", "staff", nil)
	r.must(409, "POST", "/api/v1/members/"+r.ids["admin"]+"/deactivate", "admin", nil)
	r.must(200, "GET", "/api/v1/me", "technician", nil)
	m := mustAs[members.Member](r, 200, "POST", "/api/v1/members/"+id+"/deactivate", "admin", nil)
	if m.Active || m.DeactivatedAt == nil {
		t.Fatalf("deactivated: %+v", m)
	}
	for _, who := range []string{"technician", session} {
		if res := r.do("GET", "/api/v1/me", who, nil); res.Status != 401 {
			t.Errorf("%s after deactivation: %d, want 401", who, res.Status)
		}
	}
	r.loginToken("jean@bfc.test", testPassword, 401)
	r.must(200, "POST", "/api/v1/members/"+id+"/deactivate", "admin", nil) // again: a no-op
	var tokens int64
	r.db.Raw("SELECT COUNT(*) FROM api_tokens WHERE member_id = ?", id).Scan(&tokens)
	if tokens != 0 {
		t.Errorf("%d tokens left", tokens)
	}
	r.must(409, "PATCH", "/api/v1/members/"+id, "admin", map[string]any{"version": m.Version, "name": "Autre"})
}

// TestSkillProposals: a member lowers a level or drops a skill at once, but
// a new skill or a higher level is a proposal that the routing ignores
// until another staff member of the node confirms it; refusals and
// confirmations are recorded. A member cannot give themselves more than 48
// hours a week or a 200 km radius; staff can.
func TestSkillProposals(t *testing.T) {
	r := newRig(t, storagetest.Open(t, "sqlite"))
	id := r.ids["technician"]
	version := func() int { return mustAs[members.Member](r, 200, "GET", "/api/v1/me", "technician", nil).Version }
	skills := func(m members.Member, key string) map[string]int {
		list := m.Skills
		if key == "proposed_skills" {
			list = m.ProposedSkills
		}
		out := map[string]int{}
		for _, sk := range list {
			out[sk.Name] = sk.Level
		}
		return out
	}
	m := mustAs[members.Member](r, 200, "PATCH", "/api/v1/members/"+id, "technician", map[string]any{"version": version(),
		"skills": []any{map[string]any{"name": "workstation", "level": 5}, map[string]any{"name": "website", "level": 4}}})
	if got := skills(m, "skills"); got["workstation"] != 3 || got["website"] != 0 {
		t.Errorf("confirmed skills after proposing: %v", got)
	}
	if got := skills(m, "proposed_skills"); got["workstation"] != 5 || got["website"] != 4 {
		t.Errorf("proposed skills: %v", got)
	}
	// What the routing and the directory see: the confirmed levels.
	for _, e := range mustAs[web.Page[directory.Entry]](r, 200, "GET", "/api/v1/directory?skill=workstation&min_level=5", "other", nil).Items {
		t.Errorf("the directory believes a proposal: %v", e)
	}
	r.must(403, "GET", "/api/v1/members/skill-proposals", "technician", nil)
	props := mustAs[web.Page[members.Proposal]](r, 200, "GET", "/api/v1/members/skill-proposals", "staff", nil).Items
	if len(props) != 2 {
		t.Fatalf("proposals: %v", props)
	}
	r.must(422, "POST", "/api/v1/members/"+id+"/skills/review", "staff", map[string]any{"skill": "workstation", "decision": "maybe"})
	r.must(404, "POST", "/api/v1/members/"+id+"/skills/review", "staff", map[string]any{"skill": "printing", "decision": "confirm"})
	m = mustAs[members.Member](r, 200, "POST", "/api/v1/members/"+id+"/skills/review", "staff", map[string]any{"skill": "workstation", "decision": "confirm"})
	if got := skills(m, "skills"); got["workstation"] != 5 {
		t.Errorf("after confirmation: %v", got)
	}
	m = mustAs[members.Member](r, 200, "POST", "/api/v1/members/"+id+"/skills/review", "staff", map[string]any{"skill": "website", "decision": "refuse"})
	if got := skills(m, "skills"); got["website"] != 0 || len(skills(m, "proposed_skills")) != 0 {
		t.Errorf("after refusal: %v %v", got, skills(m, "proposed_skills"))
	}
	// Lowering is at once.
	m = mustAs[members.Member](r, 200, "PATCH", "/api/v1/members/"+id, "technician", map[string]any{"version": version(),
		"skills": []any{map[string]any{"name": "workstation", "level": 2}}})
	if got := skills(m, "skills"); got["workstation"] != 2 {
		t.Errorf("after lowering: %v", got)
	}
	var history []string
	r.db.Raw("SELECT action || ':' || skill FROM member_skill_history WHERE member_id = ? ORDER BY created_at, id", id).Scan(&history)
	want := "proposed:workstation proposed:website confirmed:workstation refused:website lowered:workstation"
	if got := joinSorted(history); got != joinSorted(strings.Fields(want)) {
		t.Errorf("history %v, want %s", history, want)
	}
	// Only staff review.
	r.must(403, "POST", "/api/v1/members/"+id+"/skills/review", "other", map[string]any{"skill": "workstation", "decision": "confirm"})
	// Capacity a member may set alone.
	for _, tc := range []map[string]any{{"weekly_hours": 70}, {"radius_km": 900}} {
		tc["version"] = version()
		if res := r.do("PATCH", "/api/v1/members/"+id, "technician", tc); res.Status != 422 {
			t.Errorf("a member setting %v: %d, want 422", tc, res.Status)
		}
		tc["version"] = version()
		r.must(200, "PATCH", "/api/v1/members/"+id, "staff", tc)
	}
}

func joinSorted(xs []string) string {
	c := append([]string(nil), xs...)
	sort.Strings(c)
	return strings.Join(c, " ")
}
