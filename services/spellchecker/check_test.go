package spellchecker

import (
	"slices"
	"testing"

	"github.com/huleedu/huleedu/services/contracts"
)

func TestCheckFindsMisspellingsWithOffsets(t *testing.T) {
	res := embedded(t).Check("Teh cat did not recieve the letter.")
	want := []contracts.SpellcheckCorrection{
		{Word: "Teh", Suggestion: "The", Offset: 0},
		{Word: "recieve", Suggestion: "receive", Offset: 16},
	}
	if !slices.Equal(res.Corrections, want) {
		t.Errorf("corrections = %+v, want %+v", res.Corrections, want)
	}
	if res.WordCount != 7 {
		t.Errorf("word count = %d, want 7", res.WordCount)
	}
}

func TestCheckOfCorrectTextFindsNothing(t *testing.T) {
	text := `The students' essays weren't long, but they argued well: London's
	schools, in the teacher's view, should give every child a well-known
	chance. NATO and the EU were mentioned twice (see https://example.org/x,
	or mail info@example.org). In 1999, 42 pupils wrote about “café culture”.`
	if res := embedded(t).Check(text); len(res.Corrections) != 0 {
		t.Errorf("corrections in correct text: %+v", res.Corrections)
	}
}

func TestCheckOffsetsCountRunesNotBytes(t *testing.T) {
	res := embedded(t).Check("Café owners recieve") // "é" is two bytes, one rune
	if len(res.Corrections) != 1 || res.Corrections[0].Offset != 12 {
		t.Errorf("corrections = %+v, want recieve at rune offset 12", res.Corrections)
	}
}

func TestCheckReportsEveryOccurrence(t *testing.T) {
	res := embedded(t).Check("teh end, teh start")
	if len(res.Corrections) != 2 || res.Corrections[1].Offset != 9 {
		t.Errorf("corrections = %+v", res.Corrections)
	}
}

func TestTokenizeSplitsWords(t *testing.T) {
	got := []string{}
	for _, tok := range tokenize("Well-known 'quoted' don't teachers' x2 www.a.com a@b.se (end).") {
		got = append(got, tok.text)
	}
	want := []string{"Well", "known", "quoted", "don't", "teachers'", "x2", "end"}
	if !slices.Equal(got, want) {
		t.Errorf("tokens = %q, want %q", got, want)
	}
}
