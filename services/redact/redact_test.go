package redact

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coopnet/coopnet/services/clients"
)

// tilleuls is a school client, whose contact is written into notes in many
// ways.
var tilleuls = clients.Private{Name: "École primaire des Tilleuls", Kind: "school", ContactName: "Mme Martine Lefèvre",
	ContactEmail: "direction.tilleuls@example.org", ContactPhone: "03 81 00 00 01",
	Addresses: []string{"12 rue des Écoles, 25150 Bourguignon", "Bâtiment B, 3 bis allée du Stade, 25150 Bourguignon"}}

// redactCases runs Client on each input of tests, and checks that the
// result is the one wanted and that redacting it again changes nothing.
func redactCases(t *testing.T, p clients.Private, tests []struct{ in, want string }) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := Client(tc.in, p)
			if got != tc.want {
				t.Errorf("Client(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if again := Client(got, p); again != got {
				t.Errorf("redacting %q again gives %q", got, again)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	terms := []string{"École primaire des Tilleuls", "Mme Martin", "ecole.tilleuls@example.org", "03 81 00 00 01", "Jo"}
	for _, tc := range []struct{ in, want string }{
		{"Site web de l'école", "Site web de l'école"},
		{"Site web – École primaire des Tilleuls", "Site web – [client]"},
		{"site pour l'ECOLE PRIMAIRE DES TILLEULS, voir mme martin", "site pour l'[client], voir [client]"},
		{"Écrire à ecole.tilleuls@example.org ou 03 81 00 00 01", "Écrire à [client] ou [client]"},
		{"voir Mme\u00a0Martin ou Mme  Martin", "voir [client] ou [client]"}, // any spaces
		{"Jo et Joséphine", "Jo et Joséphine"},                               // too short a term
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s := newScrubber(tc.in)
			s.terms(terms, false, asClient)
			if got := s.String(); got != tc.want {
				t.Errorf("terms in %q = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactClient(t *testing.T) {
	// The expectations of before phone numbers, e-mail addresses and
	// streets had markers of their own: the client's phone and e-mail are
	// [téléphone] and [e-mail] now, not [client]; another phone number is
	// scrubbed too; "Mme Le Gall" leaves "Mme", not "Mme Le".
	redactCases(t, tilleuls, []struct{ in, want string }{
		{"Site web de l'école", "Site web de l'école"},
		{"Serveur HS chez Mme Lefèvre", "Serveur HS chez Mme [client]"},
		{"voir martine, ou LEFEVRE", "voir [client], ou [client]"},
		{"rappeler au 0381000001", "rappeler au [téléphone]"},
		{"appeler le +33 3 81 00 00 01 demain", "appeler le [téléphone] demain"},
		{"tél. (03) 81.00.00.01", "tél. [téléphone]"},
		{"le 12/03 au 03-81-00-00-01", "le 12/03 au [téléphone]"},
		{"écrire à direction.tilleuls", "écrire à [client]"},
		{"poste 03 81 00 00 02, salle 12", "poste [téléphone], salle 12"},
		{"École primaire des Tilleuls: 20 postes", "[client]: 20 postes"},
	})
	// Words only as whole words; mailboxes that name no one are not words
	// to scrub.
	anne := clients.Private{Name: "Mairie de Vézelay", Kind: "town_hall", ContactName: "Anne Le Gall", ContactEmail: "info@vezelay.example"}
	redactCases(t, anne, []struct{ in, want string }{
		{"Panne du réseau informatique", "Panne du réseau informatique"},
		{"Maintenance informatique, Anne", "Maintenance informatique, [client]"},
		{"demander à Mme Le Gall", "demander à Mme [client]"},
		{"demander à Mme LE GALL ou à M. Gall", "demander à Mme [client] ou à M. [client]"},
		{"Le serveur de la mairie", "Le serveur de la mairie"},
		{"écrire à info@vezelay.example", "écrire à [e-mail]"},
		{"voir info (le secrétariat)", "voir info (le secrétariat)"},
	})
	// A private person: their own name's words too.
	redactCases(t, clients.Private{Name: "Jacques Durand", Kind: "person"}, []struct{ in, want string }{
		{"Ordinateur de M. Durand", "Ordinateur de M. [client]"},
		{"PC portable de Jacques", "PC portable de [client]"},
	})
}

func TestRedactNames(t *testing.T) {
	p := clients.Private{Name: "Jean-Pierre d'Artagnan", Kind: "person", ContactName: "Mme Anne-Sophie de La Fontaine",
		ContactEmail: "as.delafontaine@example.org"}
	redactCases(t, p, []struct{ in, want string }{
		{"PC de Jean-Pierre", "PC de [client]"},
		{"PC de jean-pierre", "PC de [client]"},
		{"PC de Jean Pierre", "PC de [client]"},
		{"voir Pierre, puis Jean", "voir [client], puis [client]"},
		{"chez M. d'Artagnan", "chez M. [client]"},
		{"chez M. d’Artagnan", "chez M. [client]"}, // a typographic apostrophe
		{"chez M. D'ARTAGNAN", "chez M. [client]"},
		{"chez M. Artagnan", "chez M. [client]"},
		{"Mme de La Fontaine rappellera", "Mme [client] rappellera"},
		{"Mme Fontaine rappellera", "Mme [client] rappellera"},
		{"appeler Anne-Sophie", "appeler [client]"},
		{"appeler ANNE SOPHIE DE LA FONTAINE", "appeler [client]"},
		{"Sophie ou sa collègue", "[client] ou sa collègue"},
		{"le lecteur de la fontainerie", "le lecteur de la fontainerie"},
		{"la fontaine de la cour", "[client] de la cour"}, // a name that is a word too
	})
}

func TestRedactPeople(t *testing.T) {
	// Anyone's name after a civility; not a title.
	redactCases(t, tilleuls, []struct{ in, want string }{
		{"le parent, M. Jean-Pierre Martin, peut aider", "le parent, M. [nom], peut aider"},
		{"Mme Durand (06 12 34 56 78) rappellera", "Mme [nom] ([téléphone]) rappellera"},
		{"voir avec Mme Le Gall ou M. de Villepin", "voir avec Mme [nom] ou M. [nom]"},
		{"Madame Anne-Sophie d'Harcourt, Dr Watson, Monsieur DURAND", "Madame [nom], Dr [nom], Monsieur [nom]"},
		{"M. Martin Le serveur est en panne", "M. [nom] Le serveur est en panne"},
		{"Mme Lefèvre et M. Paul Durand", "Mme [client] et M. [nom]"}, // the client's contact is theirs
		{"voir M. le Maire, Mme la Directrice, Monsieur le Maire ou M. Le Maire", "voir M. le Maire, Mme la Directrice, Monsieur le Maire ou M. Le Maire"},
		{"Madame la Présidente, M. Le Directeur", "Madame la Présidente, M. Le Directeur"},
		{"Me rappeler demain", "Me rappeler demain"},
		{"taille M Homme, 5 M de fibre", "taille M Homme, 5 M de fibre"},
		{"mme durand", "mme durand"}, // no capital: not told from words
	})
}

func TestRedactPhones(t *testing.T) {
	// Anyone's phone number, in every way it is written.
	var tests []struct{ in, want string }
	for _, phone := range []string{
		"06 12 34 56 78", "0612345678", "06.12.34.56.78", "06-12-34-56-78", "06/12/34/56/78",
		"06\u00a012\u00a034\u00a056\u00a078", "06\u202f12\u202f34\u202f56\u202f78", "06 - 12 - 34 - 56 - 78",
		"+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "+33(0)612345678", "(+33) 6 12 34 56 78",
		"(+33)6.12.34.56.78", "+33 06 12 34 56 78", "0033 6 12 34 56 78", "00 33 6 12 34 56 78", "0033612345678",
		"+33612345678", "+33 612 345 678", "+336 12 34 56 78",
		"6 12 34 56 78", "6.12.34.56.78", "6-12-34-56-78", // without the 0
		"(03) 81 00 00 02", "03 81 00 00 02",
		"+262 262 12 34 56", "+262 692 12 34 56", "0262 12 34 56", "02 62 12 34 56", "0692123456",
		"+590 590 12 34 56", "+594 594 12 34 56", "+596 596 12 34 56", "+269 269 61 23 45", "+687 12 34 56",
		"+689 40 12 34 56", "+508 41 12 34",
		"08 00 12 34 56", "0800 12 34 56", "0800 123 456", "0 800 12 34 56", "0 800 123 456", "09 70 12 34 56",
		"+41 79 123 45 67", "+32 2 123 45 67", "0041 79 123 45 67", "+1 555 123 4567", "+44 20 7946 0958",
	} {
		tests = append(tests, struct{ in, want string }{"Appeler le " + phone + " demain", "Appeler le [téléphone] demain"})
	}
	tests = append(tests, []struct{ in, want string }{
		{"Tél : 06 12 34 56 78.", "Tél : [téléphone]."},
		{"(06 12 34 56 78)", "([téléphone])"},
		{"mobile 0612345678, fixe 03.81.00.00.09", "mobile [téléphone], fixe [téléphone]"},
		{"06 12 34 56 78 / 06 98 76 54 32", "[téléphone] / [téléphone]"},
		{"06 12 34 56 78 06 98 76 54 32", "[téléphone] [téléphone]"},
		{"le 12/03 au 06 12 34 56 78", "le 12/03 au [téléphone]"},
		{"salle 1 06 12 34 56 78", "salle 1 [téléphone]"},
		// The client's own, however grouped; its nine figures alone too.
		{"standard : 038 100 00 01", "standard : [téléphone]"},
		{"standard : 03 810 000 01", "standard : [téléphone]"},
		{"standard : 381000001", "standard : [téléphone]"},
		{"standard : +33 (0)3 81 00 00 01", "standard : [téléphone]"},
		{"standard : 0033381000001", "standard : [téléphone]"},
		{"ref 12 03 81 00 00 01", "ref 12 [téléphone]"},
	}...)
	redactCases(t, tilleuls, tests)
}

func TestRedactKeeps(t *testing.T) {
	// What looks like a phone number or an address but is not one.
	var tests []struct{ in, want string }
	for _, s := range []string{
		"le 12/03/2026", "le 12/03 à 14h30", "le 01/02/2026 10h", "du 01/03/2026 au 15/03/2026", "le 12.03.2026",
		"de 8h30 à 12h", "à 14:30", "budget 2 000 €", "180 €/jour", "1 234 567 €", "2 000 000 €", "+15 %",
		"code postal 25150", "à 25150 Bourguignon", "3 postes", "20 postes sous Windows 10 22H2", "Debian 12.5",
		"PHP 8.2.12", "version 10.0.19045.3803", "serveur 192.168.1.10", "passerelle 10.0.0.1/24",
		"réseau 172.16.0.0/12", "masque 255.255.255.0", "DNS 8.8.8.8 et 1.1.1.1", "v1.2.3.4",
		"SIRET 123 456 789 00012", "SIRET 12345678900012", "SIREN 123456789", "SIREN 123 456 789",
		"FR76 3000 6000 0112 3456 7890 189", "RJ45 de 5 m", "câble de 3 m, 2 x 1 To", "12 34 56 78 90",
		"commande n° 2026-0312-45", "ticket #4512", "3 rue", "1 place de parking", "2 places de parking",
		"10 cours de Python", "1 domaine Windows", "ajouter 1 route statique", "3 chemins d'accès",
		"la rue des Écoliers", "dans la rue", "12 ans", "à 3 rues de là", "le 3 avenue", "15 rue",
		"contact@", "@jean", "10 postes @ 500 €", "user@localhost", "voir info@", "a@b",
	} {
		tests = append(tests, struct{ in, want string }{s, s})
	}
	redactCases(t, tilleuls, tests)
}

func TestRedactEmails(t *testing.T) {
	redactCases(t, tilleuls, []struct{ in, want string }{
		{"écrire à direction.tilleuls@example.org", "écrire à [e-mail]"},
		{"écrire à DIRECTION.TILLEULS@EXAMPLE.ORG.", "écrire à [e-mail]."},
		{"ou à jeanne.dupont@orange.fr, merci", "ou à [e-mail], merci"},
		{"le maire : prénom.nom@mairie-bourguignon.fr", "le maire : [e-mail]"},
		{"parent : élodie_durand+ecole@laposte.net", "parent : [e-mail]"},
		{"<jean@example.org>", "<[e-mail]>"},
		{"mailto:jean@example.org", "mailto:[e-mail]"},
		{"jean [at] example.org", "[e-mail]"},
		{"jean(at)example.org", "[e-mail]"},
		{"jean [AT] example [dot] org", "[e-mail]"},
		{"jean{at}example(point)org", "[e-mail]"},
		{"jean [arobase] example.org", "[e-mail]"},
		{"contact @ mairie-bourguignon.fr", "[e-mail]"},
		{"jean@sub.domaine.example.org et marie@x.fr", "[e-mail] et [e-mail]"},
	})
}

func TestRedactAddresses(t *testing.T) {
	redactCases(t, tilleuls, []struct{ in, want string }{
		// The client's sites, as stored and as written.
		{"école au 12 rue des Écoles, 25150 Bourguignon", "école au [adresse]"},
		{"école au 12 rue des Écoles, 25150 Bourguignon.", "école au [adresse]."},
		{"école au 12, r. des ecoles", "école au [adresse]"},
		{"école au 12 RUE DES ÉCOLES 25150 BOURGUIGNON", "école au [adresse]"},
		{"école rue des Écoles", "école [adresse]"},
		{"école, Rue des écoles, à côté de la poste", "école, [adresse], à côté de la poste"},
		{"au 14 bis rue des Écoles", "au [adresse]"},
		{"annexe allée du Stade", "annexe [adresse]"},
		{"annexe 3 bis all. du stade", "annexe [adresse]"},
		{"annexe Bâtiment B, 3 bis allée du Stade", "annexe [adresse]"},
		{"la rue des Écoliers", "la rue des Écoliers"},
		// Any street address with its number.
		{"chez le parent, 3 bis avenue Jean-Jaurès 25000 Besançon", "chez le parent, [adresse]"},
		{"5 place de la Mairie", "[adresse]"},
		{"12 bd Voltaire, le 12/03", "[adresse], le 12/03"},
		{"7 av. du Général de Gaulle", "[adresse]"},
		{"10 rue du 8 Mai 1945", "[adresse] 1945"},
		{"12b rue Pasteur à 14h", "[adresse] à 14h"},
		{"12 rue des lilas pour installer la box", "[adresse] pour installer la box"},
		{"4 impasse des Vignes\n25150 Pont-de-Roide", "[adresse]"},
		{"2 route de Besançon", "[adresse]"},
		{"1 place de parking", "1 place de parking"},
	})
}

func TestRedactNotes(t *testing.T) {
	dupont := clients.Private{Name: "École du Centre", Kind: "school", ContactName: "Mme Jeanne Dupont",
		ContactEmail: "jeanne.dupont@orange.fr", ContactPhone: "06 12 34 56 78",
		Addresses: []string{"12 rue des Écoles, 25150 Bourguignon"}}
	redactCases(t, dupont, []struct{ in, want string }{
		{"Appeler Mme Jeanne Dupont au (+33) 6 12 34 56 78 ou jeanne.dupont@orange.fr, école au 12 rue des Écoles, le 12/03 à 14h30, budget 2 000 €",
			"Appeler [client] au [téléphone] ou [e-mail], école au [adresse], le 12/03 à 14h30, budget 2 000 €"},
		{"Mme Dupont (6 12 34 56 78) préfère être appelée après 17h ; sinon son mari au 07 98 76 54 32.",
			"Mme [client] ([téléphone]) préfère être appelée après 17h ; sinon son mari au [téléphone]."},
		{"Le parent qui a monté le réseau, M. Jean-Pierre Martin, peut aider : 06.98.76.54.32, jp.martin@free.fr.",
			"Le parent qui a monté le réseau, M. [nom], peut aider : [téléphone], [e-mail]."},
		{"3 postes sous Debian 12.5, serveur en 192.168.1.10 (box 81.250.12.3), facture au nom de l'école, SIRET 123 456 789 00012.",
			"3 postes sous Debian 12.5, serveur en 192.168.1.10 (box [IP]), facture au nom de l'école, SIRET 123 456 789 00012."},
		{"JEANNE DUPONT, 12 R. DES ECOLES, 25150 BOURGUIGNON, TEL 0612345678",
			"[client], [adresse], TEL [téléphone]"},
		{"Rdv le 12/03/2026 à 9 h au 12 rue des Écoles ; prévoir 180 €/jour ; mairie : secretariat@mairie-bourguignon.fr ou 03 81 96 00 00",
			"Rdv le 12/03/2026 à 9 h au [adresse] ; prévoir 180 €/jour ; mairie : [e-mail] ou [téléphone]"},
	})
}

func TestRedactMarkers(t *testing.T) {
	// Markers in a text stay as they are, whatever the client is called.
	odd := clients.Private{Name: "Client", Kind: "person", ContactName: "Adresse Téléphone", ContactEmail: "mail@ip.example"}
	redactCases(t, odd, []struct{ in, want string }{
		{"[client] [nom] [téléphone] [e-mail] [adresse] [IP]", "[client] [nom] [téléphone] [e-mail] [adresse] [IP]"},
		{"Client au [téléphone]", "[client] au [téléphone]"},
		{"[client][client]", "[client][client]"},
	})
}

func TestScrubbedAway(t *testing.T) {
	for in, want := range map[string]bool{
		"[client]": true, " [client] – [téléphone] ": true, "[adresse], [e-mail]": true, "": true,
		"Site web de l'[client]": false, "[client] 2": false,
	} {
		if got := ScrubbedAway(in); got != want {
			t.Errorf("ScrubbedAway(%q) = %v", in, got)
		}
	}
}

// tilleulsPhones are the client's phone in the ways it may be written.
var tilleulsPhones = []string{"03 81 00 00 01", "0381000001", "03.81.00.00.01", "03-81-00-00-01", "(03) 81 00 00 01",
	"+33 3 81 00 00 01", "+33 (0)3 81 00 00 01", "(+33) 3 81 00 00 01", "0033 3 81 00 00 01", "+33381000001",
	"3 81 00 00 01", "03\u00a081\u00a000\u00a000\u00a001", "038 100 00 01"}

// FuzzRedact checks, on any text with the client's phone, e-mail and site
// address in it, that the redacted text is valid UTF-8, has none of them
// left, and is its own redaction.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "Appeler Mme Martine Lefèvre au (+33) 6 12 34 56 78, école au 12 rue des Écoles, le 12/03 à 14h30",
		"budget 2 000 €, 180 €/jour, Debian 12.5, 192.168.1.10, SIRET 123 456 789 00012", "jean [at] example [dot] org",
		"Tilleuls06 12 34 56 78", "[client]12 rue Pasteur", "+41 79 123 45 67 06 12 34 56 78", "3 bis av. Jean-Jaurès 25000 Besançon",
		"\xff\xfe invalide", "[téléphone", "Le Gall", "1.2.3.4.5", "0 800 123 456 0"} {
		f.Add(s, s, uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, before, after string, form uint8) {
		phone := tilleulsPhones[int(form)%len(tilleulsPhones)]
		text := before + " " + phone + " " + tilleuls.ContactEmail + " 12 rue des Écoles " + after
		got := Client(text, tilleuls)
		if !utf8.ValidString(got) {
			t.Errorf("not UTF-8: %q", got)
		}
		for _, p := range tilleulsPhones {
			if strings.Contains(got, " "+p+" ") {
				t.Errorf("the phone %q is left in %q", p, got)
			}
		}
		folded := foldText(got)
		if strings.Contains(folded, tilleuls.ContactEmail) || strings.Contains(folded, " 12 rue des ecoles ") {
			t.Errorf("the e-mail or address is left in %q", got)
		}
		if again := Client(got, tilleuls); again != got {
			t.Errorf("not idempotent:\n%q\n%q\n%q", text, got, again)
		}
		if plain := Client(before, tilleuls); Client(plain, tilleuls) != plain {
			t.Errorf("not idempotent on %q: %q", before, plain)
		}
		// A text of pieces that make phone numbers, addresses, names and
		// e-mail addresses, next to one another in any order.
		var b strings.Builder
		for _, c := range []byte(after) {
			b.WriteString(fuzzPieces[int(c)%len(fuzzPieces)])
		}
		pieces := b.String()
		plain := Client(pieces, tilleuls)
		if again := Client(plain, tilleuls); again != plain {
			t.Errorf("not idempotent:\n%q\n%q\n%q", pieces, plain, again)
		}
	})
}

// fuzzPieces are what FuzzRedact makes texts of.
var fuzzPieces = []string{"06", "12", "34", "5", "0", "00", "33", "262", "+", "(", ")", " ", " ", " ", ".", "-", "/", "\u00a0",
	",", "\n", "'", "’", "rue", "Rue", "r.", "des", "Écoles", "bis", "b", "place", "Mairie", "de", "la", "Le", "25150",
	"Bourguignon", "@", "jean", "example", "org", "[at]", "[dot]", "Martine", "Lefèvre", "Mme", "Tilleuls",
	"École primaire des Tilleuls", "direction.tilleuls", "direction.tilleuls@example.org", "[client]", "[téléphone]",
	"[e-mail]", "[adresse]", "[IP]", "[", "]", "192", "168", "81", "1", "255", "Jean", "Pierre", "8", "Mai", "Bâtiment",
	"B", "allée", "all.", "Stade", "x", "É", "3 81 00 00 01", "+33 ", "0033", "(0)", "av.", "Jaurès", "cours", "M.", "Mme",
	"Maire", "Dupont", "d'", "[nom]"}

// benchNote is a note of 1 KB as a technician writes it.
var benchNote = func() string {
	s := "Bonjour, l'école a 3 postes sous Debian 12.5 et un serveur au 192.168.1.10 qui ne démarre plus depuis le 12/03/2026. " +
		"Appeler Mme Martine Lefèvre au (+33) 6 12 34 56 78 ou écrire à martine.lefevre@orange.fr, ou la mairie (03 81 00 00 01). " +
		"Intervention sur place au 12 rue des Écoles, 25150 Bourguignon, le 12/03 à 14h30 de préférence ; budget 2 000 €, soit 180 €/jour. " +
		"Le parent d'élève qui a monté le réseau, M. Jean-Pierre Martin, peut aider : 06.98.76.54.32, jp.martin@free.fr. " +
		"Prévoir un câble RJ45 de 5 m, une clé USB de 32 Go et le mot de passe de la box (à demander à la directrice). " +
		"La facture est au nom de l'école, SIRET 123 456 789 00012, à envoyer au secrétariat de mairie. Merci d'avance ! "
	for len(s) < 1024 {
		s += "Rien d'autre à signaler pour l'instant. "
	}
	return s[:strings.LastIndexByte(s[:1024], ' ')]
}()

func BenchmarkRedact(b *testing.B) {
	b.SetBytes(int64(len(benchNote)))
	b.ReportAllocs()
	for b.Loop() {
		Client(benchNote, tilleuls)
	}
}

// BenchmarkRedactFigures times the longest note (2000 runes) of nothing but
// groups of figures, each of which may start a phone number.
func BenchmarkRedactFigures(b *testing.B) {
	note := strings.Repeat("1 ", 1000)
	b.SetBytes(int64(len(note)))
	for b.Loop() {
		Client(note, tilleuls)
	}
}
