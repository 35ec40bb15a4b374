package event

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Namespace is the platform's UUIDv5 namespace for DeterministicID: the
// SHA-1 name-based UUID of "huleedu.events" in the URL namespace. It must
// never change, or ids computed before and after the change would differ.
var Namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("huleedu.events"))

// DeterministicID returns the UUIDv5 of parts within namespace: the same
// inputs always give the same id, in every process and after every restart.
//
// Build the event id from the business facts that identify the event (for
// example the event type and the essay id) and pass it to WithEventID. Then
// a publish that is retried, replayed from the fallback queue or repeated
// after a crash carries the same event_id as the first attempt, and
// consumers drop the duplicate by id. Random ids (the NewEnvelope default)
// make every attempt look like a new event.
//
// Parts are length-prefixed before hashing, so ("ab", "c") and ("a", "bc")
// give different ids. The name hashed is the concatenation of
// "<byte length>:<part>" for every part, which other languages reproduce;
// in Python:
//
//	uuid.uuid5(NAMESPACE, "".join(f"{len(p.encode())}:{p}" for p in parts))
func DeterministicID(namespace uuid.UUID, parts ...string) uuid.UUID {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return uuid.NewSHA1(namespace, []byte(b.String()))
}
