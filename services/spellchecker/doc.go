// Package spellchecker is HuleEdu's Spellchecker Service: for every
// EssaySpellcheckRequestedV1 it fetches the essay's text from the File
// Service, checks it against an English dictionary and publishes
// SpellcheckCompletedV1 with the misspelt words, where they are and what
// they most likely should be.
//
// The dictionary is embedded (dict/words.txt.gz, about 122,000 words from
// SCOWL, built by internal/dictgen; licence in dict/SCOWL-COPYRIGHT.txt)
// and ranked in commonness tiers. A word is correct if it is listed as
// written, or capitalised and listed in lower case; possessives of listed
// words are correct. Suggestions are the listed words within optimal
// string alignment (restricted Damerau–Levenshtein) distance 2, ranked by
// distance, then transpositions first ("teh" is "the", not "ten"), then
// commonness, then length. See Dictionary.Check for what is not checked
// (numbers, acronyms, URLs, ...).
//
// Failure handling: the text is fetched through the injected client (with
// a breaker transport in production). A text that will never be available
// (unknown content id, not text) or an unsupported language gives a FAILED
// result, so the batch moves on; any other fetch error is returned for the
// consumer to retry later. Results carry the deterministic event id of
// (batch, essay).
//
// The service keeps no state of its own. Its database (servicekit's) holds
// the requests it has handled and the results it has yet to publish: a
// result goes into the outbox in the transaction that marks its request
// processed, so a redelivered request publishes nothing twice and a
// result is never lost between the check and Kafka, whichever instance
// of the service handles it.
//
// Usage:
//
//	files, _ := contentclient.New(breakerClient, "http://127.0.0.1:8081")
//	svc, err := spellchecker.New(spellchecker.Deps{Bus: bus, Content: files})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux) // POST /v1/spellcheck, for trying the checker
//	for topic, handle := range svc.Handlers() {
//		consumer.Handle(topic, handle)
//	}
package spellchecker
