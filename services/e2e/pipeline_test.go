package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/spellchecker"
)

const (
	essays = 10
	// minOutage is the least time Kafka stays cut.
	minOutage = 3 * time.Second
	// completeWithin bounds the pipeline after Kafka is back.
	completeWithin = 45 * time.Second
)

// Every service with a database publishes through its outbox (the
// default): during the outage the Spellchecker's results wait in its
// outbox table, its relay's breaker opens, and after the heal the relay
// delivers them.
func TestBatchCompletesThroughKafkaOutage(t *testing.T) {
	p := startPlatform(t, nil, spellchecker.ServiceName)
	batchID, cutAt := p.cutMidPipeline(essays)
	spell := p.App(spellchecker.ServiceName)
	platformtest.WaitFor(t, 20*time.Second, "a spellcheck result waiting in the outbox during the outage", func() bool {
		return outboxPending(t, spell) > 0
	})
	waiting := outboxPending(t, spell)
	p.healAt(cutAt.Add(minOutage))

	b := p.WaitCompleted(batchID, completeWithin)
	t.Logf("batch completed %v after Kafka came back; %d results had waited in the Spellchecker's outbox",
		time.Since(cutAt.Add(minOutage)).Round(time.Millisecond), waiting)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	if n := outboxPending(t, spell); n != 0 {
		t.Errorf("%d events still in the Spellchecker's outbox, want none", n)
	}
	assertBreakerOpenedAndClosed(t, spell, spellchecker.ServiceName+".kafka_producer")
}

// The same outage with the services on the ResilientBus's memory queue
// (KAFKA_FALLBACK_MODE=memory, which a service with a database accepts
// instead of its outbox): the results are spooled and replayed.
func TestBatchCompletesThroughKafkaOutageOnTheMemoryQueue(t *testing.T) {
	p := startPlatform(t, []string{"KAFKA_FALLBACK_MODE=memory"}, spellchecker.ServiceName)
	batchID, cutAt := p.cutMidPipeline(essays)
	spell := resilientBus(t, p.App(spellchecker.ServiceName))
	platformtest.WaitFor(t, 20*time.Second, "a spellcheck result spooled during the outage", func() bool { return spell.Stats().Spooled > 0 })
	p.healAt(cutAt.Add(minOutage))

	b := p.WaitCompleted(batchID, completeWithin)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	if st := spell.Stats(); st.Replayed < st.Spooled || st.Queue.Records != 0 {
		t.Errorf("spellchecker bus %+v: every spooled record must have been replayed", st)
	}
	assertBreakerOpenedAndClosed(t, p.App(spellchecker.ServiceName), spellchecker.ServiceName+".kafka_producer")
}

// assertPipelineCompleted checks the orchestrator's and Essay Lifecycle's
// view of a finished batch: both phases ran once, every essay was
// spellchecked and ranked.
func assertPipelineCompleted(t *testing.T, p *platform, batchID string, b batchorchestrator.Batch) {
	t.Helper()
	if b.Status != batchorchestrator.StatusCompletedSuccessfully {
		t.Errorf("batch status %s, want %s (failed essays %v)", b.Status, batchorchestrator.StatusCompletedSuccessfully, b.FailedEssayIDs)
	}
	var phases []string
	for _, r := range b.PhaseResults {
		phases = append(phases, r.Phase)
		if r.ProcessedCount != essays || r.FailedCount != 0 {
			t.Errorf("phase %s processed %d, failed %d; want %d and 0", r.Phase, r.ProcessedCount, r.FailedCount, essays)
		}
	}
	if want := []string{contracts.PhaseSpellcheck, contracts.PhaseCJAssessment}; !slices.Equal(phases, want) {
		t.Errorf("phase results %v, want each of %v once", phases, want)
	}

	st := p.essays(batchID)
	if len(st.Essays) != essays {
		t.Fatalf("Essay Lifecycle has %d essays, want %d", len(st.Essays), essays)
	}
	ranks := map[int]bool{}
	for _, e := range st.Essays {
		if e.Spellcheck == nil {
			t.Errorf("essay %s has no spellcheck result", e.EssayID)
		}
		if e.Rank < 1 || e.Rank > essays || ranks[e.Rank] {
			t.Errorf("essay %s has rank %d; want distinct ranks 1..%d", e.EssayID, e.Rank, essays)
		}
		ranks[e.Rank] = true
	}

	events := p.topicEvents()
	for topic, want := range map[string]int{
		event.TopicBatchSpellcheckRequested:       1,
		event.TopicBatchCJAssessmentRequested:     1,
		event.TopicBatchPipelineCompletedV1:       1,
		event.TopicSpellcheckCompletedV1:          essays,
		event.TopicCJAssessmentCompletedV1:        1,
		contracts.TopicEssaySpellcheckRequestedV1: essays,
	} {
		if got := len(events[topic]); got != want {
			t.Errorf("%s holds %d distinct events, want %d (each side effect once)", topic, got, want)
		}
	}
	dups := 0
	for topic, ids := range events {
		for _, n := range ids {
			dups += n - 1
		}
		if strings.HasSuffix(topic, ".dlq") && len(ids) > 0 {
			t.Errorf("dead-letter topic %s holds %d events", topic, len(ids))
		}
	}
	t.Logf("duplicate records in Kafka (same event_id twice, dropped by consumers): %d", dups)
}

// assertAcceptedEventsInKafka checks that every event a service's bus
// accepted is in its topic.
func assertAcceptedEventsInKafka(t *testing.T, p *platform) {
	t.Helper()
	inKafka := p.topicEvents()
	total := 0
	for topic, ids := range p.accepted.snapshot() {
		for id, service := range ids {
			total++
			if inKafka[topic][id] == 0 {
				t.Errorf("event %s that %s published to %s was accepted but is not in Kafka", id, service, topic)
			}
		}
	}
	t.Logf("%d accepted events, all checked in Kafka", total)
}

// assertBreakerOpenedAndClosed checks that the outage opened the breaker
// and that it is closed again.
func assertBreakerOpenedAndClosed(t *testing.T, a *servicekit.App, name string) {
	t.Helper()
	for _, s := range a.Runner().CircuitBreakers().Breakers {
		if s.Name != name {
			continue
		}
		opened := uint64(0)
		for _, tr := range s.Transitions {
			if tr.To == resilience.StateOpen {
				opened += tr.Count
			}
		}
		if opened == 0 || s.State != resilience.StateClosed {
			t.Errorf("breaker %s: opened %d times, now %s; want it opened by the outage and closed again", name, opened, s.State)
		}
		return
	}
	t.Errorf("no breaker %s", name)
}

// resilientBus returns the app's ResilientBus.
func resilientBus(t *testing.T, a *servicekit.App) *kafkabus.ResilientBus {
	t.Helper()
	rb := a.Runner().Kafka().Resilient
	if rb == nil {
		t.Fatalf("%s has no ResilientBus", a.Service())
	}
	return rb
}
