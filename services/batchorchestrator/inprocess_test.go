package batchorchestrator_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/batchconductor/conductorclient"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/essaylifecycle"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/services/llmprovider/llmtest"
	"github.com/huleedu/huleedu/services/spellchecker"
)

// platform is every service in one process, connected by a Router instead
// of Kafka: the domain logic of the whole pipeline, without the transport.
type platform struct {
	bus    *contractstest.Bus
	router *contractstest.Router
	bos    *batchorchestrator.Service
	bosMux *http.ServeMux
	els    *essaylifecycle.Service
	files  *httptest.Server
}

func newPlatform(t *testing.T, duplicates int) *platform {
	t.Helper()
	p := &platform{bus: contractstest.NewBus()}
	p.router = contractstest.NewRouter(p.bus)
	p.router.Duplicates = duplicates

	fs, err := fileservice.New(fileservice.Config{}, fileservice.Deps{Bus: p.bus})
	if err != nil {
		t.Fatal(err)
	}
	fmux := http.NewServeMux()
	fs.Routes(fmux)
	p.files = httptest.NewServer(fmux)
	t.Cleanup(p.files.Close)
	content, err := contentclient.New(p.files.Client(), p.files.URL)
	if err != nil {
		t.Fatal(err)
	}

	cond := newConductor(t)
	cc, err := conductorclient.New(cond.Client(), cond.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.bos, err = batchorchestrator.New(batchorchestrator.Config{}, batchorchestrator.Deps{Bus: p.bus, Conductor: cc}); err != nil {
		t.Fatal(err)
	}
	p.bosMux = http.NewServeMux()
	p.bos.Routes(p.bosMux)
	if p.els, err = essaylifecycle.New(essaylifecycle.Deps{Bus: p.bus}); err != nil {
		t.Fatal(err)
	}
	sc, err := spellchecker.New(spellchecker.Deps{Bus: p.bus, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	cj, err := cjassessment.New(cjassessment.Config{}, cjassessment.Deps{Bus: p.bus, Content: content, Comparisons: llmtest.NewComparer(p.bus)})
	if err != nil {
		t.Fatal(err)
	}
	p.router.Subscribe("batch_orchestrator_service", p.bos.Handlers())
	p.router.Subscribe("essay_lifecycle_service", p.els.Handlers())
	p.router.Subscribe("spellchecker_service", sc.Handlers())
	p.router.Subscribe("cj_assessment_service", cj.Handlers())
	return p
}

func (p *platform) upload(t *testing.T, batchID string, essays []string) {
	t.Helper()
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	_ = form.WriteField("batch_id", batchID)
	for i, text := range essays {
		w, _ := form.CreateFormFile("files", fmt.Sprintf("essay-%02d.txt", i))
		_, _ = w.Write([]byte(text))
	}
	_ = form.Close()
	resp, err := p.files.Client().Post(p.files.URL+"/v1/files/batch", form.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
}

// essays returns n essays of growing length, some with misspellings.
func essays(n int) []string {
	sentences := []string{
		"Forests shelter wildlife and regulate the climate.",
		"Teh rivers carve valleys through ancient mountains.",
		"Students recieve feedback on every essay they write.",
		"Libraries keep knowledge safe for future generations.",
		"Good arguments need evidence and careful reasoning.",
	}
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Join(sentences[:1+i%len(sentences)], " ") + strings.Repeat(" Trees grow slowly.", i)
	}
	return out
}

func TestWholePipelineInProcess(t *testing.T) {
	for _, duplicates := range []int{0, 1} {
		t.Run(fmt.Sprintf("%d duplicate deliveries", duplicates), func(t *testing.T) {
			p := newPlatform(t, duplicates)
			// The files are uploaded before the batch is registered, so ELS
			// sees the content first and must keep it until the registration.
			p.upload(t, "b-10", essays(10))
			req := httptest.NewRequest(http.MethodPost, "/v1/batches",
				strings.NewReader(`{"batch_id":"b-10","essay_count":10,"course_code":"ENG5"}`))
			rec := httptest.NewRecorder()
			p.bosMux.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("register: %d %s", rec.Code, rec.Body)
			}
			if _, err := p.router.Run(context.Background()); err != nil {
				t.Fatal(err)
			}

			for _, typ := range []string{event.TypeBatchEssaysReady, event.TypeBatchSpellcheckRequested,
				event.TypeBatchCJAssessmentRequested, event.TypeBatchPipelineCompletedV1} {
				if n := p.bus.Count(typ); n != 1 {
					t.Errorf("%s published %d times, want once", typ, n)
				}
			}
			ids := map[string]bool{}
			for _, e := range p.bus.Envelopes(contracts.TypeELSBatchPhaseOutcomeV1) {
				ids[e.EventID.String()] = true
			}
			if len(ids) != 2 {
				t.Errorf("%d distinct phase outcomes, want 2 (spellcheck, cj_assessment)", len(ids))
			}

			done := contractstest.Payloads[contracts.BatchPipelineCompletedV1](t, p.bus, event.TypeBatchPipelineCompletedV1)[0]
			if done.FinalStatus != contracts.StatusCompletedSuccessfully || done.SuccessfulEssayCount != 10 {
				t.Errorf("completion = %+v", done)
			}
			st, err := p.els.Batch(context.Background(), "b-10")
			if err != nil {
				t.Fatal(err)
			}
			ranks := map[int]bool{}
			misspelt := 0
			for _, e := range st.Essays {
				if e.State != essaylifecycle.StateRanked || e.Spellcheck == nil {
					t.Errorf("essay %s: state %s, spellcheck %v", e.EssayID, e.State, e.Spellcheck)
					continue
				}
				ranks[e.Rank] = true
				misspelt += e.Spellcheck.ErrorCount
			}
			if len(ranks) != 10 {
				t.Errorf("ranks %v, want 1..10 once each", ranks)
			}
			// Essay i holds the first 1+i%5 sentences: "Teh" is in 8 essays,
			// "recieve" in 6.
			if misspelt != 14 {
				t.Errorf("spellchecker found %d misspellings, want 14", misspelt)
			}
			b, _ := p.bos.Batch(context.Background(), "b-10")
			if b.Status != batchorchestrator.StatusCompletedSuccessfully {
				t.Errorf("BOS status %s", b.Status)
			}
		})
	}
}
