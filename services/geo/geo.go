// Package geo resolves French locations offline: postcode → département,
// région and an approximate position (the département's chef-lieu), unless
// the caller supplies its own coordinates.
//
// See departements.go for the source and the precision of the data.
package geo

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Departement is one French département.
type Departement struct {
	Code       string  // INSEE code: "01".."95", "2A", "2B", "971".."976"
	Name       string  // French name, e.g. "Côte-d'Or"
	Region     string  // region slug, a key of Regions
	Prefecture string  // chef-lieu commune name
	Lat, Lon   float64 // WGS84 position of the chef-lieu, ~0.01°
}

// Point is a WGS84 position in decimal degrees.
type Point struct {
	Lat, Lon float64
}

// Location is a resolved place.
type Location struct {
	Postcode    string  // as given, normalised (5 digits)
	Commune     string  // as given by the caller, or the prefecture when unknown
	Departement string  // code, e.g. "25", "2A", "974"
	Region      string  // slug
	Lat, Lon    float64 // caller's coordinates, or the chef-lieu's
	Precise     bool    // true when lat/lon came from the caller
}

var (
	// ErrUnknownPostcode is returned for a postcode that is malformed or
	// does not belong to a known département.
	ErrUnknownPostcode = errors.New("geo: unknown postcode")
	// ErrInvalidCoordinates is returned for out-of-range, incomplete or
	// implausible coordinates.
	ErrInvalidCoordinates = errors.New("geo: invalid coordinates")
	// ErrCommuneMismatch is returned for a commune the postcode does not serve.
	ErrCommuneMismatch = errors.New("geo: commune does not match the postcode")
)

// EarthRadiusKm is the mean Earth radius (IUGG) used by DistanceKm.
const EarthRadiusKm = 6371.0088

// MaxDistanceFromChefLieuKm bounds how far caller coordinates may lie from
// the chef-lieu of the postcode's metropolitan département: no point of a
// département is that far from its chef-lieu, and swapped latitude and
// longitude, or coordinates of another region, are.
const MaxDistanceFromChefLieuKm = 200.0

// MaxDistanceOverseasKm is the same bound overseas, where Guyane is large.
const MaxDistanceOverseasKm = 600.0

var byCode = func() map[string]Departement {
	m := make(map[string]Departement, len(departements))
	for _, d := range departements {
		m[d.Code] = d
	}
	return m
}()

// DepartementByCode returns the département with the given INSEE code
// (e.g. "25", "2A", "974"). Surrounding spaces and the case of "2a"/"2b"
// are tolerated.
func DepartementByCode(code string) (Departement, bool) {
	d, ok := byCode[strings.ToUpper(strings.TrimSpace(code))]
	return d, ok
}

