// Package servicekittest checks that a service's fx module is wired the way
// servicekit promises, so every service proves the same things with one
// call from its tests:
//
//   - with CIRCUIT_BREAKER_ENABLED=true its kafkabus.Bus is a
//     *kafkabus.ResilientBus whose breaker is registered as
//     "<service>.kafka_producer" with the configured thresholds; for a
//     service with a database (Want.Database) it is the
//     *servicekit.OutboxBus, whose relay publishes behind that breaker,
//     a KAFKA_FALLBACK_MODE of memory gives the ResilientBus, and an
//     unreachable DATABASE_URL fails start-up naming the variable, its
//     password redacted; without one, KAFKA_FALLBACK_MODE=outbox is
//     refused;
//   - with CIRCUIT_BREAKER_ENABLED=false it is the plain *kafkabus.KafkaBus;
//   - a bad value fails start-up with a message naming the (prefixed)
//     variable and the accepted range;
//   - a missing dependency URL fails start-up naming the variable;
//   - its HTTP dependencies have breakers "<service>.<dependency>", and
//     its routes and consumed topics are registered.
//
// The apps are built, not started: no broker is contacted, so the checks
// need no cluster and take milliseconds.
//
// Usage, in services/spellchecker/module_test.go:
//
//	func TestModuleWiring(t *testing.T) {
//		servicekittest.CheckWiring(t, spellchecker.Spec(), servicekittest.Want{
//			Breakers: []string{"spellchecker_service.file_service"},
//			Topics:   []string{contracts.TopicEssaySpellcheckRequestedV1},
//			API:      true,
//		})
//	}
package servicekittest
