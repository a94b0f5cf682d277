package geo

import (
	"errors"
	"math"
	"sort"
	"testing"
)

func ptr(f float64) *float64 { return &f }

var overseas = map[string]bool{"971": true, "972": true, "973": true, "974": true, "976": true}

func TestTable(t *testing.T) {
	all := Departements()
	if len(all) != 101 {
		t.Fatalf("got %d départements, want 101", len(all))
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Code < all[j].Code }) {
		t.Error("Departements() is not sorted by code")
	}
	all[0].Name = "mutated"
	if d, _ := DepartementByCode(all[0].Code); d.Name == "mutated" {
		t.Error("Departements() does not return a copy")
	}

	seen := map[string]bool{}
	used := map[string]bool{}
	for _, d := range Departements() {
		t.Run(d.Code, func(t *testing.T) {
			if seen[d.Code] {
				t.Fatalf("duplicate code %s", d.Code)
			}
			seen[d.Code] = true
			got, ok := DepartementByCode(d.Code)
			if !ok || got != d {
				t.Fatalf("DepartementByCode(%q) = %+v, %v", d.Code, got, ok)
			}
			if d.Name == "" || d.Prefecture == "" {
				t.Errorf("empty name or prefecture: %+v", d)
			}
			if !IsRegion(d.Region) {
				t.Errorf("region %q not in Regions", d.Region)
			}
			used[d.Region] = true
			inMetro := d.Lat >= 41 && d.Lat <= 51.5 && d.Lon >= -5.5 && d.Lon <= 10
			if overseas[d.Code] {
				if inMetro {
					t.Errorf("overseas %s (%v,%v) lies in metropolitan France", d.Code, d.Lat, d.Lon)
				}
				if d.Region == "corse" || len(d.Code) != 3 {
					t.Errorf("overseas %s malformed: %+v", d.Code, d)
				}
			} else if !inMetro {
				t.Errorf("%s %s (%v,%v) outside metropolitan bounding box", d.Code, d.Prefecture, d.Lat, d.Lon)
			}
		})
	}
	for _, code := range []string{"01", "19", "2A", "2B", "25", "95", "971", "972", "973", "974", "976"} {
		if !seen[code] {
			t.Errorf("missing code %s", code)
		}
	}
	for _, code := range []string{"20", "00", "96", "975", "977"} {
		if _, ok := DepartementByCode(code); ok {
			t.Errorf("unexpected code %s", code)
		}
	}
	for slug := range Regions {
		if !used[slug] {
			t.Errorf("region %q has no département", slug)
		}
	}
	if len(Regions) != 18 {
		t.Errorf("got %d regions, want 18", len(Regions))
	}
}

