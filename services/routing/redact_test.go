package routing

import (
	"testing"

	"github.com/coopnet/coopnet/services/clients"
)

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
		if got := redact(in, terms, false); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactClient(t *testing.T) {
	p := clients.Private{Name: "École primaire des Tilleuls", Kind: "school", ContactName: "Mme Martine Lefèvre",
		ContactEmail: "direction.tilleuls@example.org", ContactPhone: "03 81 00 00 01"}
	tests := map[string]string{
		"Site web de l'école":                    "Site web de l'école",
		"Serveur HS chez Mme Lefèvre":            "Serveur HS chez Mme [client]",
		"voir martine, ou LEFEVRE":               "voir [client], ou [client]",
		"rappeler au 0381000001":                 "rappeler au [client]",
		"appeler le +33 3 81 00 00 01 demain":    "appeler le [client] demain",
		"tél. (03) 81.00.00.01":                  "tél. [client]",
		"le 12/03 au 03-81-00-00-01":             "le 12/03 au [client]",
		"écrire à direction.tilleuls":            "écrire à [client]",
		"poste 03 81 00 00 02, salle 12":         "poste 03 81 00 00 02, salle 12",
		"École primaire des Tilleuls: 20 postes": "[client]: 20 postes",
	}
	for in, want := range tests {
		if got := redactClient(in, p); got != want {
			t.Errorf("redactClient(%q) = %q, want %q", in, got, want)
		}
	}
	// Words only as whole words; mailboxes that name no one are not words
	// to scrub.
	anne := clients.Private{Name: "Mairie de Vézelay", Kind: "town_hall", ContactName: "Anne Le Gall", ContactEmail: "info@vezelay.example"}
	for in, want := range map[string]string{
		"Panne du réseau informatique":   "Panne du réseau informatique",
		"Maintenance informatique, Anne": "Maintenance informatique, [client]",
		"demander à Mme Le Gall":         "demander à Mme Le [client]",
		"écrire à info@vezelay.example":  "écrire à [client]",
	} {
		if got := redactClient(in, anne); got != want {
			t.Errorf("redactClient(%q) = %q, want %q", in, got, want)
		}
	}
	// A private person: their own name's words too.
	person := clients.Private{Name: "Jacques Durand", Kind: "person"}
	if got := redactClient("Ordinateur de M. Durand", person); got != "Ordinateur de M. [client]" {
		t.Errorf("a private person's name: %q", got)
	}
}
