package spellchecker

import (
	"strings"
	"testing"
)

func embedded(t testing.TB) *Dictionary {
	t.Helper()
	d, err := DefaultDictionary()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEmbeddedDictionaryLoads(t *testing.T) {
	d := embedded(t)
	if d.Len() < 100_000 {
		t.Errorf("embedded dictionary has %d words, want > 100000", d.Len())
	}
}

func TestSuggestCorrectsCommonMisspellings(t *testing.T) {
	d := embedded(t)
	tests := map[string]string{
		"teh":         "the",
		"recieve":     "receive",
		"Teh":         "The",
		"TEH":         "THE",
		"becuase":     "because",
		"definately":  "definitely",
		"seperate":    "separate",
		"occured":     "occurred",
		"untill":      "until",
		"beleive":     "believe",
		"enviroment":  "environment",
		"goverment":   "government",
		"tommorrow":   "tomorrow",
		"acheive":     "achieve",
		"neccessary":  "necessary",
		"begining":    "beginning",
		"freind":      "friend",
		"wierd":       "weird",
		"london":      "London",
		"arguement":   "argument",
		"thier":       "their",
		"writting":    "writing",
		"embarassing": "embarrassing",
	}
	for word, want := range tests {
		got, ok := d.Suggest(word)
		if !ok || got != want {
			t.Errorf("Suggest(%q) = %q, %v; want %q", word, got, ok, want)
		}
	}
}

func TestSuggestGivesUpBeyondMaxEditDistance(t *testing.T) {
	if got, ok := embedded(t).Suggest("xqzvwkpj"); ok {
		t.Errorf("Suggest of gibberish = %q, want nothing", got)
	}
}

func TestContainsAcceptsCapitalisedAndPossessiveForms(t *testing.T) {
	d := embedded(t)
	for _, w := range []string{"the", "The", "THE", "London", "LONDON", "don't", "don\u2019t", "teachers'", "teacher's", "Smith's", "café"} {
		if !d.Contains(w) {
			t.Errorf("Contains(%q) = false", w)
		}
	}
	for _, w := range []string{"teh", "london", "recieve", "Recieve"} {
		if d.Contains(w) {
			t.Errorf("Contains(%q) = true", w)
		}
	}
}

func TestLoadDictionaryRejectsBadLists(t *testing.T) {
	tests := map[string]string{
		"empty":        "",
		"bad tier":     "#ten\nword\n",
		"invalid utf8": "#10\ncaf\xe9\n",
	}
	for name, list := range tests {
		if _, err := LoadDictionary(strings.NewReader(list)); err == nil {
			t.Errorf("%s: LoadDictionary accepted %q", name, list)
		}
	}
}

func TestSuggestPrefersMoreCommonTier(t *testing.T) {
	d, err := LoadDictionary(strings.NewReader("#10\ncat\n#20\ncot\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Suggest("cst"); got != "cat" {
		t.Errorf("Suggest(cst) = %q, want the more common cat", got)
	}
}
