package members_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/coopnet/coopnet/services/apperr"
	"github.com/coopnet/coopnet/services/members"
	"github.com/coopnet/coopnet/services/skills"
	"github.com/coopnet/coopnet/services/storage"
	"github.com/coopnet/coopnet/services/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func newService(t *testing.T, db *storage.DB, cacheTTL time.Duration) *members.Service {
	return members.New(db, skills.NewCatalog(db), members.Config{Region: "bretagne", Host: "bzh.test",
		BcryptCost: bcrypt.MinCost, TokenCacheTTL: cacheTTL}, nil)
}

func TestCreate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newService(t, db, 0)
		ctx := context.Background()
		base := members.CreateInput{Email: "Marie.Le-Gall@Example.org", Name: "Marie Le Gall", Role: "technician",
			Password: "mot de passe", Postcode: "35000", Skills: []members.SkillLevel{{Name: "Website", Level: 4}}}
		m, err := s.Create(ctx, nil, base)
		if err != nil {
			t.Fatal(err)
		}
		if m.Email != "marie.le-gall@example.org" || m.Handle != "marie.le-gall" || m.FullHandle != "marie.le-gall@bzh.test" ||
			m.Departement != "35" || m.Commune != "Rennes" || m.LocationPrecise || m.RadiusKm != 50 || m.WeeklyHours != 35 ||
			len(m.Skills) != 1 || m.Skills[0] != (members.SkillLevel{Name: "website", Level: 4}) {
			t.Errorf("created %+v", m)
		}
		if strings.Contains(m.PasswordHash, "mot de passe") || bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte("mot de passe")) != nil {
			t.Error("password not hashed with bcrypt")
		}
		// Same local part, other domain: the handle gets a number.
		other := base
		other.Email = "marie.le-gall@autre.example"
		m2, err := s.Create(ctx, nil, other)
		if err != nil || m2.Handle != "marie.le-gall2" {
			t.Fatalf("second handle %v %v", m2, err)
		}
		got, err := s.Get(ctx, m.ID)
		if err != nil || got.Skills[0].Level != 4 || got.Region != "bretagne" {
			t.Fatalf("get: %+v %v", got, err)
		}
		if _, err := s.Get(ctx, "01a201c8-0000-7000-8000-000000000000"); !errorsIsNotFound(err) {
			t.Errorf("unknown id: %v", err)
		}
		// Filter by skill.
		list, err := s.List(ctx, members.ListOptions{Skill: "website", MinLevel: 5, Limit: 10})
		if err != nil || len(list) != 0 {
			t.Errorf("website ≥ 5: %v %v", list, err)
		}
		list, err = s.List(ctx, members.ListOptions{Skill: "website", MinLevel: 4, Limit: 10})
		if err != nil || len(list) != 2 {
			t.Errorf("website ≥ 4: %d %v", len(list), err)
		}
	})
}

func errorsIsNotFound(err error) bool { return apperr.CodeOf(err) == apperr.NotFound }

