// Command dictgen builds the Spellchecker's embedded word list from SCOWL
// (Spell Checker Oriented Word Lists, Debian package "scowl", installed
// under /usr/share/dict/scowl).
//
// It keeps the American and common English lists of SCOWL sizes 10 to 60
// (60 is the size SCOWL recommends for spell checking): words,
// contractions, capitalised words and proper names. Each word is written
// once, under the smallest size that lists it; smaller sizes hold more
// common words, so the size is the word's commonness tier.
//
// SCOWL's smallest size (10) already holds some 4,000 words, too many to
// tell "which" from "wish" as a suggestion for "wich". So a tier 5 comes
// first: the most frequent words of written English (function words and
// the commonest verbs and nouns, after the Brown corpus frequency ranks),
// listed in topWords below.
//
// Output (gzip-compressed UTF-8 text): a line "#<size>" starts a tier, and
// every following line until the next "#" line is one word of that tier.
//
//	go run ./internal/dictgen -scowl /usr/share/dict/scowl -o dict/words.txt.gz
package main
