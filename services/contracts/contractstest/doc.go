// Package contractstest provides test helpers for the services: Bus, a
// kafkabus.Bus that records what is published and fails on demand, and
// Redeliver, which feeds recorded envelopes to handlers the way a consumer
// would.
//
//	bus := contractstest.NewBus()
//	svc, _ := fileservice.New(fileservice.Config{}, fileservice.Deps{Bus: bus})
//	// ... exercise svc ...
//	provisioned := contractstest.Payloads[contracts.EssayContentProvisionedV1](t, bus, event.TypeEssayContentProvisionedV1)
//
//	bus.FailNext(3, errors.New("kafka down")) // the next three publishes fail
package contractstest
