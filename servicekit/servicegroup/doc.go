// Package servicegroup runs several HuleEdu services in one process, each
// its own servicekit.App with its own settings, breakers, metrics and
// ports: what `huleedu serve all` and the end-to-end tests use.
//
// # Guarantees
//
//   - Start starts services after the services they call
//     (ServiceSpec.DependencyURLs) and gives each the API address of its
//     dependencies, unless the environment configures one; a dependency
//     cycle, a duplicate or a nameless spec is an error before anything
//     starts.
//   - A start that fails stops what was started, in reverse order, within
//     the longest SHUTDOWN_TIMEOUT: nothing keeps running.
//   - Stop stops services in reverse start order, so callers stop before
//     the services they call; each stops gracefully (see servicekit.Runner).
//   - Run stops the group on SIGINT, SIGTERM, the end of its context, or
//     the first service whose server fails, and returns that failure.
//
// # Usage
//
//	specs := []servicekit.ServiceSpec{fileservice.Spec(), spellchecker.Spec()}
//	err := servicegroup.Run(ctx, specs, servicegroup.RunOptions{}) // until SIGTERM
//
//	g, err := servicegroup.Start(ctx, os.Environ(), specs) // in tests
//	defer g.Stop(stopCtx)
//	file, _ := g.App("file_service")
//	api := file.Endpoints().API
package servicegroup