func TestRegionName(t *testing.T) {
	tests := []struct {
		slug, want string
		ok         bool
	}{
		{"bourgogne-franche-comte", "Bourgogne-Franche-Comté", true},
		{"ile-de-france", "Île-de-France", true},
		{"la-reunion", "La Réunion", true},
		{"Bretagne", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.slug, func(t *testing.T) {
			got, ok := RegionName(tc.slug)
			if got != tc.want || ok != tc.ok || IsRegion(tc.slug) != tc.ok {
				t.Errorf("RegionName(%q) = %q, %v; want %q, %v", tc.slug, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestKnownChefLieux(t *testing.T) {
	tests := []struct {
		code, pref string
		lat, lon   float64
	}{
		{"25", "Besançon", 47.24, 6.02},
		{"19", "Tulle", 45.27, 1.77},
		{"35", "Rennes", 48.11, -1.68},
		{"53", "Laval", 48.07, -0.77},
		{"04", "Digne-les-Bains", 44.09, 6.24},
		{"973", "Cayenne", 4.94, -52.33},
		{"976", "Mamoudzou", -12.78, 45.23},
		{"974", "Saint-Denis", -20.88, 55.45},
		{"971", "Basse-Terre", 16.0, -61.73},
		{"972", "Fort-de-France", 14.6, -61.07},
		{"2A", "Ajaccio", 41.93, 8.74},
		{"2B", "Bastia", 42.70, 9.45},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			d, ok := DepartementByCode(tc.code)
			if !ok {
				t.Fatalf("unknown %s", tc.code)
			}
			if d.Prefecture != tc.pref {
				t.Errorf("prefecture = %q, want %q", d.Prefecture, tc.pref)
			}
			if km := DistanceKm(Point{d.Lat, d.Lon}, Point{tc.lat, tc.lon}); km > 2 {
				t.Errorf("chef-lieu %v,%v is %.1f km from expected %v,%v", d.Lat, d.Lon, km, tc.lat, tc.lon)
			}
		})
	}
}

func TestDepartementOfPostcode(t *testing.T) {
	good := []struct{ in, want string }{
		{"25150", "25"},
		{"19000", "19"},
		{"20000", "2A"},
		{"20199", "2A"},
		{"20200", "2B"},
		{"20699", "2B"},
		{"97400", "974"},
		{"97100", "971"},
		{"97200", "972"},
		{"97300", "973"},
		{"97600", "976"},
		{"75001", "75"},
		{"01000", "01"},
		{"95000", "95"},
		{" 25000 ", "25"},
	}
	for _, tc := range good {
		t.Run("ok/"+tc.in, func(t *testing.T) {
			got, err := DepartementOfPostcode(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("DepartementOfPostcode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	bad := []string{"00000", "99999", "2515", "251500", "ab123", "97500", "97700", "98000", "20700", "96000", "", "     ", "2 515", "２5150"}
	for _, in := range bad {
		t.Run("bad/"+in, func(t *testing.T) {
			got, err := DepartementOfPostcode(in)
			if !errors.Is(err, ErrUnknownPostcode) {
				t.Errorf("DepartementOfPostcode(%q) = %q, %v; want ErrUnknownPostcode", in, got, err)
			}
			if got != "" {
				t.Errorf("code %q returned with error", got)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		postcode string
		commune  string
		lat, lon *float64
		want     Location
		wantErr  error
	}{
		{
			name: "postcode only", postcode: "25150",
			// 25150 serves ten communes: none is chosen for the caller.
			want: Location{Postcode: "25150", Commune: "", Departement: "25", Region: "bourgogne-franche-comte", Lat: 47.24, Lon: 6.02},
		},
		{
			name: "with commune, loosely spelt", postcode: " 25150 ", commune: "  pont de roide VERMONDANS ",
			want: Location{Postcode: "25150", Commune: "Pont-de-Roide-Vermondans", Departement: "25", Region: "bourgogne-franche-comte", Lat: 47.24, Lon: 6.02},
		},
		{
			name: "accents ignored", postcode: "25150", commune: "Ecot",
			want: Location{Postcode: "25150", Commune: "Écot", Departement: "25", Region: "bourgogne-franche-comte", Lat: 47.24, Lon: 6.02},
		},
		{
			name: "with coordinates", postcode: "25150", commune: "Bourguignon", lat: ptr(47.39), lon: ptr(6.77),
			want: Location{Postcode: "25150", Commune: "Bourguignon", Departement: "25", Region: "bourgogne-franche-comte", Lat: 47.39, Lon: 6.77, Precise: true},
		},
		{
			name: "a postcode of one commune", postcode: "35000",
			want: Location{Postcode: "35000", Commune: "Rennes", Departement: "35", Region: "bretagne", Lat: 48.11, Lon: -1.68},
		},
		{
			name: "corsica", postcode: "20000", commune: "Ajaccio",
			want: Location{Postcode: "20000", Commune: "Ajaccio", Departement: "2A", Region: "corse", Lat: 41.93, Lon: 8.74},
		},
		{
			name: "a city for its arrondissement", postcode: "75011", commune: "Paris",
			want: Location{Postcode: "75011", Commune: "Paris 11e Arrondissement", Departement: "75", Region: "ile-de-france", Lat: 48.86, Lon: 2.35},
		},
		{name: "commune not served", postcode: "25150", commune: "Besançon", wantErr: ErrCommuneMismatch},
		{name: "postcode La Poste does not use", postcode: "25999", wantErr: ErrUnknownPostcode},
		{name: "coordinates of another département", postcode: "25150", lat: ptr(48.86), lon: ptr(2.35), wantErr: ErrInvalidCoordinates},
		{
			name: "reunion with coordinates", postcode: "97400", lat: ptr(-21.1), lon: ptr(55.5),
			want: Location{Postcode: "97400", Commune: "Saint-Denis", Departement: "974", Region: "la-reunion", Lat: -21.1, Lon: 55.5, Precise: true},
		},
		{name: "unknown postcode", postcode: "98000", wantErr: ErrUnknownPostcode},
		{name: "empty postcode", postcode: "", lat: ptr(47), lon: ptr(6), wantErr: ErrUnknownPostcode},
		{name: "lat only", postcode: "25150", lat: ptr(47.24), wantErr: ErrInvalidCoordinates},
		{name: "lon only", postcode: "25150", lon: ptr(6.02), wantErr: ErrInvalidCoordinates},
		{name: "swapped", postcode: "25150", lat: ptr(6.02), lon: ptr(47.24), wantErr: ErrInvalidCoordinates},
		{name: "lat out of range", postcode: "25150", lat: ptr(91), lon: ptr(6), wantErr: ErrInvalidCoordinates},
		{name: "lon out of range", postcode: "25150", lat: ptr(47), lon: ptr(-181), wantErr: ErrInvalidCoordinates},
		{name: "NaN", postcode: "25150", lat: ptr(math.NaN()), lon: ptr(6), wantErr: ErrInvalidCoordinates},
		{name: "Inf", postcode: "25150", lat: ptr(47), lon: ptr(math.Inf(1)), wantErr: ErrInvalidCoordinates},
		{name: "metropolitan coords for overseas postcode", postcode: "97300", lat: ptr(47.24), lon: ptr(6.02), wantErr: ErrInvalidCoordinates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.postcode, tc.commune, tc.lat, tc.lon)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != (Location{}) {
					t.Errorf("non-zero location with error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDistanceKm(t *testing.T) {
	paris := Point{48.8566, 2.3522}
	lyon := Point{45.764, 4.8357}
	besancon, _ := DepartementByCode("25")
	tulle, _ := DepartementByCode("19")
	b := Point{besancon.Lat, besancon.Lon}
	tu := Point{tulle.Lat, tulle.Lon}

	tests := []struct {
		name      string
		a, b      Point
		want, tol float64
	}{
		{"paris-lyon", paris, lyon, 392, 5},
		{"besancon-tulle", b, tu, 393, 10},
		{"same point", paris, paris, 0, 1e-9},
		{"quarter meridian", Point{0, 0}, Point{90, 0}, math.Pi / 2 * 6371.0088, 1e-6},
		{"antipodes", Point{0, 0}, Point{0, 180}, math.Pi * 6371.0088, 1e-6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DistanceKm(tc.a, tc.b)
			if math.Abs(got-tc.want) > tc.tol {
				t.Errorf("DistanceKm = %.3f, want %.3f ± %v", got, tc.want, tc.tol)
			}
			if back := DistanceKm(tc.b, tc.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("not symmetric: %v vs %v", got, back)
			}
			if z := DistanceKm(tc.a, tc.a); z != 0 {
				t.Errorf("distance to itself = %v", z)
			}
		})
	}
}
