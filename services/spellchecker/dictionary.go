package spellchecker

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:generate go run ./internal/dictgen -scowl /usr/share/dict/scowl -o dict/words.txt.gz

// embeddedWords is the default word list: SCOWL sizes 10–60, American
// spelling, about 122,000 words in eight commonness tiers (the most
// frequent English words first, then SCOWL's sizes; see internal/dictgen
// and dict/SCOWL-COPYRIGHT.txt).
//
//go:embed dict/words.txt.gz
var embeddedWords []byte

// MaxEditDistance is the largest edit distance at which Suggest proposes a
// word.
const MaxEditDistance = 2

// ErrInvalidWordList is wrapped by LoadDictionary errors.
var ErrInvalidWordList = errors.New("spellchecker: invalid word list")

// Dictionary is a word list with commonness tiers. It is immutable and
// safe for concurrent use.
type Dictionary struct {
	// tier maps every word as listed (case kept) to its tier, 0 = most
	// common.
	tier map[string]uint8
	// byLen groups the lower-case forms by length in runes, for the
	// suggestion search.
	byLen [][]candidate
}

// candidate is a dictionary word prepared for distance computations.
type candidate struct {
	lower []rune
	word  string // as listed ("London", "the")
	tier  uint8
	bag   uint32 // bit i set if the word contains letter 'a'+i
}

var (
	defaultOnce sync.Once
	defaultDict *Dictionary
	defaultErr  error
)

// DefaultDictionary returns the dictionary built from the embedded word
// list, loading it on first use (see BenchmarkLoadDictionary: about
// 150 ms on one core).
func DefaultDictionary() (*Dictionary, error) {
	defaultOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(embeddedWords))
		if err != nil {
			defaultErr = fmt.Errorf("%w: embedded list: %w", ErrInvalidWordList, err)
			return
		}
		defaultDict, defaultErr = LoadDictionary(zr)
	})
	return defaultDict, defaultErr
}

// LoadDictionary reads a word list in the embedded format: a line "#N"
// starts a tier (tiers in increasing N, more common first), every other
// non-empty line is one word of the current tier. Words before the first
// tier line belong to tier 0.
func LoadDictionary(r io.Reader) (*Dictionary, error) {
	d := &Dictionary{tier: map[string]uint8{}}
	sc := bufio.NewScanner(r)
	tier, seenTier, line := 0, false, 0
	for sc.Scan() {
		line++
		w := strings.TrimSpace(sc.Text())
		switch {
		case w == "":
			continue
		case strings.HasPrefix(w, "#"):
			if _, err := strconv.Atoi(w[1:]); err != nil {
				return nil, fmt.Errorf("%w: line %d: tier line %q is not #<number>", ErrInvalidWordList, line, w)
			}
			if seenTier {
				tier++
			}
			seenTier = true
			if tier > 255 {
				return nil, fmt.Errorf("%w: more than 256 tiers", ErrInvalidWordList)
			}
			continue
		case !utf8.ValidString(w):
			return nil, fmt.Errorf("%w: line %d is not UTF-8", ErrInvalidWordList, line)
		}
		if _, dup := d.tier[w]; !dup {
			d.tier[w] = uint8(tier)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidWordList, err)
	}
	if len(d.tier) == 0 {
		return nil, fmt.Errorf("%w: no words", ErrInvalidWordList)
	}
	d.index()
	return d, nil
}

// index builds byLen: one candidate per lower-case form, the most common
// listing winning ("us" over "US"). The buckets are in map order: Suggest
// breaks every tie itself, so its answer does not depend on it.
func (d *Dictionary) index() {
	best := map[string]candidate{}
	for w, t := range d.tier {
		lw := strings.ToLower(w)
		if c, ok := best[lw]; ok && (c.tier < t || (c.tier == t && c.word == lw)) {
			continue
		}
		best[lw] = candidate{lower: []rune(lw), word: w, tier: t, bag: letterBag([]rune(lw))}
	}
	for _, c := range best {
		n := len(c.lower)
		for len(d.byLen) <= n {
			d.byLen = append(d.byLen, nil)
		}
		d.byLen[n] = append(d.byLen[n], c)
	}
}

// Len returns the number of words.
func (d *Dictionary) Len() int { return len(d.tier) }

