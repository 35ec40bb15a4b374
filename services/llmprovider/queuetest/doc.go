// Package queuetest is the conformance suite of llmprovider.Queue: every
// implementation (the in-memory queue now, a SQL table later) runs the
// same tests, so the service can rely on one contract.
//
// Usage, in the implementation's tests:
//
//	func TestSQLQueueConformance(t *testing.T) {
//		queuetest.Run(t, queuetest.Factory{
//			New:    func(t testing.TB, l queuetest.Limits) llmprovider.Queue { return openSQLQueue(t, dsn, l) },
//			Reopen: func(t testing.TB, q llmprovider.Queue) llmprovider.Queue { return reopenSQLQueue(t, q) },
//		})
//	}
package queuetest
