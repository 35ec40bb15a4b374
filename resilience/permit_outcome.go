package resilience

// ReportOutcome is Report for a caller that has already classified the
// result itself, bypassing Settings.Classify. kafkabus uses it to keep a
// record that Kafka rejected for good (too large, unauthorized) out of the
// breaker's input: that is OutcomeIgnore whatever the breaker's classifier
// would say about the error. Like Report, only the first report counts.
func (p *Permit) ReportOutcome(o Outcome) bool {
	if p == nil || !p.done.CompareAndSwap(false, true) {
		return false
	}
	if p.stop != nil {
		p.stop()
	}
	p.cb.record(p.t, o, nil)
	return true
}
