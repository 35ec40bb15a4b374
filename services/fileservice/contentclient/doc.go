// Package contentclient fetches essay texts from the File Service
// (GET /v1/content/{id}). The Spellchecker and CJ Assessment use it.
//
// The http.Client is injected: in the services it carries a breaker
// transport (resilience.Transport, registered as
// "<service>.file_service"), so a File Service that keeps failing is not
// called until it recovers, and Fetch fails fast with an error for which
// errors.Is(err, resilience.ErrCircuitOpen) holds.
//
// Fetch classifies what it gets: ErrNotFound for a content id the File
// Service does not know (permanent: a retry will not help), *StatusError
// for other error answers, and the transport's error otherwise (network,
// breaker open, context). Callers retry the latter two.
//
//	client, err := contentclient.New(httpClient, "http://127.0.0.1:8081")
//	text, err := client.Fetch(ctx, contentID)
//	switch {
//	case errors.Is(err, contentclient.ErrNotFound):
//		// report the essay as failed
//	case err != nil:
//		return err // the consumer retries the event later
//	}
package contentclient