// Contains reports whether word is spelt correctly: it is listed as
// written, or it is capitalised (at a sentence start, in a title, in
// capitals) and its lower-case form is listed. A proper noun written in
// lower case ("london") is not.
func (d *Dictionary) Contains(word string) bool {
	word = normaliseApostrophes(word)
	if _, ok := d.tier[word]; ok {
		return true
	}
	if lw := strings.ToLower(word); lw != word {
		if _, ok := d.tier[lw]; ok {
			return true
		}
		// "LONDON" and "London" are both right for the listed "London".
		if _, ok := d.tier[titleCase(lw)]; ok {
			return true
		}
	}
	// A possessive of a listed word ("Smith's", "teachers'").
	if base, ok := strings.CutSuffix(word, "'s"); ok && base != "" && d.Contains(base) {
		return true
	}
	if base, ok := strings.CutSuffix(word, "s'"); ok && base != "" && d.Contains(base+"s") {
		return true
	}
	return false
}

// Suggest returns the most likely intended word for a misspelt word, with
// the word's capitalisation, and false when no listed word is within
// MaxEditDistance.
//
// Candidates are ranked by: edit distance (optimal string alignment);
// then candidates with exactly the word's letters (a transposition, the
// most common typing slip: "teh" -> "the" rather than "ten"); then
// commonness tier; then closeness in length; then shorter; then
// alphabetical order, so the answer is deterministic.
func (d *Dictionary) Suggest(word string) (string, bool) {
	word = normaliseApostrophes(word)
	lw := []rune(strings.ToLower(word))
	if len(lw) == 0 {
		return "", false
	}
	bag := letterBag(lw)
	rows := make([]int, 3*(len(lw)+MaxEditDistance+1))
	type scored struct {
		c       candidate
		dist    int
		anagram bool
	}
	var best *scored
	better := func(a, b scored) bool {
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		if a.anagram != b.anagram {
			return a.anagram
		}
		if a.c.tier != b.c.tier {
			return a.c.tier < b.c.tier
		}
		da, db := abs(len(a.c.lower)-len(lw)), abs(len(b.c.lower)-len(lw))
		if da != db {
			return da < db
		}
		if la, lb := len(a.c.lower), len(b.c.lower); la != lb {
			return la < lb
		}
		return cmp.Less(a.c.word, b.c.word)
	}
	for n := max(1, len(lw)-MaxEditDistance); n <= len(lw)+MaxEditDistance && n < len(d.byLen); n++ {
		for _, c := range d.byLen[n] {
			// Each edit changes at most two letters of the letter set, so
			// words whose sets differ in more letters cannot be close.
			if diff := bitCount(c.bag ^ bag); diff > 2*MaxEditDistance {
				continue
			}
			dist, ok := osaDistance(lw, c.lower, MaxEditDistance, rows)
			if !ok || (dist == 0 && c.word == word) {
				// dist 0 with another spelling is a capitalisation fix
				// ("london" -> "London"), the best suggestion there is.
				continue
			}
			s := scored{c: c, dist: dist, anagram: sameLetters(lw, c.lower)}
			if best == nil || better(s, *best) {
				best = &s
			}
		}
	}
	if best == nil {
		return "", false
	}
	return matchCase(word, best.c.word), true
}

// letterBag returns the set of ASCII letters in w as bits; other runes all
// map to bit 26.
func letterBag(w []rune) uint32 {
	var b uint32
	for _, r := range w {
		if r >= 'a' && r <= 'z' {
			b |= 1 << (r - 'a')
		} else {
			b |= 1 << 26
		}
	}
	return b
}

func bitCount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// sameLetters reports whether a and b are anagrams.
func sameLetters(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// matchCase gives suggestion the capitalisation of word: all capitals, or
// a capital first letter. A suggestion with capitals of its own (a proper
// noun) keeps them.
func matchCase(word, suggestion string) string {
	if suggestion != strings.ToLower(suggestion) {
		if isUpper(word) {
			return strings.ToUpper(suggestion)
		}
		return suggestion
	}
	switch {
	case isUpper(word) && utf8.RuneCountInString(word) > 1:
		return strings.ToUpper(suggestion)
	case startsUpper(word):
		return titleCase(suggestion)
	}
	return suggestion
}

func titleCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func startsUpper(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r)
}

// isUpper reports whether every letter of s is upper case.
func isUpper(s string) bool {
	letters := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters = true
			if !unicode.IsUpper(r) {
				return false
			}
		}
	}
	return letters
}

func normaliseApostrophes(s string) string {
	return strings.ReplaceAll(s, "\u2019", "'")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
