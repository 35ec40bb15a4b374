package servicekit

import (
	"os/exec"
	"strings"
	"testing"
)

// fakeBrokerAllowed are the packages that may link franz-go's kfake: the
// command line (serve all, huleedu kafka, the drill), the drill itself,
// the public embedded cluster, and test harnesses.
var fakeBrokerAllowed = []string{
	"github.com/huleedu/huleedu/cmd/",
	"github.com/huleedu/huleedu/embeddedkafka",
	"github.com/huleedu/huleedu/internal/",
}

// TestNoProductionPackageLinksTheFakeBroker guards the layering: a
// service binary built from servicekit and the services must not carry a
// fake Kafka broker. Only the command line and test code may.
func TestNoProductionPackageLinksTheFakeBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/huleedu/huleedu/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var offenders []string
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(pkg, "github.com/huleedu/huleedu") || allowedFakeBroker(pkg) {
			continue
		}
		if strings.Contains(" "+deps+" ", " github.com/twmb/franz-go/pkg/kfake ") {
			offenders = append(offenders, pkg)
		}
	}
	if len(offenders) > 0 {
		t.Fatalf("production packages link franz-go's kfake (move what imports it to cmd/huleedu or a test):\n%s", strings.Join(offenders, "\n"))
	}
}

func allowedFakeBroker(pkg string) bool {
	for _, p := range fakeBrokerAllowed {
		if strings.HasPrefix(pkg, p) {
			return true
		}
	}
	return false
}
