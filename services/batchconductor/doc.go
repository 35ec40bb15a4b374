// Package batchconductor is HuleEdu's Batch Conductor: a small HTTP
// service that resolves a requested pipeline ("full") into the ordered
// phases the Batch Orchestrator must run ([spellcheck, cj_assessment]).
//
// A Catalog declares phases with their dependencies and pipelines as
// target phases; resolving adds every dependency, each phase after the
// ones it needs. NewCatalog rejects unknown phases and dependency cycles,
// so a catalog that exists resolves every pipeline.
//
// The Batch Orchestrator calls it through a circuit breaker (package
// conductorclient): this is the platform's reference integration of an
// HTTP dependency behind a breaker.
//
// The conductor is stateless; it has no persistence.
//
// Usage:
//
//	svc := batchconductor.New(batchconductor.Deps{})
//	mux := http.NewServeMux()
//	svc.Routes(mux)
//	// GET /v1/pipelines/full -> {"pipeline":"full","phases":["spellcheck","cj_assessment"]}
package batchconductor
