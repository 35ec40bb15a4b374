// Package classmgmt is HuleEdu's Class Management Service: classes,
// students, enrolments and essay authorship over REST, each change
// announced on the event bus.
//
// Events: ClassCreatedV1 when a class is created; StudentCreatedV1 when a
// student is; StudentAssociatedV1 when a student is enrolled in a class
// (association_method "enrolment") or named as the author of an essay
// ("manual"). Repeating an enrolment or an essay association that already
// holds publishes nothing.
//
// Guarantees: a change and its events go together. Every change runs in a
// Store transaction that also publishes (with the transaction's ctx); if
// the bus does not accept an event the transaction is dropped and the
// client gets 503 with Retry-After, so nothing exists that was not
// announced. Validation errors
// are 400 with the field named; unknown classes and students 404.
//
// Persistence: Store, in the service's database (SQLStore, PostgreSQL or
// SQLite; see migrations/), or in memory for tests (MemoryStore). With the
// database a change and its events commit in one transaction, the events
// in the outbox; a database that is unavailable answers 503
// database_unavailable, with nothing changed.
//
// Usage:
//
//	svc, err := classmgmt.New(classmgmt.Deps{Bus: bus, Logger: logger})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux)
package classmgmt
