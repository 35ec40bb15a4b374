package observability

import (
	"net/url"
	"slices"
	"testing"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/internal/platformtest"
)

// platformEnv overrides the harness's breaker timing: the Kafka breaker
// probes again after 1s, so during an outage it spends most of its time
// open, as Prometheus sees it.
var platformEnv = []string{"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=1s"}

// startPlatform starts every service of `huleedu serve all` on a cluster
// the test owns (platformtest.Start), with env added to platformEnv.
// module, when not nil, adds to each service's module (a decoration, say).
func startPlatform(t *testing.T, module func(service string) fx.Option, env ...string) *platformtest.Platform {
	t.Helper()
	return platformtest.Start(t, platformtest.Options{Env: append(slices.Clip(platformEnv), env...), Module: module})
}

// adminTargets returns every service's admin server as host:port, for
// Prometheus to scrape, and the service each one belongs to.
func adminTargets(t *testing.T, p *platformtest.Platform) (targets []string, services map[string]string) {
	t.Helper()
	services = map[string]string{}
	for _, a := range p.Apps() {
		u, err := url.Parse(a.Endpoints().Admin)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, u.Host)
		services[u.Host] = a.Service()
	}
	return targets, services
}
