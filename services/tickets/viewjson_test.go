package tickets

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestViewJSON: AppendJSON writes exactly what encoding/json writes, for
// texts with every kind of character that needs escaping and for numbers
// of every size.
func TestViewJSON(t *testing.T) {
	texts := []string{"", "Site web de l'école", `guillemets " et \ barre`, "<script>&amp;</script>", "ligne\nsuivante\tet\r\b\f",
		"\x00\x01\x1f\x7f", "sépar\u2028ateurs\u2029", "invalide \xff\xfe fin", "emoji 🛠️ et 中文", "\u00a0espace insécable"}
	hours := []float64{0, 0.5, 1.0 / 60, 16, 199.98333333333332, 1e-7, 2.5e21, 123456789}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return texts[rng.IntN(len(texts))] }
	for i := range 2000 {
		v := View{ID: pick(), ClientID: pick(), TechnicianID: pick(), Title: pick(), Description: pick(), Skill: pick(),
			Priority: pick(), OnSite: i%2 == 0, EstimatedHours: hours[rng.IntN(len(hours))], Status: Status(pick()),
			OriginRegion: pick(), APID: pick(), CreatedBy: pick(), TimeSpentHours: hours[rng.IntN(len(hours))], Version: rng.IntN(1 << 30),
			CreatedAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC(), UpdatedAt: time.Unix(rng.Int64N(4e9), 0).UTC()}
		if i%3 == 0 {
			v.Assignee = &Assignee{Handle: pick(), Region: pick(), Name: pick()}
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
}
