package geo

// Source and limits of the tables below.
//
// Codes, names and regions follow the INSEE Code officiel géographique
// (COG): the 96 metropolitan départements ("01".."95" without "20", plus
// "2A" and "2B" for Corsica) and the five overseas départements ("971",
// "972", "973", "974", "976"). The prefecture is the chef-lieu listed by the
// COG.
//
// Lat/Lon are the WGS84 coordinates of the chef-lieu town centre, written by
// hand and rounded to about 0.01° (~1 km). They are NOT the centroid of the
// département: when the caller gives no coordinates, a resolved location is
// only as precise as "somewhere in the département, placed at its
// chef-lieu", which can be 100 km or more from the real place.

// Regions maps a region slug to its French name (regions since 2016).
var Regions = map[string]string{
	"auvergne-rhone-alpes":       "Auvergne-Rhône-Alpes",
	"bourgogne-franche-comte":    "Bourgogne-Franche-Comté",
	"bretagne":                   "Bretagne",
	"centre-val-de-loire":        "Centre-Val de Loire",
	"corse":                      "Corse",
	"grand-est":                  "Grand Est",
	"hauts-de-france":            "Hauts-de-France",
	"ile-de-france":              "Île-de-France",
	"normandie":                  "Normandie",
	"nouvelle-aquitaine":         "Nouvelle-Aquitaine",
	"occitanie":                  "Occitanie",
	"pays-de-la-loire":           "Pays de la Loire",
	"provence-alpes-cote-d-azur": "Provence-Alpes-Côte d'Azur",
	"guadeloupe":                 "Guadeloupe",
	"martinique":                 "Martinique",
	"guyane":                     "Guyane",
	"la-reunion":                 "La Réunion",
	"mayotte":                    "Mayotte",
}

const (
	ara  = "auvergne-rhone-alpes"
	bfc  = "bourgogne-franche-comte"
	bre  = "bretagne"
	cvl  = "centre-val-de-loire"
	cor  = "corse"
	ges  = "grand-est"
	hdf  = "hauts-de-france"
	idf  = "ile-de-france"
	nor  = "normandie"
	naq  = "nouvelle-aquitaine"
	occ  = "occitanie"
	pdl  = "pays-de-la-loire"
	paca = "provence-alpes-cote-d-azur"
)

