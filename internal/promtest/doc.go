// Package promtest runs a real Prometheus server for tests: it scrapes
// loopback targets, evaluates the project's alert rules, and answers
// queries through its HTTP API, so alerting is proven against Prometheus
// itself rather than by reading YAML.
//
// Guarantees:
//
//   - Start finds the prometheus binary (Config.Binary, $PROMETHEUS_BINARY,
//     then $PATH). When it is missing the test is skipped with a message
//     saying how to install it, except in CI (CI set and not "false" or "0"),
//     where a missing binary fails the test: CI installs it with
//     scripts/promtool.sh, so a skip there would hide a broken setup.
//   - The server listens on 127.0.0.1 on a free port, keeps its
//     configuration, rules and TSDB in t.TempDir(), and is stopped (SIGTERM,
//     then SIGKILL after 10 s) in t.Cleanup. It never touches :9090 or the
//     system's Prometheus. When the test fails, its log is printed.
//   - Start returns only once /-/ready answers 200, or fails the test with
//     Prometheus's log when it exits or is not ready in time.
//   - Production rules run unchanged but faster with Config.TimeScale:
//     every for: duration and every range window in the rule files is
//     divided by it (rate(x[5m]) becomes rate(x[3s]) at TimeScale 100),
//     never below four scrape intervals for a range, so rate and deriv
//     still see several samples. Config.RuleOverrides replaces a rule's
//     expression, for thresholds that are not durations
//     (kafka_fallback_oldest_age_seconds > 300). RewriteRules does the same
//     to one file's bytes.
//
// Usage:
//
//	func TestQueueGrowingAlertFires(t *testing.T) {
//		srv := promtest.Start(t, promtest.Config{
//			ScrapeTargets:  []string{adminAddr}, // host:port serving /metrics
//			RuleFiles:      []string{"../../deploy/prometheus/alerts.yml"},
//			ScrapeInterval: 200 * time.Millisecond,
//			TimeScale:      100, // for: 5m -> 3s
//		})
//		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
//		defer cancel()
//		a, err := srv.WaitForAlert(ctx, "FallbackQueueGrowing", promtest.AlertFiring)
//		...
//	}
package promtest
