package platform

import (
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/classmgmt"
	"github.com/huleedu/huleedu/services/essaylifecycle"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/llmprovider"
	"github.com/huleedu/huleedu/services/spellchecker"
)

// Specs returns the platform's services. The order is part of the
// contract: `huleedu serve all` gives the i-th service (from 0) ports
// 7001+i and 9001+i, which the README's examples use; new services go at
// the end so the others keep their ports. StartAll still starts each
// service after the ones it calls (CJ Assessment after the LLM Provider).
func Specs() []servicekit.ServiceSpec {
	return []servicekit.ServiceSpec{
		fileservice.Spec(),
		classmgmt.Spec(),
		batchorchestrator.Spec(),
		batchconductor.Spec(),
		essaylifecycle.Spec(),
		spellchecker.Spec(),
		cjassessment.Spec(),
		llmprovider.Spec(),
	}
}
