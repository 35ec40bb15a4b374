// Package conductorclient asks the Batch Conductor for a pipeline's
// phases (GET /v1/pipelines/{name}). The Batch Orchestrator uses it.
//
// The http.Client is injected: in the services it carries a breaker
// transport (resilience.Transport, registered as
// "batch_orchestrator_service.batch_conductor"), so while the conductor is
// down Resolve fails fast with an error for which errors.Is(err,
// resilience.ErrCircuitOpen) holds, and errors.As finds the
// *resilience.OpenError with the time a retry may succeed.
//
//	client, err := conductorclient.New(httpClient, "http://127.0.0.1:8085")
//	phases, err := client.Resolve(ctx, "full")
//	switch {
//	case errors.Is(err, conductorclient.ErrUnknownPipeline): // the client asked for nonsense
//	case errors.Is(err, resilience.ErrCircuitOpen):           // fail fast: 503 + Retry-After
//	}
package conductorclient