// Departements returns a copy of the table, sorted by code in plain string
// order ("01" … "29", "2A", "2B", "30" … "95", "971" … "976").
func Departements() []Departement {
	out := make([]Departement, len(departements))
	copy(out, departements)
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// RegionName returns the French name of a region slug.
func RegionName(slug string) (string, bool) {
	name, ok := Regions[slug]
	return name, ok
}

// IsRegion reports whether slug is a known region slug.
func IsRegion(slug string) bool {
	_, ok := Regions[slug]
	return ok
}

// DepartementOfPostcode maps a French postcode to its département code.
//
// The postcode must be exactly 5 ASCII digits once surrounding spaces are
// trimmed. Corsica: 20000–20199 → "2A", 20200–20699 → "2B", other 20xxx are
// unknown. Overseas: 971xx → "971", 972xx → "972", 973xx → "973",
// 974xx → "974", 976xx → "976"; every other 97xxx, 98xxx and 99xxx is
// unknown (collectivités, Monaco, …). Otherwise the first two digits give
// the département, if it exists ("00xxx" and "96xxx" do not). The last
// three digits are not checked. Failures wrap ErrUnknownPostcode.
func DepartementOfPostcode(postcode string) (string, error) {
	pc, err := normalisePostcode(postcode)
	if err != nil {
		return "", err
	}
	unknown := fmt.Errorf("%w: %q", ErrUnknownPostcode, postcode)
	switch {
	case pc[:2] == "20":
		n := (int(pc[2]-'0')*100 + int(pc[3]-'0')*10 + int(pc[4]-'0'))
		switch {
		case n < 200:
			return "2A", nil
		case n < 700:
			return "2B", nil
		default:
			return "", unknown
		}
	case pc[:2] == "97":
		switch code := pc[:3]; code {
		case "971", "972", "973", "974", "976":
			return code, nil
		default:
			return "", unknown
		}
	}
	if _, ok := byCode[pc[:2]]; ok {
		return pc[:2], nil
	}
	return "", unknown
}

// normalisePostcode trims spaces and checks for exactly 5 ASCII digits.
func normalisePostcode(postcode string) (string, error) {
	pc := strings.TrimSpace(postcode)
	if len(pc) != 5 {
		return "", fmt.Errorf("%w: %q", ErrUnknownPostcode, postcode)
	}
	for i := 0; i < len(pc); i++ {
		if pc[i] < '0' || pc[i] > '9' {
			return "", fmt.Errorf("%w: %q", ErrUnknownPostcode, postcode)
		}
	}
	return pc, nil
}

// Resolve turns a postcode (required) plus an optional commune and optional
// coordinates into a Location.
//
// The postcode must be one La Poste uses (ErrUnknownPostcode otherwise). A
// commune, when given, must be one the postcode serves, ignoring case,
// accents, hyphens and "St"/"Saint" (ErrCommuneMismatch otherwise, naming
// the right ones); it is returned with its official spelling. Without a
// commune, a postcode serving a single commune gives that commune, else
// the commune is left empty.
//
// If lat and lon are both non-nil they must be finite, with lat in [-90,90]
// and lon in [-180,180], and lie within MaxDistanceFromChefLieuKm of the
// département's chef-lieu (overseas, MaxDistanceOverseasKm): this catches
// swapped latitude and longitude and coordinates of another place. They are
// then used as they are, with Precise=true. Giving only one of them is an
// error. Without coordinates the chef-lieu's position is used and Precise
// is false. Errors wrap ErrUnknownPostcode, ErrCommuneMismatch or
// ErrInvalidCoordinates.
func Resolve(postcode, commune string, lat, lon *float64) (Location, error) {
	code, err := DepartementOfPostcode(postcode)
	if err != nil {
		return Location{}, err
	}
	pc := strings.TrimSpace(postcode)
	communes := Communes(pc)
	if len(communes) == 0 {
		return Location{}, fmt.Errorf("%w: %q is not used by La Poste", ErrUnknownPostcode, postcode)
	}
	d := byCode[code]
	loc := Location{Postcode: pc, Departement: d.Code, Region: d.Region, Lat: d.Lat, Lon: d.Lon}
	switch commune = strings.TrimSpace(commune); {
	case commune != "":
		loc.Commune = matchCommune(communes, commune)
		if loc.Commune == "" {
			return Location{}, &CommuneMismatchError{Postcode: pc, Commune: commune, Communes: communes}
		}
	case len(communes) == 1:
		loc.Commune = communes[0]
	}
	switch {
	case lat == nil && lon == nil:
		return loc, nil
	case lat == nil || lon == nil:
		return Location{}, fmt.Errorf("%w: latitude and longitude must be given together", ErrInvalidCoordinates)
	}
	la, lo := *lat, *lon
	if !validLatLon(la, lo) {
		return Location{}, fmt.Errorf("%w: lat %v, lon %v out of range", ErrInvalidCoordinates, la, lo)
	}
	limit := MaxDistanceFromChefLieuKm
	if len(d.Code) == 3 {
		limit = MaxDistanceOverseasKm
	}
	if km := DistanceKm(Point{la, lo}, Point{d.Lat, d.Lon}); km > limit {
		return Location{}, fmt.Errorf("%w: lat %v, lon %v is %.0f km from %s (département %s); swapped?",
			ErrInvalidCoordinates, la, lo, km, d.Prefecture, d.Code)
	}
	loc.Lat, loc.Lon, loc.Precise = la, lo, true
	return loc, nil
}

// CommuneMismatchError says that a postcode does not serve a commune.
type CommuneMismatchError struct {
	Postcode, Commune string
	Communes          []string
}

func (e *CommuneMismatchError) Error() string {
	list := e.Communes
	more := ""
	if len(list) > 12 {
		list, more = list[:12], ", …"
	}
	return fmt.Sprintf("%s does not serve %q; it serves %s%s", e.Postcode, e.Commune, strings.Join(list, ", "), more)
}

// Is makes errors.Is(err, ErrCommuneMismatch) true.
func (e *CommuneMismatchError) Is(target error) bool { return target == ErrCommuneMismatch }

func validLatLon(lat, lon float64) bool {
	if math.IsNaN(lat) || math.IsNaN(lon) {
		return false
	}
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// DistanceKm is the great-circle (haversine) distance in kilometres between
// two points, on a sphere of radius EarthRadiusKm (6371.0088 km).
func DistanceKm(a, b Point) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := a.Lat*rad, b.Lat*rad
	dφ := (b.Lat - a.Lat) * rad
	dλ := (b.Lon - a.Lon) * rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	h := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	if h > 1 {
		h = 1
	}
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(h))
}