func TestCreateValidation(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	s := newService(t, db, 0)
	ok := func() members.CreateInput {
		return members.CreateInput{Email: "a@b.example", Name: "A", Role: "technician", Password: "12345678"}
	}
	cases := map[string]struct {
		edit  func(*members.CreateInput)
		field string
	}{
		"no email":         {func(in *members.CreateInput) { in.Email = "" }, "email"},
		"bad email":        {func(in *members.CreateInput) { in.Email = "Jean <a@b.example>" }, "email"},
		"no name":          {func(in *members.CreateInput) { in.Name = " " }, "name"},
		"long name":        {func(in *members.CreateInput) { in.Name = strings.Repeat("é", 121) }, "name"},
		"bad role":         {func(in *members.CreateInput) { in.Role = "boss" }, "role"},
		"short password":   {func(in *members.CreateInput) { in.Password = "1234567" }, "password"},
		"long password":    {func(in *members.CreateInput) { in.Password = strings.Repeat("x", 73) }, "password"},
		"bad handle":       {func(in *members.CreateInput) { in.Handle = "Marie Le Gall" }, "handle"},
		"radius":           {func(in *members.CreateInput) { r := 1001; in.RadiusKm = &r }, "radius_km"},
		"hours":            {func(in *members.CreateInput) { h := 81; in.WeeklyHours = &h }, "weekly_hours"},
		"level 0":          {func(in *members.CreateInput) { in.Skills = []members.SkillLevel{{Name: "network", Level: 0}} }, "skills[0].level"},
		"duplicate skill":  {func(in *members.CreateInput) { in.Skills = []members.SkillLevel{{"network", 1}, {"network", 2}} }, "skills[1].name"},
		"lat without post": {func(in *members.CreateInput) { x := 47.0; in.Lat, in.Lon = &x, &x }, "postcode"},
		"bad postcode":     {func(in *members.CreateInput) { in.Postcode = "2515" }, "postcode"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := ok()
			tc.edit(&in)
			_, err := s.Create(context.Background(), nil, in)
			var ae *apperr.Error
			if !asAppErr(err, &ae) || ae.Code != apperr.Invalid || ae.Fields[tc.field] == "" {
				t.Fatalf("error %v, want invalid %s", err, tc.field)
			}
		})
	}
	n, _ := s.Count(context.Background())
	if n != 0 {
		t.Errorf("%d members written by invalid input", n)
	}
}

func TestRolesWhoMayCreate(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	s := newService(t, db, 0)
	ctx := context.Background()
	in := func(email, role string) members.CreateInput {
		return members.CreateInput{Email: email, Name: "X", Role: role, Password: "12345678"}
	}
	for _, tc := range []struct {
		by   members.Role
		role string
		code apperr.Code
	}{
		{members.Technician, "technician", apperr.Forbidden},
		{members.Staff, "technician", ""},
		{members.Staff, "staff", ""},
		{members.Staff, "admin", apperr.Forbidden},
		{members.Admin, "admin", ""},
	} {
		by := members.Actor{ID: "x", Role: tc.by}
		_, err := s.Create(ctx, &by, in(string(tc.by)+"-"+tc.role+"@x.example", tc.role))
		if tc.code == "" && err != nil || tc.code != "" && apperr.CodeOf(err) != tc.code {
			t.Errorf("%s creating %s: %v", tc.by, tc.role, err)
		}
	}
}

func TestTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newService(t, db, time.Minute)
		ctx := context.Background()
		m, err := s.Create(ctx, nil, members.CreateInput{Email: "a@b.example", Name: "A", Role: "staff", Password: "12345678"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "a@b.example", "wrong-password"); apperr.CodeOf(err) != apperr.Unauthorised {
			t.Errorf("wrong password: %v", err)
		}
		if _, _, err := s.Login(ctx, "nobody@b.example", "12345678"); apperr.CodeOf(err) != apperr.Unauthorised {
			t.Errorf("unknown e-mail: %v", err)
		}
		tok, got, err := s.Login(ctx, " A@B.example", "12345678")
		if err != nil || got.ID != m.ID {
			t.Fatalf("login: %v", err)
		}
		a, err := s.Authenticate(ctx, tok)
		if err != nil || a.ID != m.ID || a.Role != members.Staff || a.Handle != "a@bzh.test" {
			t.Fatalf("authenticate: %+v %v", a, err)
		}
		for _, bad := range []string{"", "cn_", "cn_nope", tok + "x", strings.Repeat("x", 200)} {
			if _, err := s.Authenticate(ctx, bad); apperr.CodeOf(err) != apperr.Unauthorised {
				t.Errorf("token %q: %v", bad, err)
			}
		}
		// Revocation is immediate on this replica even with the cache on.
		if err := s.Revoke(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, tok); apperr.CodeOf(err) != apperr.Unauthorised {
			t.Errorf("revoked token still works: %v", err)
		}
		// An expired session is refused.
		short := members.New(db, skills.NewCatalog(db), members.Config{Region: "bretagne", Host: "bzh.test",
			BcryptCost: bcrypt.MinCost, SessionTTL: time.Millisecond}, nil)
		tok, _, err = short.Login(ctx, "a@b.example", "12345678")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := short.Authenticate(ctx, tok); apperr.CodeOf(err) != apperr.Unauthorised {
			t.Errorf("expired session accepted: %v", err)
		}
	})
}

