package spellchecker

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func BenchmarkSuggest(b *testing.B) {
	d := embedded(b)
	words := []string{"teh", "recieve", "enviroment", "xqzvwkpj", "neccessary"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.Suggest(words[i%len(words)])
	}
}

// BenchmarkCheckEssay checks a 370-word essay with 5 distinct
// misspellings, each repeated 10 times.
func BenchmarkCheckEssay(b *testing.B) {
	d := embedded(b)
	para := "The goverment should recieve more feedback from teh students, who beleive that " +
		"their enviroment is not always helpful. Schools are important places where children learn to " +
		"think, to write and to argue about the world around them. "
	essay := strings.Repeat(para, 10)
	b.SetBytes(int64(len(essay)))
	for b.Loop() {
		d.Check(essay)
	}
}

func BenchmarkLoadDictionary(b *testing.B) {
	for b.Loop() {
		zr, err := gzip.NewReader(bytes.NewReader(embeddedWords))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := LoadDictionary(zr); err != nil {
			b.Fatal(err)
		}
	}
}