// departements is the table of every French département (101 entries).
var departements = []Departement{
	{"01", "Ain", ara, "Bourg-en-Bresse", 46.21, 5.23},
	{"02", "Aisne", hdf, "Laon", 49.56, 3.62},
	{"03", "Allier", ara, "Moulins", 46.56, 3.33},
	{"04", "Alpes-de-Haute-Provence", paca, "Digne-les-Bains", 44.09, 6.24},
	{"05", "Hautes-Alpes", paca, "Gap", 44.56, 6.08},
	{"06", "Alpes-Maritimes", paca, "Nice", 43.70, 7.27},
	{"07", "Ardèche", ara, "Privas", 44.74, 4.60},
	{"08", "Ardennes", ges, "Charleville-Mézières", 49.77, 4.72},
	{"09", "Ariège", occ, "Foix", 42.97, 1.61},
	{"10", "Aube", ges, "Troyes", 48.30, 4.07},
	{"11", "Aude", occ, "Carcassonne", 43.21, 2.35},
	{"12", "Aveyron", occ, "Rodez", 44.35, 2.57},
	{"13", "Bouches-du-Rhône", paca, "Marseille", 43.30, 5.37},
	{"14", "Calvados", nor, "Caen", 49.18, -0.37},
	{"15", "Cantal", ara, "Aurillac", 44.93, 2.44},
	{"16", "Charente", naq, "Angoulême", 45.65, 0.16},
	{"17", "Charente-Maritime", naq, "La Rochelle", 46.16, -1.15},
	{"18", "Cher", cvl, "Bourges", 47.08, 2.40},
	{"19", "Corrèze", naq, "Tulle", 45.27, 1.77},
	{"21", "Côte-d'Or", bfc, "Dijon", 47.32, 5.04},
	{"22", "Côtes-d'Armor", bre, "Saint-Brieuc", 48.51, -2.76},
	{"23", "Creuse", naq, "Guéret", 46.17, 1.87},
	{"24", "Dordogne", naq, "Périgueux", 45.18, 0.72},
	{"25", "Doubs", bfc, "Besançon", 47.24, 6.02},
	{"26", "Drôme", ara, "Valence", 44.93, 4.89},
	{"27", "Eure", nor, "Évreux", 49.02, 1.15},
	{"28", "Eure-et-Loir", cvl, "Chartres", 48.44, 1.49},
	{"29", "Finistère", bre, "Quimper", 48.00, -4.10},
	{"2A", "Corse-du-Sud", cor, "Ajaccio", 41.93, 8.74},
	{"2B", "Haute-Corse", cor, "Bastia", 42.70, 9.45},
	{"30", "Gard", occ, "Nîmes", 43.84, 4.36},
	{"31", "Haute-Garonne", occ, "Toulouse", 43.60, 1.44},
	{"32", "Gers", occ, "Auch", 43.65, 0.59},
	{"33", "Gironde", naq, "Bordeaux", 44.84, -0.58},
	{"34", "Hérault", occ, "Montpellier", 43.61, 3.88},
	{"35", "Ille-et-Vilaine", bre, "Rennes", 48.11, -1.68},
	{"36", "Indre", cvl, "Châteauroux", 46.81, 1.69},
	{"37", "Indre-et-Loire", cvl, "Tours", 47.39, 0.69},
	{"38", "Isère", ara, "Grenoble", 45.19, 5.72},
	{"39", "Jura", bfc, "Lons-le-Saunier", 46.67, 5.55},
	{"40", "Landes", naq, "Mont-de-Marsan", 43.89, -0.50},
	{"41", "Loir-et-Cher", cvl, "Blois", 47.59, 1.34},
	{"42", "Loire", ara, "Saint-Étienne", 45.44, 4.39},
	{"43", "Haute-Loire", ara, "Le Puy-en-Velay", 45.04, 3.88},
	{"44", "Loire-Atlantique", pdl, "Nantes", 47.22, -1.55},
	{"45", "Loiret", cvl, "Orléans", 47.90, 1.91},
	{"46", "Lot", occ, "Cahors", 44.45, 1.44},
	{"47", "Lot-et-Garonne", naq, "Agen", 44.20, 0.62},
	{"48", "Lozère", occ, "Mende", 44.52, 3.50},
	{"49", "Maine-et-Loire", pdl, "Angers", 47.47, -0.56},
	{"50", "Manche", nor, "Saint-Lô", 49.12, -1.09},
	{"51", "Marne", ges, "Châlons-en-Champagne", 48.96, 4.36},
	{"52", "Haute-Marne", ges, "Chaumont", 48.11, 5.14},
	{"53", "Mayenne", pdl, "Laval", 48.07, -0.77},
	{"54", "Meurthe-et-Moselle", ges, "Nancy", 48.69, 6.18},
	{"55", "Meuse", ges, "Bar-le-Duc", 48.77, 5.16},
	{"56", "Morbihan", bre, "Vannes", 47.66, -2.76},
	{"57", "Moselle", ges, "Metz", 49.12, 6.18},
	{"58", "Nièvre", bfc, "Nevers", 46.99, 3.16},
	{"59", "Nord", hdf, "Lille", 50.63, 3.06},
	{"60", "Oise", hdf, "Beauvais", 49.43, 2.08},
	{"61", "Orne", nor, "Alençon", 48.43, 0.09},
	{"62", "Pas-de-Calais", hdf, "Arras", 50.29, 2.78},
	{"63", "Puy-de-Dôme", ara, "Clermont-Ferrand", 45.78, 3.09},
	{"64", "Pyrénées-Atlantiques", naq, "Pau", 43.30, -0.37},
	{"65", "Hautes-Pyrénées", occ, "Tarbes", 43.23, 0.08},
	{"66", "Pyrénées-Orientales", occ, "Perpignan", 42.69, 2.89},
	{"67", "Bas-Rhin", ges, "Strasbourg", 48.57, 7.75},
	{"68", "Haut-Rhin", ges, "Colmar", 48.08, 7.36},
	{"69", "Rhône", ara, "Lyon", 45.76, 4.84},
	{"70", "Haute-Saône", bfc, "Vesoul", 47.62, 6.15},
	{"71", "Saône-et-Loire", bfc, "Mâcon", 46.31, 4.83},
	{"72", "Sarthe", pdl, "Le Mans", 48.01, 0.20},
	{"73", "Savoie", ara, "Chambéry", 45.56, 5.92},
	{"74", "Haute-Savoie", ara, "Annecy", 45.90, 6.13},
	{"75", "Paris", idf, "Paris", 48.86, 2.35},
	{"76", "Seine-Maritime", nor, "Rouen", 49.44, 1.10},
	{"77", "Seine-et-Marne", idf, "Melun", 48.54, 2.66},
	{"78", "Yvelines", idf, "Versailles", 48.80, 2.12},
	{"79", "Deux-Sèvres", naq, "Niort", 46.32, -0.46},
	{"80", "Somme", hdf, "Amiens", 49.89, 2.30},
	{"81", "Tarn", occ, "Albi", 43.93, 2.15},
	{"82", "Tarn-et-Garonne", occ, "Montauban", 44.02, 1.35},
	{"83", "Var", paca, "Toulon", 43.12, 5.93},
	{"84", "Vaucluse", paca, "Avignon", 43.95, 4.81},
	{"85", "Vendée", pdl, "La Roche-sur-Yon", 46.67, -1.43},
	{"86", "Vienne", naq, "Poitiers", 46.58, 0.34},
	{"87", "Haute-Vienne", naq, "Limoges", 45.83, 1.26},
	{"88", "Vosges", ges, "Épinal", 48.17, 6.45},
	{"89", "Yonne", bfc, "Auxerre", 47.80, 3.57},
	{"90", "Territoire de Belfort", bfc, "Belfort", 47.64, 6.86},
	{"91", "Essonne", idf, "Évry-Courcouronnes", 48.63, 2.44},
	{"92", "Hauts-de-Seine", idf, "Nanterre", 48.89, 2.21},
	{"93", "Seine-Saint-Denis", idf, "Bobigny", 48.91, 2.44},
	{"94", "Val-de-Marne", idf, "Créteil", 48.79, 2.46},
	{"95", "Val-d'Oise", idf, "Cergy", 49.04, 2.08},
	{"971", "Guadeloupe", "guadeloupe", "Basse-Terre", 16.00, -61.73},
	{"972", "Martinique", "martinique", "Fort-de-France", 14.60, -61.07},
	{"973", "Guyane", "guyane", "Cayenne", 4.94, -52.33},
	{"974", "La Réunion", "la-reunion", "Saint-Denis", -20.88, 55.45},
	{"976", "Mayotte", "mayotte", "Mamoudzou", -12.78, 45.23},
}
