package promtest_test

import (
	"fmt"

	"github.com/huleedu/huleedu/internal/promtest"
)

// A production rule made 60 times faster for a test: its for: and its
// range window shrink, its threshold (not a duration) stays.
func ExampleRewriteRules() {
	rules := []byte(`groups:
  - name: huleedu-resilience
    rules:
      - alert: FallbackQueueGrowing
        expr: kafka_fallback_queue_depth > 0 and deriv(kafka_fallback_queue_depth[5m]) > 0
        for: 5m
`)
	out, err := promtest.RewriteRules(rules, promtest.RuleRewrite{TimeScale: 60})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// groups:
	//     - name: huleedu-resilience
	//       rules:
	//         - alert: FallbackQueueGrowing
	//           expr: kafka_fallback_queue_depth > 0 and deriv(kafka_fallback_queue_depth[5s]) > 0
	//           for: 5s
}