// TestConcurrentRegistrations: registrations racing for the same derived
// handle all succeed, each with its own handle.
func TestConcurrentRegistrations(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newService(t, db, 0)
		const n = 6
		var wg sync.WaitGroup
		handles := make([]string, n)
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := s.Create(context.Background(), nil, members.CreateInput{
					Email: fmt.Sprintf("marie@domaine%d.example", i), Name: "Marie", Role: "technician", Password: "12345678"})
				errs[i] = err
				if err == nil {
					handles[i] = m.Handle
				}
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i := range errs {
			if errs[i] != nil {
				t.Fatalf("registration %d: %v", i, errs[i])
			}
			if seen[handles[i]] {
				t.Fatalf("handle %s given twice", handles[i])
			}
			seen[handles[i]] = true
		}
		// The same address twice at once: exactly one wins, the other is told why.
		var ok, conflict int
		var mu sync.Mutex
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Create(context.Background(), nil, members.CreateInput{Email: "same@x.example", Name: "S", Role: "staff", Password: "12345678"})
				mu.Lock()
				defer mu.Unlock()
				switch apperr.CodeOf(err) {
				case apperr.Conflict:
					conflict++
				default:
					if err == nil {
						ok++
					} else {
						t.Errorf("duplicate e-mail: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		if ok != 1 || conflict != 3 {
			t.Errorf("same e-mail four times: %d created, %d conflicts", ok, conflict)
		}
	})
}

// TestWhoMayUpdate: a member changes their own profile, staff any but an
// admin's, an admin any; a place is sent whole; nothing is written on a
// refusal.
func TestWhoMayUpdate(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	s := newService(t, db, 0)
	ctx := context.Background()
	root := members.Actor{ID: "root", Role: members.Admin}
	mk := func(email string, role members.Role) *members.Member {
		m, err := s.Create(ctx, &root, members.CreateInput{Email: email, Name: "X", Role: string(role), Password: "12345678", Postcode: "35000"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tech, staff, admin := mk("tech@x.example", members.Technician), mk("staff@x.example", members.Staff), mk("admin@x.example", members.Admin)
	as := func(m *members.Member) members.Actor { return members.Actor{ID: m.ID, Role: m.Role} }
	name := "Nouveau nom"
	for _, tc := range []struct {
		by, target *members.Member
		code       apperr.Code
	}{
		{tech, tech, ""}, {tech, staff, apperr.Forbidden}, {staff, tech, ""}, {staff, admin, apperr.Forbidden},
		{admin, staff, ""}, {admin, admin, ""},
	} {
		cur, err := s.Get(ctx, tc.target.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Update(ctx, as(tc.by), tc.target.ID, members.UpdateInput{Version: cur.Version, Name: &name})
		if tc.code == "" && err != nil || tc.code != "" && apperr.CodeOf(err) != tc.code {
			t.Errorf("%s changing %s: %v", tc.by.Role, tc.target.Email, err)
		}
		if after, _ := s.Get(ctx, tc.target.ID); tc.code != "" && after.Version != cur.Version {
			t.Errorf("%s changing %s: refused, yet version %d → %d", tc.by.Role, tc.target.Email, cur.Version, after.Version)
		}
	}
	cur, _ := s.Get(ctx, tech.ID)
	lat, lon := 47.2, 6.0
	_, err := s.Update(ctx, as(tech), tech.ID, members.UpdateInput{Version: cur.Version, Lat: &lat, Lon: &lon})
	if ae := new(apperr.Error); !errors.As(err, &ae) || ae.Fields["postcode"] == "" {
		t.Errorf("coordinates without a postcode: %v", err)
	}
	if after, _ := s.Get(ctx, tech.ID); after.Version != cur.Version || (after.Lat != nil && *after.Lat == lat) {
		t.Errorf("coordinates without a postcode were written: %+v", after)
	}
}
