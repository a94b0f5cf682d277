package routing

import "testing"

func TestRedact(t *testing.T) {
	terms := []string{"École primaire des Tilleuls", "Mme Martin", "ecole.tilleuls@example.org", "03 81 00 00 01", "Jo"}
	tests := map[string]string{
		"Site web de l'école":                                      "Site web de l'école",
		"Site web – École primaire des Tilleuls":                   "Site web – [client]",
		"site pour l'ECOLE PRIMAIRE DES TILLEULS, voir mme martin": "site pour l'[client], voir [client]",
		"Écrire à ecole.tilleuls@example.org ou 03 81 00 00 01":    "Écrire à [client] ou [client]",
		"Jo et Joséphine":                                          "Jo et Joséphine", // too short a term
		"":                                                         "",
	}
	for in, want := range tests {
		if got := redact(in, terms); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
