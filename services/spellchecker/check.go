package spellchecker

import (
	"strings"
	"unicode"

	"github.com/huleedu/huleedu/services/contracts"
)

// Result is the outcome of checking a text.
type Result struct {
	// Corrections are the misspelt words in text order.
	Corrections []contracts.SpellcheckCorrection
	// WordCount is the number of words in the text, checked or skipped.
	WordCount int
}

// token is one word of a text.
type token struct {
	text   string
	offset int // in runes from the start of the text
	digits bool
}

// Check finds the misspelt words of text and a suggestion for each.
//
// Words are runs of letters, with apostrophes inside ("don't") and split
// at hyphens ("well-known" is two words). Not checked: words with digits,
// single letters, words written in capitals that the dictionary does not
// know (acronyms: "NATO"), words with capitals inside ("iPhone",
// "McKinsey") that it does not know, and anything in a URL or an e-mail
// address. Each misspelling is reported where it occurs, also when it
// repeats.
func (d *Dictionary) Check(text string) Result {
	res := Result{Corrections: []contracts.SpellcheckCorrection{}}
	cache := map[string]string{}
	for _, tok := range tokenize(text) {
		res.WordCount++
		if d.skip(tok) || d.Contains(tok.text) {
			continue
		}
		s, ok := cache[tok.text]
		if !ok {
			s, _ = d.Suggest(tok.text)
			cache[tok.text] = s
		}
		res.Corrections = append(res.Corrections, contracts.SpellcheckCorrection{Word: tok.text, Suggestion: s, Offset: tok.offset})
	}
	return res
}

// skip reports whether tok is not checked (see Check).
func (d *Dictionary) skip(tok token) bool {
	switch {
	case tok.digits, len([]rune(tok.text)) < 2:
		return true
	case isUpper(tok.text):
		return !d.Contains(tok.text) // unknown words in capitals are acronyms
	case hasInnerUpper(tok.text):
		return true
	}
	return false
}

func hasInnerUpper(s string) bool {
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// tokenize splits text into words. Whitespace-separated chunks that look
// like URLs or e-mail addresses produce no words.
func tokenize(text string) []token {
	var toks []token
	runes := []rune(text)
	chunkStart := 0
	for i := 0; i <= len(runes); i++ {
		if i < len(runes) && !unicode.IsSpace(runes[i]) {
			continue
		}
		if chunkStart < i {
			chunk := runes[chunkStart:i]
			if !isAddress(string(chunk)) {
				toks = appendWords(toks, chunk, chunkStart)
			}
		}
		chunkStart = i + 1
	}
	return toks
}

func isAddress(chunk string) bool {
	lc := strings.ToLower(chunk)
	return strings.Contains(lc, "://") || strings.HasPrefix(lc, "www.") ||
		(strings.Contains(lc, "@") && strings.Contains(lc, "."))
}

// appendWords adds the words of one chunk; base is the chunk's rune offset.
func appendWords(toks []token, chunk []rune, base int) []token {
	for i := 0; i < len(chunk); {
		if !unicode.IsLetter(chunk[i]) && !unicode.IsDigit(chunk[i]) {
			i++
			continue
		}
		end, digits := wordEnd(chunk, i)
		toks = append(toks, token{text: string(chunk[i:end]), offset: base + i, digits: digits})
		i = end
	}
	return toks
}

// wordEnd returns the end of the word starting at chunk[start] and whether
// it holds digits. A word continues over letters, combining marks, digits
// and apostrophes followed by a letter ("don't"); a trailing apostrophe
// after an s belongs to it as a plural possessive ("teachers'"), any other
// is a closing quote.
func wordEnd(chunk []rune, start int) (end int, digits bool) {
	i := start
	for ; i < len(chunk); i++ {
		r := chunk[i]
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
		case unicode.IsDigit(r):
			digits = true
		case isApostrophe(r) && i > start && i+1 < len(chunk) && unicode.IsLetter(chunk[i+1]):
		default:
			if isApostrophe(r) && i > start && (chunk[i-1] == 's' || chunk[i-1] == 'S') {
				return i + 1, digits
			}
			return i, digits
		}
	}
	return i, digits
}

func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' }
